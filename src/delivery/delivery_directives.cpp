#include "delivery/delivery_directives.hpp"

#include "common/text.hpp"

#include <charconv>

#include <fmt/format.h>

namespace relay::delivery {

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
  std::string error;
  text::for_each_query_param(query, [&](std::string_view key, std::string_view value) {
    if (key == "_HLS_msn" || key == "_HLS_part") {
      auto& slot = key == "_HLS_msn" ? d.msn : d.part;
      if (slot) error = fmt::format("{} given twice", key);
      else if (!(slot = parse_digits(value))) error = fmt::format("{} must be a decimal number", key);
    } else if (key == "_HLS_skip") {
      if (seen_skip) error = "_HLS_skip given twice";
      else if (value != "YES" && value != "v2") error = "_HLS_skip must be YES or v2";
      seen_skip = true;
      d.skip = true;
    }
    return error.empty();
  });
  if (!error.empty()) return refused(std::move(error));
  // rfc8216bis 6.2.5.2: a part number means nothing without its segment.
  if (d.part && !d.msn) return refused("_HLS_part requires _HLS_msn");
  return d;
}

}  // namespace relay::delivery
