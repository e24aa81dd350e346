#include "common/text.hpp"

namespace relay::text {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string hex_encode(const void* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> value;
  bool found = false;
  for_each_query_param(query, [&](std::string_view key, std::string_view raw) {
    if (key != name) return true;
    found = true;
    value = percent_decode(raw, /*plus_is_space=*/true);
    return false;
  });
  return found ? value : std::nullopt;
}

std::string_view bearer_token(std::string_view authorization) {
  const std::string_view header = trim(authorization);
  constexpr std::string_view scheme = "bearer ";
  if (header.size() <= scheme.size() || !iequals(header.substr(0, scheme.size()), scheme)) return {};
  return trim(header.substr(scheme.size()));
}

}  // namespace relay::text
