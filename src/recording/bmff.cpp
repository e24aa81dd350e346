#include "recording/bmff.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace relay::recording::bmff {
namespace {

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

uint64_t be64(const unsigned char* p) { return (uint64_t(be32(p)) << 32) | be32(p + 4); }

// Size and header length of a box whose header starts `header` (at least 8 bytes,
// 16 when available), with `room` bytes from its start to the end of its parent.
std::pair<uint64_t, uint32_t> box_size(const unsigned char* header, size_t header_bytes, uint64_t room,
                                       uint64_t offset) {
  const std::string type = printable_type(std::string_view(reinterpret_cast<const char*>(header) + 4, 4));
  uint64_t size = be32(header);
  uint32_t header_size = 8;
  if (size == 1) {
    if (header_bytes < 16 || room < 16)
      throw FormatError(fmt::format("box '{}' at byte {}: 64-bit size cut off", type, offset));
    size = be64(header + 8);
    header_size = 16;
  } else if (size == 0) {
    size = room;
  }
  if (size < header_size)
    throw FormatError(fmt::format("box '{}' at byte {}: size {} is smaller than its header", type, offset, size));
  if (size > room)
    throw FormatError(fmt::format("box '{}' at byte {} claims {} bytes, only {} are there (truncated?)", type,
                                  offset, size, room));
  return {size, header_size};
}

}  // namespace

std::vector<Box> children(std::string_view bytes) {
  std::vector<Box> out;
  size_t off = 0;
  while (off < bytes.size()) {
    const size_t room = bytes.size() - off;
    if (room < 8) throw FormatError(fmt::format("{} stray bytes after the last box (truncated?)", room));
    auto p = reinterpret_cast<const unsigned char*>(bytes.data() + off);
    auto [size, header_size] = box_size(p, room, room, off);
    out.push_back(Box{std::string(bytes.substr(off + 4, 4)), bytes.substr(off, size), header_size});
    off += size;
  }
  return out;
}

std::optional<Box> child(std::string_view bytes, std::string_view type) {
  for (auto& b : children(bytes))
    if (b.type == type) return b;
  return std::nullopt;
}

std::vector<BoxLocation> scan_file(int fd, uint64_t file_size) {
  std::vector<BoxLocation> out;
  uint64_t off = 0;
  while (off < file_size) {
    const uint64_t room = file_size - off;
    if (room < 8) throw FormatError(fmt::format("{} stray bytes at the end of the file (truncated?)", room));
    unsigned char header[16];
    const size_t want = room >= 16 ? 16 : 8;
    ssize_t got = ::pread(fd, header, want, static_cast<off_t>(off));
    if (got < 0) throw FormatError(fmt::format("cannot read at byte {}: {}", off, std::strerror(errno)));
    if (static_cast<size_t>(got) < 8) throw FormatError(fmt::format("file shorter than expected at byte {}", off));
    auto [size, header_size] = box_size(header, static_cast<size_t>(got), room, off);
    out.push_back(BoxLocation{std::string(reinterpret_cast<char*>(header) + 4, 4), off, size, header_size});
    off += size;
  }
  return out;
}

void Reader::need(size_t n) const {
  if (n > bytes_.size() - pos_) throw FormatError(fmt::format("{} truncated", what_));
}

uint8_t Reader::u8() {
  need(1);
  return static_cast<uint8_t>(bytes_[pos_++]);
}

uint16_t Reader::u16() {
  uint16_t hi = u8();
  return static_cast<uint16_t>((hi << 8) | u8());
}

uint32_t Reader::u24() {
  uint32_t hi = u8();
  return (hi << 16) | u16();
}

uint32_t Reader::u32() {
  need(4);
  uint32_t v = be32(reinterpret_cast<const unsigned char*>(bytes_.data() + pos_));
  pos_ += 4;
  return v;
}

uint64_t Reader::u64() {
  uint64_t hi = u32();
  return (hi << 32) | u32();
}

void Reader::skip(size_t n) {
  need(n);
  pos_ += n;
}

std::string_view Reader::take(size_t n) {
  need(n);
  auto out = bytes_.substr(pos_, n);
  pos_ += n;
  return out;
}

std::string printable_type(std::string_view type) {
  std::string out;
  for (char c : type) {
    if (c >= 0x20 && c < 0x7f)
      out += c;
    else
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  }
  return out;
}

void put_u8(std::string& out, uint32_t v) { out += static_cast<char>(v & 0xff); }
void put_u16(std::string& out, uint32_t v) {
  put_u8(out, v >> 8);
  put_u8(out, v);
}
void put_u24(std::string& out, uint32_t v) {
  put_u8(out, v >> 16);
  put_u16(out, v);
}
void put_u32(std::string& out, uint32_t v) {
  put_u16(out, v >> 16);
  put_u16(out, v);
}
void put_u64(std::string& out, uint64_t v) {
  put_u32(out, static_cast<uint32_t>(v >> 32));
  put_u32(out, static_cast<uint32_t>(v));
}

std::string box(std::string_view type, std::string_view payload) {
  std::string out;
  if (payload.size() + 8 > UINT32_MAX) {
    put_u32(out, 1);
    out += type;
    put_u64(out, payload.size() + 16);
  } else {
    put_u32(out, static_cast<uint32_t>(payload.size() + 8));
    out += type;
  }
  out += payload;
  return out;
}

std::string full_box(std::string_view type, uint8_t version, uint32_t flags, std::string_view payload) {
  std::string body;
  body.reserve(payload.size() + 4);
  put_u8(body, version);
  put_u24(body, flags);
  body += payload;
  return box(type, body);
}

}  // namespace relay::recording::bmff
