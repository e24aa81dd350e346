#include "edge/route_label.hpp"

namespace relay::edge {

RouteLabel classify_route(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  auto ends_with = [&](std::string_view s) { return path.ends_with(s); };
  if (path == "/" || path == "/moderator" || path == "/speaker" || path == "/tech") return RouteLabel::page;
  if (path.starts_with("/static/") || path.starts_with("/vendor/")) return RouteLabel::static_file;
  if (path == "/live/master.m3u8") return RouteLabel::master;
  if (path.starts_with("/live/")) {
    if (ends_with(".m3u8")) return RouteLabel::playlist;
    if (ends_with("/init.mp4")) return RouteLabel::init;
    std::string_view file = path.substr(path.rfind('/') + 1);
    if (file.starts_with("part")) return RouteLabel::part;
    if (file.starts_with("seg")) return RouteLabel::segment;
    return RouteLabel::other;
  }
  if (path == "/api/health") return RouteLabel::health;
  if (path == "/metrics") return RouteLabel::metrics;
  if (path == "/api/incidents") return RouteLabel::incidents;
  if (path == "/api/qoe") return RouteLabel::qoe;
  if (path.starts_with("/api/qa/")) return RouteLabel::qa;
  return RouteLabel::other;
}

const char* to_string(RouteLabel route) {
  switch (route) {
    case RouteLabel::page: return "page";
    case RouteLabel::static_file: return "static";
    case RouteLabel::master: return "master_playlist";
    case RouteLabel::playlist: return "media_playlist";
    case RouteLabel::init: return "init";
    case RouteLabel::segment: return "segment";
    case RouteLabel::part: return "part";
    case RouteLabel::health: return "health";
    case RouteLabel::metrics: return "metrics";
    case RouteLabel::incidents: return "incidents";
    case RouteLabel::qoe: return "qoe";
    case RouteLabel::qa: return "qa";
    case RouteLabel::other: return "other";
  }
  return "other";
}

}  // namespace relay::edge
