#include "edge/request_target.hpp"

namespace relay::edge {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

RequestTarget rejected(std::string why) {
  RequestTarget t;
  t.error = std::move(why);
  return t;
}

}  // namespace

RequestTarget parse_request_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return rejected("target must start with '/'");
  if (target.size() > kMaxTargetLength) return rejected("target longer than 2048 characters");

  std::string_view raw_path = target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    raw_path = target.substr(0, q);
    query = target.substr(q + 1);
  }

  std::string path;
  path.reserve(raw_path.size());
  for (size_t i = 0; i < raw_path.size(); ++i) {
    char c = raw_path[i];
    if (c == '%') {
      if (i + 2 >= raw_path.size()) return rejected("bad percent-encoding");
      int h = hex_value(raw_path[i + 1]);
      int l = hex_value(raw_path[i + 2]);
      if (h < 0 || l < 0) return rejected("bad percent-encoding");
      c = static_cast<char>(h * 16 + l);
      i += 2;
    }
    // A decoded NUL would truncate names in C APIs; a backslash is a separator on
    // some file systems and caches, so both count as traversal attempts.
    if (c == '\0') return rejected("NUL in target");
    if (c == '\\') return rejected("backslash in target");
    path.push_back(c);
  }

  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (std::string_view(path).substr(start, end - start) == "..") return rejected("'..' in target");
    start = end + 1;
  }

  RequestTarget t;
  t.path = std::move(path);
  t.query = query;
  return t;
}

}  // namespace relay::edge
