#pragma once
// WebVTT subtitle segments for HLS (RFC 8216 3.5): one file per video segment
// or part, covering the same stretch of the wall clock, with an
// X-TIMESTAMP-MAP that ties its local time zero to the video's media time at
// the stretch's start, so a player puts the cues on the video's timeline.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "captions/cue_store.hpp"

namespace relay::captions {

// The stretch of media a subtitle file covers.
struct SubtitleSpan {
  int64_t start_epoch_ms = 0;  // the video's PDT there
  int64_t end_epoch_ms = 0;
  uint64_t media_time_90k = 0;  // the video's presentation time there, 90 kHz (X-TIMESTAMP-MAP MPEGTS)
};

// "&", "<" and ">" as character references: the text is shown as typed and can
// carry no markup (no <c>, <v>, <b> tags, no "-->").
std::string escape_cue_text(std::string_view text);

// "hh:mm:ss.mmm"; negative times are written as zero.
std::string format_timestamp(int64_t ms);

// The header, then every cue that overlaps the span, in local time from the span's
// start. A cue that began before the span is written from 00:00:00.000 (it is
// repeated from the previous file, as RFC 8216 3.5 asks of cues spanning files);
// its identifier, the same in both files, lets the player keep just one.
std::string write_webvtt(const SubtitleSpan& span, const std::vector<Cue>& cues);

}  // namespace relay::captions
