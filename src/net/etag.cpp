#include "net/etag.hpp"

#include "common/text.hpp"

namespace relay::net {

using text::trim;
namespace {

std::string_view strip_weak(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

uint64_t content_hash(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string make_etag(std::string_view opaque) {
  std::string tag;
  tag.reserve(opaque.size() + 2);
  tag += '"';
  tag += opaque;
  tag += '"';
  return tag;
}

bool if_none_match_matches(std::string_view if_none_match, std::string_view etag) {
  if_none_match = trim(if_none_match);
  if (if_none_match == "*") return true;
  std::string_view ours = strip_weak(etag);
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view candidate = trim(if_none_match.substr(0, comma));
    if (!candidate.empty() && strip_weak(candidate) == ours) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace relay::net
