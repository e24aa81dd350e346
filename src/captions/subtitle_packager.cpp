#include "captions/subtitle_packager.hpp"

#include <algorithm>
#include <cmath>

#include "captions/webvtt.hpp"
#include "common/clock.hpp"
#include "hls/playlist.hpp"

namespace relay::captions {

namespace {
constexpr std::string_view kExtension = "vtt";

int64_t end_of(int64_t pdt_epoch_ms, double duration_s) {
  return pdt_epoch_ms + static_cast<int64_t>(std::llround(duration_s * 1000.0));
}

// Where the reference's listed media ends: nothing before it can change.
int64_t newest_end(const hls::RenditionSnapshot& s) {
  if (!s.open_parts.empty()) return end_of(s.open_parts.back().pdt_epoch_ms, s.open_parts.back().duration_s);
  if (auto it = s.segments.find(s.last_msn); it != s.segments.end() && it->second)
    return end_of(it->second->pdt_epoch_ms, it->second->duration_s);
  return 0;
}
}  // namespace

std::string subtitle_rendition_name(std::string_view language_code) {
  return "subs-" + std::string(language_code);
}

std::vector<std::string> subtitle_rendition_names(const std::vector<Language>& languages) {
  std::vector<std::string> names;
  for (const auto& l : languages) names.push_back(subtitle_rendition_name(l.code));
  return names;
}

SubtitlePackager::SubtitlePackager(CueStore& cues, hls::Store& subtitles)
    : cues_(cues), subtitles_(subtitles), tracks_(cues.languages().size()) {}

hls::Part SubtitlePackager::make_part(size_t language, const hls::Part& video) const {
  hls::Part part;
  part.msn = video.msn;
  part.index = video.index;
  part.duration_s = video.duration_s;
  part.independent = true;  // every subtitle file stands alone
  part.pdt_epoch_ms = video.pdt_epoch_ms;
  part.media_time_90k = video.media_time_90k;
  SubtitleSpan span{video.pdt_epoch_ms, end_of(video.pdt_epoch_ms, video.duration_s), video.media_time_90k};
  part.data = hls::make_bytes(write_webvtt(span, cues_.overlapping(language, span.start_epoch_ms, span.end_epoch_ms)));
  return part;
}

std::shared_ptr<const hls::Segment> SubtitlePackager::make_segment(size_t language, const hls::Segment& video,
                                                                   const Track& track) const {
  auto seg = std::make_shared<hls::Segment>();
  seg->msn = video.msn;
  seg->duration_s = video.duration_s;
  seg->pdt_epoch_ms = video.pdt_epoch_ms;
  seg->media_time_90k = video.media_time_90k;
  seg->discontinuity = video.discontinuity;
  SubtitleSpan span{video.pdt_epoch_ms, end_of(video.pdt_epoch_ms, video.duration_s), video.media_time_90k};
  seg->data = hls::make_bytes(write_webvtt(span, cues_.overlapping(language, span.start_epoch_ms, span.end_epoch_ms)));
  // The parts already served while the segment was open keep their bytes; the
  // rest (a segment never seen open) are made now.
  for (const auto& video_part : video.parts) {
    if (track.open_msn == video.msn && video_part.index < track.open_parts.size())
      seg->parts.push_back(track.open_parts[video_part.index]);
    else
      seg->parts.push_back(make_part(language, video_part));
  }
  return seg;
}

void SubtitlePackager::follow(const hls::RenditionSnapshot& reference) {
  if (!reference.playlist) return;
  std::lock_guard lock(mutex_);
  // First the frontier, then the files: a line posted from now on lands after
  // what these files cover, and the cues they read can no longer change.
  cues_.publish_until(newest_end(reference));
  for (size_t language = 0; language < tracks_.size(); ++language) follow_track(language, reference);
}

void SubtitlePackager::follow_track(size_t language, const hls::RenditionSnapshot& reference) {
  Track& track = tracks_[language];
  // New complete segments, oldest first.
  const uint64_t newest_known = track.segments.empty() ? 0 : track.segments.back()->msn;
  for (auto it = reference.segments.upper_bound(newest_known); it != reference.segments.end(); ++it) {
    if (!it->second) continue;
    track.segments.push_back(make_segment(language, *it->second, track));
    if (track.open_msn == it->first) {
      track.open_msn = 0;
      track.open_parts.clear();
    }
  }
  // Whatever the reference no longer retains goes here too.
  const uint64_t oldest = reference.segments.empty() ? 0 : reference.segments.begin()->first;
  while (!track.segments.empty() && track.segments.front()->msn < oldest) track.segments.pop_front();

  if (reference.open_msn != track.open_msn) {
    track.open_msn = reference.open_msn;
    track.open_parts.clear();
  }
  for (size_t i = track.open_parts.size(); i < reference.open_parts.size(); ++i)
    track.open_parts.push_back(make_part(language, reference.open_parts[i]));

  auto snap = std::make_shared<hls::RenditionSnapshot>();
  snap->name = subtitles_.names()[language];
  snap->version = ++track.version;
  snap->instance = reference.instance;
  snap->segment_extension = std::string(kExtension);
  snap->target_duration_s = reference.target_duration_s;
  snap->first_listed_msn = reference.first_listed_msn;
  snap->discontinuity_sequence = reference.discontinuity_sequence;
  snap->last_msn = reference.last_msn;
  snap->part_target_s = reference.part_target_s;
  snap->open_msn = track.open_msn;
  snap->open_parts = track.open_parts;
  snap->last_part_msn = reference.last_part_msn;
  snap->last_part_index = reference.last_part_index;
  snap->hint_msn = reference.hint_msn;
  snap->hint_index = reference.hint_index;
  for (const auto& s : track.segments) snap->segments.emplace(s->msn, s);
  snap->last_segment_epoch_ms = now_epoch_ms();
  snap->last_segment_duration_s = track.segments.empty() ? 0 : track.segments.back()->duration_s;

  hls::MediaPlaylistView view;
  view.target_duration_s = reference.target_duration_s;
  view.instance = reference.instance;
  view.segment_extension = std::string(kExtension);
  view.part_extension = std::string(kExtension);
  view.discontinuity_sequence = reference.discontinuity_sequence;
  for (const auto& s : track.segments)
    if (s->msn >= reference.first_listed_msn) view.segments.push_back(s);
  if (reference.part_target_s > 0) {
    view.low_latency = hls::LowLatency{reference.part_target_s};
    view.open_msn = track.open_msn;
    view.open_parts = track.open_parts;
    if (!track.open_parts.empty()) {
      view.open_pdt_epoch_ms = track.open_parts.front().pdt_epoch_ms;
      view.open_discontinuity = reference.open_discontinuity;
    }
    view.hint_msn = reference.hint_msn;
    view.hint_index = reference.hint_index;
    if (hls::skippable_segments(view) > 0) {
      view.delta = true;
      snap->playlist_delta = hls::make_bytes(hls::write_media_playlist(view));
      view.delta = false;
    }
  }
  if (view.segments.empty()) return;
  snap->playlist = hls::make_bytes(hls::write_media_playlist(view));
  subtitles_.publish(language, std::move(snap));
}

}  // namespace relay::captions
