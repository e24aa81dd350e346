#pragma once
// Small text helpers shared by every module: header values, query strings,
// percent-decoding, bearer tokens and hex. One copy each; unit-tested in
// tests/unit/common/test_text.cpp.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::text {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Plain decimal digits only: no sign, no spaces, nothing that overflows.
inline std::optional<uint64_t> parse_digits(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// ASCII case-insensitive equality (header tokens are ASCII).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] - 'A' + 'a' : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] - 'A' + 'a' : b[i];
    if (x != y) return false;
  }
  return true;
}

// Lower-case hex of the bytes.
std::string hex_encode(const void* data, size_t size);

// %XX sequences decoded; nullopt for a '%' not followed by two hex digits.
// With plus_is_space, '+' is a space (application/x-www-form-urlencoded, query strings).
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Calls visit(name, raw_value) for each name=value pair of a query string (the
// part after '?'), in order, until it returns false. A pair without '=' has an
// empty value. Names and values are passed as sent, not decoded.
template <class Visit>
void for_each_query_param(std::string_view query, Visit&& visit) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (!visit(pair.substr(0, eq), eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1))) return;
  }
}

// The first value of a query parameter, percent-decoded ('+' is a space);
// nullopt when it is absent or badly encoded.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// The token of an "Authorization: Bearer <token>" value (scheme case-insensitive,
// spaces around trimmed); empty when the value is not a bearer credential.
std::string_view bearer_token(std::string_view authorization);

}  // namespace relay::text
