#pragma once
// The captions of a talk as one WebVTT file, from the recorded subtitle segments
// (captions/webvtt.hpp writes them): each segment's cues are moved from its local
// time to the talk's timeline through its X-TIMESTAMP-MAP, and a cue that the live
// segments repeated at every boundary it crossed is written once.
#include <cstdint>
#include <string>
#include <vector>

namespace relay::recording {

// One WebVTT file from the recorded subtitle segments of a talk: cues placed on the talk's timeline
// (X-TIMESTAMP-MAP of each segment → seconds since `origin_90k`), a cue repeated across segments (same
// id) kept once, cues clipped to [0, duration_s].
// A cue keeps its identifier, settings and text as they were (escaping included);
// repeats of one identifier become one cue over the union of their times, with the
// text of the last segment that has it (a corrected line keeps its id). Cues
// without an identifier are the same cue when their text and end time agree.
// Blocks that are not cues (NOTE, STYLE, REGION) and unreadable cues are left out.
std::string merge_webvtt(const std::vector<std::string>& segment_texts, uint64_t origin_90k, double duration_s);

}  // namespace relay::recording
