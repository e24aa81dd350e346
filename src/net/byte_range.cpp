#include "net/byte_range.hpp"

#include "common/text.hpp"

#include <charconv>
#include <optional>

namespace relay::net {

using text::iequals;
using text::parse_digits;
using text::trim;
RangeRequest parse_byte_range(std::string_view header, uint64_t size) {
  header = trim(header);
  size_t eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes")) return {};
  std::string_view spec = trim(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return {};
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  std::string_view first_text = trim(spec.substr(0, dash));
  std::string_view last_text = trim(spec.substr(dash + 1));

  RangeRequest r;
  if (first_text.empty()) {
    auto suffix = parse_digits(last_text);
    if (!suffix) return {};
    if (*suffix == 0 || size == 0) {
      r.kind = RangeRequest::unsatisfiable;
      return r;
    }
    r.kind = RangeRequest::satisfiable;
    r.range = {size - (*suffix < size ? *suffix : size), size - 1};
    return r;
  }

  auto first = parse_digits(first_text);
  if (!first) return {};
  std::optional<uint64_t> last;
  if (!last_text.empty()) {
    last = parse_digits(last_text);
    // RFC 9110: a range whose last is before its first is invalid, and invalid ranges are ignored.
    if (!last || *last < *first) return {};
  }
  if (*first >= size) {
    r.kind = RangeRequest::unsatisfiable;
    return r;
  }
  r.kind = RangeRequest::satisfiable;
  r.range = {*first, last && *last < size ? *last : size - 1};
  return r;
}

}  // namespace relay::net
