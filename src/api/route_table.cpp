#include "api/route_table.hpp"

#include <algorithm>
#include <array>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <fmt/format.h>

#include "api/captions_api.hpp"
#include "api/programme_api.hpp"
#include "api/health_api.hpp"
#include "api/push_api.hpp"
#include "api/qa_api.hpp"
#include "api/vod_api.hpp"
#include "api/recording_api.hpp"
#include "delivery/router.hpp"

namespace relay::api {
namespace http = boost::beast::http;
namespace {

// Every route, by the index route() returns.
enum Route : size_t {
  kPage, kStaticFile, kMaster, kPlaylist, kInit, kSegment, kPart, kLiveOther, kHealth,
  kMetrics, kIncidents, kQoe, kTechStream, kTechThumbnail, kQa, kIngest, kCaptions, kProgramme, kRecording, kVod,
  kOther, kRouteCount
};

struct RouteEntry {
  RouteLabel label;
  Service service;
  bool cors;  // a player or page of another origin may fetch it (edge.cors_origins)
  bool page;  // not media: its responses carry the Content-Security-Policy
  net::RouteInfo info;
};

net::RouteInfo transport_info(RouteLabel label, bool api) {
  // The APIs answer in JSON even before the request is whole, and their query
  // may carry a token (old clients; the relay takes tokens from headers and the
  // WebSocket's first message only): logs show their path only.
  return {static_cast<uint8_t>(label), api, api};
}

const std::array<RouteEntry, kRouteCount>& routes() {
  static const std::array<RouteEntry, kRouteCount> table = [] {
    std::array<RouteEntry, kRouteCount> t{};
    auto set = [&](Route r, RouteLabel label, Service service) {
      const bool api = service != Service::delivery;
      t[r] = {label, service, !api, true, transport_info(label, api)};
    };
    set(kPage, RouteLabel::page, Service::delivery);
    set(kStaticFile, RouteLabel::static_file, Service::delivery);
    set(kMaster, RouteLabel::master, Service::delivery);
    set(kPlaylist, RouteLabel::playlist, Service::delivery);
    set(kInit, RouteLabel::init, Service::delivery);
    set(kSegment, RouteLabel::segment, Service::delivery);
    set(kPart, RouteLabel::part, Service::delivery);
    set(kLiveOther, RouteLabel::other, Service::delivery);
    set(kHealth, RouteLabel::health, Service::delivery);
    set(kMetrics, RouteLabel::metrics, Service::health);
    set(kIncidents, RouteLabel::incidents, Service::health);
    set(kQoe, RouteLabel::qoe, Service::health);
    set(kTechStream, RouteLabel::other, Service::health);
    set(kTechThumbnail, RouteLabel::other, Service::health);
    set(kQa, RouteLabel::qa, Service::qa);
    set(kIngest, RouteLabel::ingest, Service::push);
    set(kCaptions, RouteLabel::other, Service::captions);
    set(kProgramme, RouteLabel::other, Service::programme);
    set(kVod, RouteLabel::other, Service::vod);
    set(kRecording, RouteLabel::other, Service::recording);
    set(kOther, RouteLabel::other, Service::delivery);
    // Media is read by players, never rendered as a document: the policy
    // would only add bytes to the responses served most.
    for (Route media : {kMaster, kPlaylist, kInit, kSegment, kPart, kLiveOther}) t[media].page = false;
    // Recordings are for this relay's own pages (and its session cookie): no CORS.
    t[kVod].cors = false;
    return t;
  }();
  return table;
}

Route route_of(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  static constexpr std::pair<std::string_view, Route> kExact[] = {
      {"/", kPage},           {"/moderator", kPage},         {"/speaker", kPage},
      {"/tech", kPage},       {"/captioner", kPage},    {"/vod/", kPage},          {"/live/master.m3u8", kMaster}, {"/api/health", kHealth},
      {"/metrics", kMetrics}, {"/api/incidents", kIncidents}, {"/api/qoe", kQoe},
      {"/api/tech/stream", kTechStream}, {"/api/tech/thumbnail.jpg", kTechThumbnail}, {"/api/qa", kQa},
  };
  for (const auto& [exact, route] : kExact)
    if (path == exact) return route;
  if (path.starts_with("/api/qa/")) return kQa;
  if (path == kCaptionsPrefix || path.starts_with("/api/captions/")) return kCaptions;
  if (path == kProgrammePrefix || path == kProgrammeIcsPath || path.starts_with("/api/programme/")) return kProgramme;
  if (path == kVodApiPath || path.starts_with("/api/vod/") || path.starts_with(kVodPrefix)) return kVod;
  if (path == kRecordingPrefix || path.starts_with("/api/recording/")) return kRecording;
  if (path.starts_with(kIngestPrefix)) return kIngest;
  if (path.starts_with("/static/") || path.starts_with("/vendor/")) return kStaticFile;
  if (path.starts_with("/live/")) {
    if (path.ends_with(".m3u8")) return kPlaylist;
    // The shapes of hls/object_names.hpp; the router decides whether the name is a real one.
    const std::string_view file = path.substr(path.rfind('/') + 1);
    if (file.starts_with("init-")) return kInit;
    if (file.starts_with("part-")) return kPart;
    if (file.starts_with("seg-")) return kSegment;
    return kLiveOther;
  }
  return kOther;
}

bool is_websocket_upgrade(const net::Request& req) {
  return http::token_list(req[http::field::connection]).exists("upgrade") &&
         boost::beast::iequals(req[http::field::upgrade], "websocket");
}

net::Response not_found_json() {
  return net::make_json_error(http::status::not_found, "not_found", "this API is not enabled");
}

// What the operator's port (health.listen) serves: the technician's surfaces and /api/health.
bool served_on_operator_port(size_t route) {
  switch (route) {
    case kHealth: case kMetrics: case kIncidents: case kTechStream: case kTechThumbnail:
      return true;
    default:
      return false;
  }
}

}  // namespace

RouteLabel classify_route(std::string_view target) { return routes()[route_of(target)].label; }

RouteTable::RouteTable(const config::EdgeConfig& edge, const delivery::Router& router, const QaApi* qa,
                       const HealthApi* health, Port port, const PushApi* push,
                       const std::vector<std::string>& media_origins)
    : router_(router),
      qa_(qa),
      health_(health),
      port_(port),
      push_(push),
      ingest_info_(routes()[kIngest].info),
      cors_origins_(edge.cors_origins),
      cors_any_origin_(std::find(cors_origins_.begin(), cors_origins_.end(), "*") != cors_origins_.end()),
      policy_(edge, media_origins) {
  // Only a push receiver takes bodies larger than the edge's limit, on its ingest routes only.
  ingest_info_.max_body_bytes = push_ && port_ == Port::edge ? push_->max_body_bytes() : 0;
}

size_t RouteTable::route(std::string_view target) const { return route_of(target); }

size_t RouteTable::lookup(std::string_view target) { return route_of(target); }

const net::RouteInfo& RouteTable::info(size_t route) const {
  if (route == kIngest) return ingest_info_;
  return routes()[route < kRouteCount ? route : kOther].info;
}

RouteLabel RouteTable::label(size_t route) { return routes()[route < kRouteCount ? route : kOther].label; }

uint64_t RouteTable::body_limit(size_t route, const net::RequestHeader& header) const {
  if (route != kIngest || !push_) return info(route).max_body_bytes;
  return push_->authorized(header) ? ingest_info_.max_body_bytes : 0;
}

Service RouteTable::service(size_t route) { return routes()[route < kRouteCount ? route : kOther].service; }

net::Outcome RouteTable::serve(const net::Exchange& exchange) const {
  const bool read = exchange.message.method() == http::verb::get || exchange.message.method() == http::verb::head;
  if (exchange.route == kHealth && read) {
    // Everyone may learn whether the stream is fine and why not, by code; the
    // input's address, its errors and the alerts' texts are the technician's.
    return router_.serve_health(exchange.message,
                                port_ == Port::operator_port || (health_ != nullptr && health_->allows_detail(exchange)));
  }
  switch (service(exchange.route)) {
    case Service::qa:
      return qa_ ? qa_->handle(exchange) : not_found_json();
    case Service::health:
      return health_ ? health_->handle(exchange, port_) : not_found_json();
    case Service::push:
      if (push_) return push_->handle(exchange);
      return net::make_json_error(http::status::unauthorized, "push_not_configured",
                                  "this relay takes no pushed media: set ingest.source = \"push:\" and ingest.push_tokens");
    case Service::captions:
      return captions_ ? captions_->handle(exchange)
                       : net::make_json_error(http::status::not_found, "captions_off",
                                              "live captions are off: set [captions] languages");
    case Service::programme:
      return programme_ ? programme_->handle(exchange)
                        : net::make_json_error(http::status::not_found, "programme_off",
                                               "the programme is not enabled on this relay");
    case Service::vod:
      return vod_ ? vod_->handle(exchange)
                  : net::make_json_error(http::status::not_found, "vod_off",
                                         "recordings on demand are off on this relay: set [vod] enabled");
    case Service::recording:
      return recording_ ? recording_->handle(exchange)
                        : net::make_json_error(http::status::not_found, "recording_off",
                                               "the recording is not available on this relay");
    case Service::delivery:
      break;
  }
  return router_.handle(exchange);
}

net::Outcome RouteTable::handle(const net::Exchange& exchange) const {
  net::Outcome outcome = [&]() -> net::Outcome {
    // The operator's port is plain HTTP on a private address: no redirect, no pages.
    if (port_ == Port::operator_port) {
      if (served_on_operator_port(exchange.route)) return serve(exchange);
      return net::make_json_error(http::status::not_found, "not_found",
                                  "the operator's port serves /api/health, /metrics, /api/incidents and /api/tech/ only");
    }
    const net::Request& req = exchange.message;
    if (auto redirect = policy_.redirect_to_https(req[http::field::host], req.target(), exchange.secure))
      return std::move(*redirect);
    // A page of another site may not open a live feed in its visitor's name.
    if (is_websocket_upgrade(req) &&
        !policy_.websocket_origin_allowed(req[http::field::origin], req[http::field::host], exchange.secure)) {
      net::Response res = net::make_json_error(http::status::forbidden, "origin_not_allowed",
                                               "WebSocket connections are accepted from this relay's own pages only "
                                               "(edge.websocket_origins)");
      res.keep_alive(false);
      return res;
    }
    return serve(exchange);
  }();
  if (auto* response = std::get_if<net::Response>(&outcome)) {
    finish(exchange.route, exchange.message[http::field::origin], exchange.secure, *response);
  } else if (auto* deferred = std::get_if<net::Deferred>(&outcome)) {
    // The response comes later, from another thread: it is finished there. The
    // request it answers was copied by whoever deferred it; only the route and
    // the Origin are needed here, so they are kept by value.
    deferred->start = [start = std::move(deferred->start), this, route = exchange.route, secure = exchange.secure,
                       origin = std::string(exchange.message[http::field::origin])](net::Deferred::Complete complete) {
      start([this, route, secure, origin, complete = std::move(complete)](net::Response res) {
        finish(route, origin, secure, res);
        complete(std::move(res));
      });
    };
  }
  return outcome;
}

net::Response RouteTable::expire(const net::Exchange& exchange, const net::Hold& hold) const {
  net::Response res = router_.expire(exchange, hold);
  finish(exchange.route, exchange.message[http::field::origin], exchange.secure, res);
  return res;
}

void RouteTable::finish(size_t route, std::string_view origin, bool secure, net::Response& res) const {
  const RouteEntry& entry = routes()[route < kRouteCount ? route : kOther];
  net::set_common_headers(res);
  policy_.apply(res, entry.page, secure);
  if (entry.cors) apply_cors(origin, res);
}

void RouteTable::apply_cors(std::string_view origin, net::Response& res) const {
  // With a list of origins the answer depends on Origin, so a shared cache must key
  // on it even for requests without one, or it would hand one site's answer to another.
  if (!cors_any_origin_ && !cors_origins_.empty()) {
    std::string_view vary = res[http::field::vary];
    res.set(http::field::vary, vary.empty() ? std::string("Origin") : fmt::format("{}, Origin", vary));
  }
  if (origin.empty()) return;
  if (cors_any_origin_) {
    res.set(http::field::access_control_allow_origin, "*");
  } else if (std::find(cors_origins_.begin(), cors_origins_.end(), origin) != cors_origins_.end()) {
    res.set(http::field::access_control_allow_origin, origin);
  }
}

}  // namespace relay::api
