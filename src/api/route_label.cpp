#include "api/route_label.hpp"

namespace relay::api {

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
    case RouteLabel::ingest: return "ingest";
    case RouteLabel::other: return "other";
  }
  return "other";
}

}  // namespace relay::api
