#include "net/http2_headers.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "common/text.hpp"

namespace relay::net {
namespace http = boost::beast::http;

namespace {

constexpr std::array<std::string_view, 5> kConnectionSpecific = {"connection", "keep-alive", "proxy-connection",
                                                                  "transfer-encoding", "upgrade"};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool is_connection_specific(std::string_view name) {
  for (std::string_view forbidden : kConnectionSpecific)
    if (text::iequals(name, forbidden)) return true;
  return false;
}

bool Http2RequestBuilder::add(std::string_view name, std::string_view value) {
  if (name.starts_with(':')) {
    // Pseudo-headers come before every regular field, each at most once.
    if (seen_ & kRegular) return false;
    unsigned bit = 0;
    if (name == ":method") bit = kMethod;
    else if (name == ":path") bit = kPath;
    else if (name == ":authority") bit = kAuthority;
    else if (name == ":scheme") bit = kScheme;
    if (bit == 0 || (seen_ & bit)) return false;
    seen_ |= bit;
    if (bit == kMethod) {
      if (value.empty()) return false;
      req_.method_string(value);
    } else if (bit == kPath) {
      if (value.empty()) return false;
      req_.target(value);
    } else if (bit == kAuthority) {
      req_.set(http::field::host, value);
    }
    return true;
  }
  seen_ |= kRegular;
  if (is_connection_specific(name)) return false;
  // Only "te: trailers" may cross into HTTP/2; the routes need neither.
  if (text::iequals(name, "te")) return text::iequals(value, "trailers");
  // :authority wins over a Host field (RFC 9113 8.3.1); a second Host is ignored.
  if (text::iequals(name, "host")) {
    if (req_.find(http::field::host) == req_.end()) req_.set(http::field::host, value);
    return true;
  }
  if (text::iequals(name, "cookie")) {
    auto it = req_.find(http::field::cookie);
    if (it != req_.end()) {
      std::string joined(it->value());
      joined.append("; ").append(value);
      req_.set(http::field::cookie, joined);
      return true;
    }
  }
  req_.insert(name, value);
  return true;
}

bool Http2RequestBuilder::complete() const {
  if (!(seen_ & kMethod)) return false;
  if (req_.method() == http::verb::connect) return (seen_ & kAuthority) && !(seen_ & kPath);
  if (!(seen_ & kPath)) return false;
  std::string_view target = req_.target();
  return target.starts_with('/') || (target == "*" && req_.method() == http::verb::options);
}

void ResponseHeaderBlock::assign(const Response::header_type& res) {
  // The text goes into one string, sized first, so no entry's text moves after.
  char status[4];
  const auto status_text = std::string_view(status, fmt::format_to_n(status, sizeof status, "{}", res.result_int()).size);
  size_t text_bytes = std::string_view(":status").size() + status_text.size();
  for (const auto& field : res) text_bytes += field.name_string().size() + field.value().size();
  storage_.resize(text_bytes);
  fields_.clear();
  auto* out = reinterpret_cast<uint8_t*>(storage_.data());
  auto add = [&](std::string_view name, std::string_view value, bool lower_case) {
    nghttp2_nv& nv = fields_.emplace_back();
    nv.name = out;
    nv.namelen = name.size();
    for (char c : name) *out++ = static_cast<uint8_t>(lower_case ? lower(c) : c);
    nv.value = out;
    nv.valuelen = value.size();
    out = std::copy(value.begin(), value.end(), out);
    nv.flags = NGHTTP2_NV_FLAG_NONE;
  };
  add(":status", status_text, false);
  for (const auto& field : res) {
    std::string_view name = field.name_string();
    if (is_connection_specific(name)) continue;
    add(name, field.value(), true);
  }
}

std::string_view ResponseHeaderBlock::name(size_t i) const {
  return {reinterpret_cast<const char*>(fields_[i].name), fields_[i].namelen};
}

std::string_view ResponseHeaderBlock::value(size_t i) const {
  return {reinterpret_cast<const char*>(fields_[i].value), fields_[i].valuelen};
}

}  // namespace relay::net
