#pragma once
// A small fragmented-MP4 writer for one AAC track: the init section (ftyp+moov)
// and one moof+mdat per part. The interpreter tracks use it instead of mp4mux,
// whose fragments count from each pad's own first buffer and so cannot be cut
// where the video's segments and parts begin; here the caller picks the frames
// of every fragment (hls/audio_rendition.hpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace relay::hls::aac {

inline constexpr uint32_t kFrameSamples = 1024;  // AAC-LC, what avenc_aac writes

struct Format {
  uint32_t rate = 48000;
  uint16_t channels = 2;
  std::string config;        // AudioSpecificConfig (the caps' codec_data)
  uint32_t bitrate_bps = 0;  // for the esds; 0 = unknown
};

// "mp4a.40.2" from the AudioSpecificConfig's object type.
std::string codec_string(const Format& format);

std::string init_section(const Format& format);

// One moof+mdat: `frames` raw AAC frames back to back from `base_decode_time`
// (in samples). `sequence` is the mfhd sequence number, from 1.
std::string fragment(uint32_t sequence, uint64_t base_decode_time, const std::vector<std::string_view>& frames);

}  // namespace relay::hls::aac
