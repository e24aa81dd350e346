#pragma once
// Inflates a gzip member for the tests, with zlib's reference decoder.
#include <stdexcept>
#include <string>

#include <zlib.h>

namespace relay::test {

inline std::string gunzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2");  // gzip only, not zlib
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char chunk[4096];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("not a valid gzip stream");
    }
    out.append(chunk, sizeof chunk - zs.avail_out);
  } while (rc != Z_STREAM_END);
  bool trailing = zs.avail_in != 0;
  inflateEnd(&zs);
  if (trailing) throw std::runtime_error("bytes after the gzip member");
  return out;
}

}  // namespace relay::test
