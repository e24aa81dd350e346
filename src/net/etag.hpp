#pragma once
// Entity tags and conditional requests. Tags are built from stable facts (content
// hashes, segment identity) so that several edges and restarts agree where they can,
// which keeps CDN caches effective.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::net {

// FNV-1a, 64 bit: fixed across builds and machines, unlike std::hash.
uint64_t content_hash(std::string_view data);

// Wraps an opaque value in quotes: a strong entity tag.
std::string make_etag(std::string_view opaque);

// If-None-Match uses weak comparison (RFC 9110 §13.1.2): "W/" is ignored on both sides.
bool if_none_match_matches(std::string_view if_none_match, std::string_view etag);

// An epoch time (seconds) as an IMF-fixdate (RFC 9110 5.6.7), for Date and
// Last-Modified; written by hand because strftime follows the locale.
std::string format_http_date(int64_t epoch_s);
// An IMF-fixdate as epoch seconds. The obsolete RFC 850 and asctime forms are
// refused: a request carrying one is answered in full, which is always right.
std::optional<int64_t> parse_http_date(std::string_view text);

// If-Modified-Since (RFC 9110 13.1.3) against a modification time in epoch ms.
// The header has one-second resolution, so an object that may change within a
// second (a playlist) counts as unchanged only when it last changed before the
// second the header names; a named-once object when it changed within or before it.
bool not_modified_since(std::string_view if_modified_since, int64_t modified_epoch_ms, bool changes_in_place);

}  // namespace relay::net
