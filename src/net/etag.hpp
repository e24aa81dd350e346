#pragma once
// Entity tags and conditional requests. Tags are built from stable facts (content
// hashes, segment identity) so that several edges and restarts agree where they can,
// which keeps CDN caches effective.
#include <cstdint>
#include <string>
#include <string_view>

namespace relay::net {

// FNV-1a, 64 bit: fixed across builds and machines, unlike std::hash.
uint64_t content_hash(std::string_view data);

// Wraps an opaque value in quotes: a strong entity tag.
std::string make_etag(std::string_view opaque);

// If-None-Match uses weak comparison (RFC 9110 §13.1.2): "W/" is ignored on both sides.
bool if_none_match_matches(std::string_view if_none_match, std::string_view etag);

}  // namespace relay::net
