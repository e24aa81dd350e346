#pragma once
// A small ISO-BMFF reader: enough of fragmented MP4 to cut the muxer's output into
// an init section and fragments, and to learn each fragment's track, decode time,
// duration and whether it starts with a sync sample. No media bytes are rewritten.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::hls::fmp4 {

class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Box {
  std::string type;      // four characters
  std::string_view data;  // the whole box, header included
  size_t header_size = 8;
  std::string_view payload() const { return data.substr(header_size); }
};

// Reads the boxes laid side by side in `bytes`; throws ParseError on a size that
// does not fit.
std::vector<Box> read_boxes(std::string_view bytes);
std::optional<Box> find_box(std::string_view bytes, std::string_view type);

// Splits a byte stream into complete top-level boxes, however the stream is chunked.
class BoxSplitter {
 public:
  void push(std::string_view bytes);
  // The next complete top-level box (type, whole bytes), if one is buffered.
  std::optional<std::pair<std::string, std::string>> next();
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  size_t offset_ = 0;
};

struct Track {
  uint32_t id = 0;
  std::string handler;  // "vide" or "soun"
  uint32_t timescale = 0;
  uint32_t width = 0, height = 0;  // from the sample entry (video)
  std::string codec;               // RFC 6381, e.g. "avc1.64001f", "mp4a.40.2"
  uint32_t default_sample_duration = 0;  // from trex
  uint32_t default_sample_flags = 0;
};

// The tracks described by a moov box (the whole box).
std::vector<Track> parse_moov(std::string_view moov);

struct TrackFragment {
  uint32_t track_id = 0;
  uint64_t base_decode_time = 0;  // tfdt, in the track's timescale
  uint64_t duration = 0;          // sum of sample durations, same units
  uint32_t sample_count = 0;
  bool starts_with_sync = false;
};

// The track fragments of a moof box (the whole box).
std::vector<TrackFragment> parse_moof(std::string_view moof, const std::vector<Track>& tracks);

// "avc1.PPCCLL" from an SPS NAL unit (header byte included).
std::string avc_codec_from_sps(std::string_view sps);

}  // namespace relay::hls::fmp4
