#pragma once
// gzip content-coding for playlists (rfc8216bis Appendix B.1 asks for compressed
// playlists; an LL-HLS playlist is reloaded every part, by every player).
#include <string>
#include <string_view>

namespace relay::net {

// Whether an Accept-Encoding value lets us answer with gzip (RFC 9110 §12.5.3):
// "gzip" or "x-gzip" with a non-zero weight, or else "*" with one.
bool accepts_gzip(std::string_view accept_encoding);

// One complete gzip member (RFC 1952) holding `data`. Playlists are compressed
// once per change, by PlaylistCache.
std::string gzip_compress(std::string_view data);

}  // namespace relay::net
