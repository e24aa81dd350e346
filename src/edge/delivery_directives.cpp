#include "edge/delivery_directives.hpp"

#include "edge/header_text.hpp"

#include <charconv>

#include <fmt/format.h>

namespace relay::edge {

using text::parse_digits;
namespace {

DeliveryDirectives refused(std::string why) {
  DeliveryDirectives d;
  d.error = std::move(why);
  return d;
}

}  // namespace

DeliveryDirectives parse_delivery_directives(std::string_view query) {
  DeliveryDirectives d;
  bool seen_skip = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);

    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "_HLS_msn" || key == "_HLS_part") {
      auto& slot = key == "_HLS_msn" ? d.msn : d.part;
      if (slot) return refused(fmt::format("{} given twice", key));
      slot = parse_digits(value);
      if (!slot) return refused(fmt::format("{} must be a decimal number", key));
    } else if (key == "_HLS_skip") {
      if (seen_skip) return refused("_HLS_skip given twice");
      if (value != "YES" && value != "v2") return refused("_HLS_skip must be YES or v2");
      seen_skip = true;
      d.skip = true;
    }
  }
  // rfc8216bis 6.2.5.2: a part number means nothing without its segment.
  if (d.part && !d.msn) return refused("_HLS_part requires _HLS_msn");
  return d;
}

}  // namespace relay::edge
