#pragma once
// A small MPEG-TS reader: enough of the transport stream mpegtsmux writes to cut
// it at video random-access points and learn each cut's PTS. Bytes pass through
// untouched; PAT/PMT are remembered so every segment can start with them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::hls::mpegts {

constexpr size_t kPacketSize = 188;

struct Cut {
  size_t offset;  // where, in the bytes pushed so far into this chunk, the random-access packet starts
  uint64_t pts_90k;
};

class Splitter {
 public:
  // Appends bytes (any chunking); returns the complete packets now available and
  // the random-access points among them (offsets into the returned string).
  struct Output {
    std::string packets;
    std::vector<Cut> cuts;
  };
  Output push(std::string_view bytes);

  // The most recent PAT and PMT packets, to put in front of a segment.
  std::string program_tables() const { return pat_ + pmt_; }
  std::optional<uint16_t> video_pid() const { return video_pid_; }
  // RFC 6381 codecs read from the stream: the SPS and the ADTS header. Empty until seen.
  const std::string& video_codec() const { return video_codec_; }
  const std::string& audio_codec() const { return audio_codec_; }

 private:
  void on_packet(std::string_view p, size_t offset, Output& out);

  std::string pending_;
  std::string pat_, pmt_;
  std::optional<uint16_t> pmt_pid_, video_pid_, audio_pid_;
  std::string video_codec_, audio_codec_;
};

// The PTS of a PES header at the start of a packet payload, if present.
std::optional<uint64_t> pes_pts(std::string_view payload);

}  // namespace relay::hls::mpegts
