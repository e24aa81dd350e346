#include "hls/master.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "hls/playlist.hpp"

namespace relay::hls {

uint64_t bandwidth_bound_bps(const VariantSpec& spec) {
  double d = std::max(spec.segment_duration_s, 0.1);
  double video = spec.bitrate_kbps * 1000.0 * (d + spec.vbv_buffer_s) / d;
  double audio = spec.audio_bitrate_kbps * 1000.0 * 1.1;  // AAC ABR runs a little over target
  double boxes = 64'000.0;  // moof/mdat headers per fragment and track, with margin
  return static_cast<uint64_t>(std::ceil((video + audio) * 1.02 + boxes));
}

MasterPlaylist::MasterPlaylist(std::vector<VariantSpec> specs, Store& store, std::optional<ContentSteering> steering)
    : store_(store), steering_(std::move(steering)) {
  for (auto& s : specs) {
    Entry e;
    e.spec = std::move(s);
    e.frame_rate = e.spec.frame_rate;
    entries_.push_back(std::move(e));
  }
}

void MasterPlaylist::set_stream_info(size_t rendition, int width, int height, std::string codecs) {
  std::lock_guard lock(mutex_);
  auto& e = entries_.at(rendition);
  e.width = width;
  e.height = height;
  e.codecs = std::move(codecs);
  republish_locked();
}

void MasterPlaylist::add_segment(size_t rendition, size_t bytes, double duration_s, double frame_rate) {
  if (duration_s <= 0) return;
  std::lock_guard lock(mutex_);
  auto& e = entries_.at(rendition);
  e.peak_bps = std::max<uint64_t>(e.peak_bps, static_cast<uint64_t>(std::ceil(bytes * 8.0 / duration_s)));
  e.total_bytes += bytes;
  e.total_seconds += duration_s;
  e.frame_rate = frame_rate;
  republish_locked();
}

void MasterPlaylist::set_subtitles(std::vector<SubtitleRendition> subtitles) {
  std::lock_guard lock(mutex_);
  subtitles_ = std::move(subtitles);
}

std::string with_subtitles(std::string master, const std::vector<SubtitleRendition>& subtitles) {
  if (subtitles.empty()) return master;
  constexpr std::string_view kVariant = "#EXT-X-STREAM-INF:";
  std::string media;
  for (const auto& s : subtitles) {
    // AUTOSELECT lets a player pick the viewer's language when captions are
    // switched on; DEFAULT=NO leaves them off until then (they are not forced).
    media += fmt::format(
        "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{}\",LANGUAGE=\"{}\",NAME=\"{}\",AUTOSELECT=YES,DEFAULT=NO,"
        "FORCED=NO,URI=\"{}\"\n",
        kSubtitleGroup, s.language, s.name, s.uri);
  }
  std::string out;
  out.reserve(master.size() + media.size() + 64);
  size_t pos = 0;
  bool listed = false;
  while (pos < master.size()) {
    size_t end = master.find('\n', pos);
    if (end == std::string::npos) end = master.size();
    std::string_view line(master.data() + pos, end - pos);
    if (line.starts_with(kVariant)) {
      if (!listed) out += media;
      listed = true;
      out.append(line);
      out += fmt::format(",SUBTITLES=\"{}\"", kSubtitleGroup);
    } else {
      out.append(line);
    }
    out += '\n';
    pos = end + 1;
  }
  return out;
}

uint64_t MasterPlaylist::peak_bps(size_t rendition) const {
  std::lock_guard lock(mutex_);
  return entries_.at(rendition).peak_bps;
}

void MasterPlaylist::republish_locked() {
  // Players read the master once, so it is only offered when every rendition is
  // described: a partial ladder would stick for the whole session.
  std::vector<Variant> variants;
  for (const auto& e : entries_) {
    if (e.codecs.empty()) return;
    Variant v;
    v.uri = e.spec.name + "/index.m3u8";
    v.bandwidth_bps = std::max(bandwidth_bound_bps(e.spec), e.peak_bps);
    double nominal = (e.spec.bitrate_kbps + e.spec.audio_bitrate_kbps) * 1000.0;
    v.average_bandwidth_bps = e.total_seconds > 0
                                  ? static_cast<uint64_t>(std::ceil(e.total_bytes * 8.0 / e.total_seconds))
                                  : static_cast<uint64_t>(nominal);
    v.average_bandwidth_bps = std::min(v.average_bandwidth_bps, v.bandwidth_bps);
    v.width = e.width;
    v.height = e.height;
    v.frame_rate = e.frame_rate;
    v.codecs = e.codecs;
    v.stable_id = e.spec.name;
    variants.push_back(std::move(v));
  }
  store_.set_master(
      make_bytes(with_subtitles(write_master_playlist(variants, steering_ ? &*steering_ : nullptr), subtitles_)));
}

}  // namespace relay::hls
