#pragma once
// gzip content-coding for playlists (rfc8216bis Appendix B.1 asks for compressed
// playlists; an LL-HLS playlist is reloaded every part, by every player).
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hls/media.hpp"

namespace relay::edge {

// Whether an Accept-Encoding value lets us answer with gzip (RFC 9110 §12.5.3):
// "gzip" or "x-gzip" with a non-zero weight, or else "*" with one.
bool accepts_gzip(std::string_view accept_encoding);

// One complete gzip member (RFC 1952) holding `data`.
std::string gzip_compress(std::string_view data);

// Compressed bodies by entity tag. When a publish releases a thousand blocked
// requests they all want the same few playlists, which are then deflated once.
class GzipCache {
 public:
  explicit GzipCache(size_t capacity) : capacity_(capacity) {}
  // `tag` must identify `data` exactly (an entity tag does).
  hls::Bytes compress(const std::string& tag, std::string_view data);

 private:
  using Order = std::list<std::string>;  // most recently used first
  struct Entry {
    hls::Bytes compressed;
    Order::iterator position;
  };
  const size_t capacity_;
  std::mutex mutex_;
  Order order_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace relay::edge
