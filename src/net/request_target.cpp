#include "net/request_target.hpp"

#include "common/text.hpp"

namespace relay::net {
namespace {

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

  auto decoded = text::percent_decode(raw_path, /*plus_is_space=*/false);
  if (!decoded) return rejected("bad percent-encoding");
  std::string path = std::move(*decoded);
  // A decoded NUL would truncate names in C APIs; a backslash is a separator on
  // some file systems and caches, so both count as traversal attempts.
  for (char c : path) {
    if (c == '\0') return rejected("NUL in target");
    if (c == '\\') return rejected("backslash in target");
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

}  // namespace relay::net
