#include "delivery/playlist_cache.hpp"

#include "net/etag.hpp"
#include "net/gzip.hpp"

namespace relay::delivery {

ServedPlaylist::ServedPlaylist(hls::Bytes text, std::string_view tag)
    : text_(std::move(text)), etag_(net::make_etag(tag)), gzip_etag_(net::make_etag(std::string(tag) + "-gz")) {}

const hls::Bytes& ServedPlaylist::gzip() const {
  std::call_once(gzip_once_, [this] { gzip_ = hls::make_bytes(net::gzip_compress(*text_)); });
  return gzip_;
}

PlaylistCache::PlaylistCache(size_t slots) : size_(slots), slots_(std::make_unique<Slot[]>(slots)) {}

}  // namespace relay::delivery
