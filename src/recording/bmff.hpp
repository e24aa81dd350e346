#pragma once
// Bounds-checked ISO-BMFF (MP4) box reading and writing for the recording's
// downloads. Unlike hls/fmp4.hpp, which reads the muxer's live byte stream in
// memory, this reads files that sit on disk and may have been cut by a crash or
// damaged since: every size is checked against what is really there, sizes of 0
// ("to the end") and 64-bit sizes are accepted, and big boxes (mdat) are only
// located, never read.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::recording::bmff {

class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A box inside a buffer: `data` is the whole box, header included.
struct Box {
  std::string type;
  std::string_view data;
  size_t header_size = 8;
  std::string_view payload() const { return data.substr(header_size); }
};

// The boxes laid side by side in `bytes` (a parent's payload). A size of 0 means
// "to the end of the parent". Throws FormatError naming the box that does not fit.
std::vector<Box> children(std::string_view bytes);
// The first child of that type, if any.
std::optional<Box> child(std::string_view bytes, std::string_view type);

// A top-level box of a file, located by its header alone.
struct BoxLocation {
  std::string type;
  uint64_t offset = 0;  // of the header
  uint64_t size = 0;    // header included
  uint32_t header_size = 8;
  uint64_t payload_offset() const { return offset + header_size; }
  uint64_t end() const { return offset + size; }
};

// The top-level boxes of an open file of `file_size` bytes, from their headers
// (fd read with pread). Throws FormatError for a box that runs past the end.
std::vector<BoxLocation> scan_file(int fd, uint64_t file_size);

// Big-endian reads at a moving position that throw FormatError("<what> truncated")
// instead of reading past the end.
class Reader {
 public:
  Reader(std::string_view bytes, std::string_view what) : bytes_(bytes), what_(what) {}
  uint8_t u8();
  uint16_t u16();
  uint32_t u24();
  uint32_t u32();
  uint64_t u64();
  void skip(size_t n);
  std::string_view take(size_t n);
  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  void need(size_t n) const;
  std::string_view bytes_;
  std::string_view what_;
  size_t pos_ = 0;
};

// A four-character code fit for an error message (unprintable bytes as \xNN).
std::string printable_type(std::string_view type);

// Big-endian writing.
void put_u8(std::string& out, uint32_t v);
void put_u16(std::string& out, uint32_t v);
void put_u24(std::string& out, uint32_t v);
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
// A box around `payload`, with a 64-bit size when it would not fit in 32 bits.
std::string box(std::string_view type, std::string_view payload);
std::string full_box(std::string_view type, uint8_t version, uint32_t flags, std::string_view payload);

}  // namespace relay::recording::bmff
