#pragma once
// Playlists as they go out: made once per change of what they show, with their
// entity tags and their gzip'd form, and shared by every request until the next
// change. An LL-HLS media playlist changes with every part, yet every player asks
// for it after every part, and a publish releases all blocked reloads at once.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "hls/media.hpp"

namespace relay::delivery {

class ServedPlaylist {
 public:
  // `tag` is the opaque part of the entity tag of `text`; the gzip'd form gets
  // its own (another representation, another strong tag).
  ServedPlaylist(hls::Bytes text, std::string_view tag);

  const hls::Bytes& text() const { return text_; }
  const std::string& etag() const { return etag_; }
  // Compressed by the first caller only, whichever thread that is; until some
  // client accepts gzip, nothing is compressed.
  const hls::Bytes& gzip() const;
  const std::string& gzip_etag() const { return gzip_etag_; }

 private:
  hls::Bytes text_;
  std::string etag_;
  std::string gzip_etag_;
  mutable std::once_flag gzip_once_;
  mutable hls::Bytes gzip_;
};

// A fixed number of slots, one per playlist URL and form. Each holds the newest
// playlist made and what it was made from: the bytes the packager published and
// the store's generation, for playlists that also show other renditions' state.
class PlaylistCache {
 public:
  explicit PlaylistCache(size_t slots);

  // The playlist in `slot` when it was made from `source` at `generation`;
  // otherwise make() is called (outside any lock) and its result kept, unless a
  // newer one arrived meanwhile. `source` is kept too, so its address, the key,
  // cannot be reused by other bytes while the slot holds it.
  template <class Make>
  std::shared_ptr<const ServedPlaylist> get(size_t slot, const hls::Bytes& source, uint64_t generation, Make&& make) {
    Slot& s = slots_[slot];
    {
      std::lock_guard lock(s.mutex);
      if (s.playlist && s.source == source && s.generation == generation) return s.playlist;
    }
    std::shared_ptr<const ServedPlaylist> made = make();
    std::lock_guard lock(s.mutex);
    if (!s.playlist || generation >= s.generation) {
      s.source = source;
      s.generation = generation;
      s.playlist = made;
    }
    return made;
  }

  size_t size() const { return size_; }

 private:
  struct Slot {
    std::mutex mutex;
    hls::Bytes source;
    uint64_t generation = 0;
    std::shared_ptr<const ServedPlaylist> playlist;
  };
  size_t size_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace relay::delivery
