#include "hls/master.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "hls/playlist.hpp"

namespace relay::hls {

std::string add_audio_group(const std::string& master, const AudioGroup& group) {
  std::string media;
  for (size_t i = 0; i < group.tracks.size(); ++i) {
    const AudioTrack& t = group.tracks[i];
    media += fmt::format("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{}\"", group.id);
    if (!t.language.empty()) media += fmt::format(",LANGUAGE=\"{}\"", t.language);
    media += fmt::format(",NAME=\"{}\",AUTOSELECT=YES,DEFAULT={}", t.name, i == 0 ? "YES" : "NO");
    if (!t.uri.empty()) media += fmt::format(",URI=\"{}\"", t.uri);
    media += "\n";
  }
  std::string out;
  size_t pos = 0;
  bool placed = false;
  while (pos < master.size()) {
    size_t end = master.find('\n', pos);
    if (end == std::string::npos) end = master.size();
    std::string_view line(master.data() + pos, end - pos);
    // EXT-X-MEDIA goes before the first variant (or the steering tag that heads them).
    if (!placed && (line.starts_with("#EXT-X-STREAM-INF:") || line.starts_with("#EXT-X-CONTENT-STEERING:"))) {
      out += media;
      placed = true;
    }
    out += line;
    if (line.starts_with("#EXT-X-STREAM-INF:")) out += fmt::format(",AUDIO=\"{}\"", group.id);
    out += '\n';
    pos = end + 1;
  }
  if (!placed) out += media;
  return out;
}

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

void MasterPlaylist::set_audio_group(AudioGroup group) {
  std::lock_guard lock(mutex_);
  audio_ = std::move(group);
  republish_locked();
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
  if (audio_) {
    // A player may add the largest interpreter track to any variant (its muxed
    // floor sound is then dropped, but BANDWIDTH bounds every combination).
    uint64_t extra = 0;
    for (const auto& t : audio_->tracks) extra = std::max(extra, t.peak_bps);
    for (auto& v : variants) {
      v.bandwidth_bps += extra;
      v.average_bandwidth_bps += extra;
      if (v.codecs.find(audio_->codecs) == std::string::npos) v.codecs += "," + audio_->codecs;
    }
  }
  auto text = write_master_playlist(variants, steering_ ? &*steering_ : nullptr);
  if (audio_) text = add_audio_group(text, *audio_);
  store_.set_master(make_bytes(with_subtitles(std::move(text), subtitles_)));
}

}  // namespace relay::hls
