#include "common/redact.hpp"

#include <algorithm>
#include <array>

namespace relay::text {
namespace {

constexpr std::string_view kHidden = "***";

bool scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
         c == '.';
}

// Where a URI embedded in text ends: at white space, a quote or an angle bracket.
bool ends_uri(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '<' || c == '>'; }

// Query items that say how to connect, not who may: shown, as they help the
// technician. Everything else may be a key, and is hidden.
bool harmless_query_item(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kShown = {"mode",      "latency",      "pbkeylen", "localaddress",
                                                             "localport", "poll-timeout", "transport"};
  for (std::string_view shown : kShown)
    if (name == shown) return true;
  return false;
}

bool iequal_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string redact_query(std::string_view query) {
  std::string out;
  while (true) {
    const size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || harmless_query_item(item.substr(0, eq))) {
      out += item;
    } else {
      out += item.substr(0, eq + 1);
      out += kHidden;
    }
    if (amp == std::string_view::npos) return out;
    out += '&';
    query.remove_prefix(amp + 1);
  }
}

// One URI, scheme included.
std::string redact_uri(std::string_view uri) {
  const size_t scheme_end = uri.find("://");
  const std::string_view scheme = uri.substr(0, scheme_end);
  std::string_view rest = uri.substr(scheme_end + 3);
  // A '#' is taken as part of the query or the path, not as a fragment: SRT
  // stream ids start with "#!::", and a key may hold one.
  std::string_view query;
  bool has_query = false;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    has_query = true;
  }
  std::string out(uri.substr(0, scheme_end + 3));
  // The last '@' before the query ends the user information even when an
  // unencoded '/' or '@' sits in the password; a path with an '@' in it loses
  // more than it must, which is the safe side.
  // file:///path has no authority, so an '@' in its path is no user information.
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos && !rest.starts_with('/')) {
    out += kHidden;
    rest = rest.substr(at);
  }
  const bool rtmp = iequal_prefix(scheme, "rtmp");
  const size_t host_end = rest.find('/');
  const size_t last_slash = rest.rfind('/');
  if (rtmp && host_end != std::string_view::npos && last_slash + 1 < rest.size()) {
    out += rest.substr(0, last_slash + 1);
    out += kHidden;
  } else {
    out += rest;
  }
  if (has_query) {
    out += '?';
    out += redact_query(query);
  }
  return out;
}

// name=value outside a URI, the value bare or in double quotes (with \" inside).
size_t redact_property(std::string_view text, size_t value, std::string& out) {
  if (value < text.size() && text[value] == '"') {
    size_t end = value + 1;
    while (end < text.size() && text[end] != '"') end += text[end] == '\\' ? 2 : 1;
    out += '"';
    out += kHidden;
    out += '"';
    return std::min(end + 1, text.size());
  }
  size_t end = value;
  while (end < text.size() && !ends_uri(text[end]) && text[end] != '&' && text[end] != ',' && text[end] != ';' &&
         text[end] != ')')
    ++end;
  out += kHidden;
  return end;
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  static constexpr std::array<std::string_view, 2> kSecretProperties = {"passphrase=", "streamid="};
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t uri_mark = text.find("://", pos);
    size_t property = std::string_view::npos, property_len = 0;
    for (std::string_view name : kSecretProperties) {
      const size_t found = text.find(name, pos);
      if (found < property) {
        property = found;
        property_len = name.size();
      }
    }
    if (uri_mark == std::string_view::npos && property == std::string_view::npos) break;
    if (property < uri_mark) {
      out += text.substr(pos, property + property_len - pos);
      pos = redact_property(text, property + property_len, out);
      continue;
    }
    size_t start = uri_mark;
    while (start > pos && scheme_char(text[start - 1])) --start;
    size_t end = uri_mark + 3;
    // A URI inside a quoted GStreamer value has its quotes escaped (\"): they are part of it.
    while (end < text.size() && !ends_uri(text[end])) end += text[end] == '\\' && end + 1 < text.size() ? 2 : 1;
    end = std::min(end, text.size());
    out += text.substr(pos, start - pos);
    if (start == uri_mark) {
      out += text.substr(uri_mark, 3);  // "://" without a scheme is no URI
      pos = uri_mark + 3;
      continue;
    }
    out += redact_uri(text.substr(start, end - start));
    pos = end;
  }
  if (pos < text.size()) out += text.substr(pos);
  return out;
}

}  // namespace relay::text
