#pragma once
// HLS ingest by HTTP PUT, the receiving side (ingest.source = "push:"): a hall
// relay's uplink, or ffmpeg with `-method PUT`, sends each rendition's objects
// and media playlist to
//   PUT /ingest/<rendition>/<object>      init section, part or segment
//   PUT /ingest/<rendition>/<playlist>.m3u8   the media playlist, after the objects it lists
//   PUT /ingest/master.m3u8               accepted and ignored: the relay writes its own
//   DELETE /ingest/<rendition>/<object>   accepted (ffmpeg's delete_segments)
// with "Authorization: Bearer <ingest.push_tokens>". The hls::PushReceiver feeds
// them into the relay's own packagers. Closed unless the relay is a push
// receiver with tokens: 401 push_not_configured.
#include <cstdint>
#include <optional>
#include <string_view>

#include "auth/authority.hpp"
#include "hls/push_receiver.hpp"
#include "hls/store.hpp"
#include "net/handler.hpp"

namespace relay::api {

inline constexpr std::string_view kIngestPrefix = "/ingest/";

class PushApi {
 public:
  // `receiver` null: this relay is not a push receiver. All must outlive the api.
  PushApi(const auth::Authority& authority, hls::PushReceiver* receiver, const hls::Store& store)
      : authority_(authority), receiver_(receiver), store_(store) {}

  net::Response handle(const net::Exchange& exchange) const;
  // The largest request body the ingest routes take (an object, with room for its
  // playlist); 0 when this relay takes no pushes.
  uint64_t max_body_bytes() const;

 private:
  net::Response put(const net::Exchange& exchange, size_t rendition, std::string_view object) const;

  const auth::Authority& authority_;
  hls::PushReceiver* receiver_;
  const hls::Store& store_;
};

}  // namespace relay::api
