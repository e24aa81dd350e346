#include "captions/webvtt.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace relay::captions {

std::string escape_cue_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      // A line break inside a cue would let a blank line end it early.
      case '\n': case '\r': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_timestamp(int64_t ms) {
  ms = std::max<int64_t>(ms, 0);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
}

std::string write_webvtt(const SubtitleSpan& span, const std::vector<Cue>& cues) {
  // LOCAL 0 is the span's start; MPEGTS is that instant on the video's timeline.
  std::string out = fmt::format("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{},LOCAL:00:00:00.000\n", span.media_time_90k);
  auto it = std::back_inserter(out);
  for (const Cue& cue : cues) {
    if (cue.end_ms <= span.start_epoch_ms || cue.start_ms >= span.end_epoch_ms) continue;
    fmt::format_to(it, "\nc{}\n{} --> {}\n{}\n", cue.id, format_timestamp(cue.start_ms - span.start_epoch_ms),
                   format_timestamp(cue.end_ms - span.start_epoch_ms), escape_cue_text(cue.text));
  }
  return out;
}

}  // namespace relay::captions
