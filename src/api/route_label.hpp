#pragma once
// Which kind of resource a request target names, for the per-route request
// counters on /metrics. A small fixed set, so the label never explodes with
// segment numbers or query strings.
#include <string_view>

namespace relay::api {

enum class RouteLabel { page, static_file, master, playlist, init, segment, part, health, metrics, incidents, qoe, qa,
                        ingest, other };
inline constexpr size_t kRouteLabelCount = 14;

RouteLabel classify_route(std::string_view target);
const char* to_string(RouteLabel route);

}  // namespace relay::api
