#pragma once
// The immutable pieces of HLS media the packager produces and the edge serves.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace relay::hls {

// Published media never changes; every response that sends it shares it.
using relay::Bytes;
using relay::make_bytes;

// A fragment (moof+mdat) inside a segment: an LL-HLS part.
struct Part {
  uint64_t msn = 0;  // the segment it belongs to
  size_t index = 0;  // its place in that segment, from 0
  double duration_s = 0;
  bool independent = false;  // starts with an IDR
  Bytes data;
  int64_t pdt_epoch_ms = 0;  // capture wall clock of its first frame
  // Where its first frame sits on the media timeline, at 90 kHz: what a WebVTT
  // segment's X-TIMESTAMP-MAP names to put its cues beside it.
  uint64_t media_time_90k = 0;
};

struct Segment {
  uint64_t msn = 0;            // media sequence number, from 1
  double duration_s = 0;       // exact, from the samples
  int64_t pdt_epoch_ms = 0;    // capture wall clock of the first frame
  uint64_t media_time_90k = 0; // the first frame on the media timeline, at 90 kHz (Part)
  bool discontinuity = false;
  // The init section its parts need (EXT-X-MAP) and its name; empty for MPEG-TS.
  // A new init mid-stream starts a discontinuity.
  std::string init_uri;
  Bytes init;
  Bytes data;                  // the whole segment: its parts back to back
  std::vector<Part> parts;
};

}  // namespace relay::hls
