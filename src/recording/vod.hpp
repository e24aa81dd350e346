#pragma once
// Video on demand from a recorded event (docs/vod.md): which recorded segments
// make up a talk, and the VOD playlists, master and chapters that present them.
// Plain C++ over an EventIndex (journal.hpp), without I/O, so every cut and
// every line of text is tested directly.
//
// Cuts follow segment boundaries: a talk's presentation is every segment of a
// rendition whose [pdt, pdt + duration) overlaps the talk's [start, end), so it
// starts up to one segment early and ends up to one segment late, and no
// segment is ever re-encoded or split.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "recording/journal.hpp"

namespace relay::recording {

// A talk as the journal's marks place it: both marks, end after start.
struct TalkSpan {
  std::string id;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

// The talk's span, or nullopt while it lacks either mark (not started, or still
// on stage): such a talk has no VOD yet.
std::optional<TalkSpan> talk_span(const EventIndex& index, std::string_view talk_id);

// The segments of `rendition` that overlap [start_ms, end_ms), in order.
std::vector<const SegmentEntry*> cut_segments(const EventIndex& index, std::string_view rendition, int64_t start_ms,
                                              int64_t end_ms);

// Subtitle renditions carry WebVTT segments and no init section.
bool is_subtitle_segment(const SegmentEntry& segment);

// The rendition whose timeline the chapters and durations are measured on: the
// first one with an init section (video before audio in the live master's order,
// which is the journal's), or the first of all when there is none.
std::optional<std::string> reference_rendition(const EventIndex& index);

// Sum of the segments' durations: what a player shows as the presentation's length.
double total_duration_s(const std::vector<const SegmentEntry*>& segments);

// An EXT-X-DATERANGE of the whole-event playlists (one per talk).
struct DateRange {
  std::string id;     // "talk-<id>"
  std::string title;  // X-TITLE
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};
inline constexpr std::string_view kTalkDateRangeClass = "com.seminar-relay.talk";

// A VOD media playlist (RFC 8216bis 4.4): version 7 like the live playlists
// without parts, TARGETDURATION the ceiling of the longest segment,
// PLAYLIST-TYPE:VOD, a MAP before the first segment and again wherever the init
// section changes, a PDT on every segment, ENDLIST.
// EXT-X-DISCONTINUITY goes before a segment whose run differs from the one before
// (a restart: new timestamps, new init), a segment the live playlist marked, and
// a segment whose msn does not follow the one before within the same run (a
// segment lost to a crash or deleted): without it hls.js places the next segment
// by the gap's media time and the timeline drifts from the EXTINF sum.
// Segment and init URIs are `media_prefix` + the journal's relative file name.
// `ranges` are written after the first segment's PDT, as 4.4.5.1 needs a PDT
// before any DATERANGE.
std::string write_vod_playlist(const std::vector<const SegmentEntry*>& segments, std::string_view media_prefix,
                               const std::vector<DateRange>& ranges = {});

// The VOD master from a run's stored live master: variants, EXT-X-MEDIA groups
// and their attributes kept; live-only lines (EXT-X-CONTENT-STEERING) and
// attributes (PATHWAY-ID, STABLE-VARIANT-ID) dropped, the variants the steering
// repeated per pathway listed once; each URI rewritten to
// "<rendition>/index.m3u8" beside the master; only renditions in `available`
// listed (a variant whose rendition is missing is dropped, and a group whose
// every member is missing is no longer referenced by the variants).
std::string write_vod_master(std::string_view live_master, const std::set<std::string>& available);

// The rendition a live master URI names: "720p/index.m3u8",
// "https://cdn.example/live/720p/index.m3u8?x" -> "720p".
std::string rendition_of_uri(std::string_view uri);

// A wall-clock time (epoch ms) as a position in a presentation made of
// `segments` (seconds since its start): inside a segment, its offset there;
// in a gap between segments (a restart), the start of the next one.
double presentation_time_s(const std::vector<const SegmentEntry*>& segments, int64_t epoch_ms);

// One chapter of the whole-event presentation.
struct Chapter {
  std::string talk;
  std::string title;
  double start_s = 0;
  double end_s = 0;
};
// The chapters of `talks` (id, title pairs in programme order) that have a span
// and overlap the presentation, on its timeline.
std::vector<Chapter> chapters(const EventIndex& index, const std::vector<const SegmentEntry*>& presentation,
                              const std::vector<std::pair<std::string, std::string>>& talks);
// A WebVTT chapters file: one cue per chapter, its id "talk-<id>", its text the title.
std::string write_chapters_vtt(const std::vector<Chapter>& chapters);

// "00:01:02.345"
std::string format_vtt_time(double seconds);

// Whether a name from a URL may name a file in the event: one path element of
// letters, digits, '-', '_' and '.', not starting with '.'. The VOD routes also
// require the name to be in the journal; this is the first, cheap gate.
bool is_plain_file_name(std::string_view name);

}  // namespace relay::recording
