#pragma once
// The application's one Handler: the table of routes the transport consults
// once per request, and what each route is served by — the live media, pages
// and /api/health (delivery::Router), the Q&A API and its WebSocket (QaApi),
// the technician's surfaces and players' reports (HealthApi). It also
// "finishes" every response the same way: the common header fields, and CORS
// on the routes a player from another origin may fetch. It refuses WebSocket
// upgrades from other sites' pages and, with HTTPS configured, sends plain
// HTTP requests there (BrowserPolicy).
#include <string>
#include <string_view>
#include <vector>

#include "api/browser_policy.hpp"
#include "api/health_api.hpp"
#include "api/route_label.hpp"
#include "config/config.hpp"
#include "net/handler.hpp"

namespace relay::delivery {
class Router;
}

namespace relay::api {

class QaApi;
class PushApi;
class CaptionsApi;
class ProgrammeApi;
class VodApi;
class RecordingApi;

// What serves a route.
enum class Service { delivery, qa, health, push, captions, programme, recording, vod };

class RouteTable : public net::Handler {
 public:
  // The router must outlive the table; `qa` and `health` may be null (their routes then answer 404).
  // A table for the operator's port (health.listen) serves only the technician's
  // surfaces and /api/health, all without a token; anything else answers 404.
  // `push` (HLS ingest by PUT under /ingest/) may be null too: its routes then answer 401 push_not_configured.
  // `media_origins` go to the pages' Content-Security-Policy (BrowserPolicy).
  RouteTable(const config::EdgeConfig& edge, const delivery::Router& router, const QaApi* qa,
             const HealthApi* health, Port port = Port::edge, const PushApi* push = nullptr,
             const std::vector<std::string>& media_origins = {});

  size_t route(std::string_view target) const override;
  const net::RouteInfo& info(size_t route) const override;
  uint64_t largest_body_bytes() const override { return ingest_info_.max_body_bytes; }
  // A push with a valid token may send an object up to the push receiver's
  // limit; without one, no more than the edge's, so nobody without a token makes
  // the relay read (and hold) a large body before refusing it.
  uint64_t body_limit(size_t route, const net::RequestHeader& header) const override;
  net::Outcome handle(const net::Exchange& exchange) const override;
  net::Response expire(const net::Exchange& exchange, const net::Hold& hold) const override;

  // route() without a table: the routes are fixed.
  static size_t lookup(std::string_view target);
  // For tests and /metrics: the label and the service of a route.
  static RouteLabel label(size_t route);
  static Service service(size_t route);

  // Live captions' API (/api/captions/); unset, its routes answer 404. Before the server starts.
  void set_captions(const CaptionsApi* captions) { captions_ = captions; }
  // The programme's API (/api/programme, /programme.ics); unset, its routes answer 404. Before the server starts.
  void set_programme(const ProgrammeApi* programme) { programme_ = programme; }
  // Recordings on demand (/api/vod, /vod/<event>/...); unset, they answer 404. Before the server starts.
  void set_vod(const VodApi* vod) { vod_ = vod; }
  // The recording's API (/api/recording); unset, its routes answer 404. Before the server starts.
  void set_recording(const RecordingApi* recording) { recording_ = recording; }

  // The bound HTTPS port, for the redirect from plain HTTP (edge.plain_http).
  void set_tls_port(uint16_t port) { policy_.set_tls_port(port); }
  const BrowserPolicy& policy() const { return policy_; }

 private:
  // Common header fields, the browser policy's, and CORS where the route allows it.
  void finish(size_t route, std::string_view origin, bool secure, net::Response& res) const;
  void apply_cors(std::string_view origin, net::Response& res) const;
  net::Outcome serve(const net::Exchange& exchange) const;

  const delivery::Router& router_;
  const QaApi* qa_;
  const HealthApi* health_;
  Port port_;
  const PushApi* push_;
  const CaptionsApi* captions_ = nullptr;
  const ProgrammeApi* programme_ = nullptr;
  const VodApi* vod_ = nullptr;
  const RecordingApi* recording_ = nullptr;
  net::RouteInfo ingest_info_;  // its body limit is the push receiver's
  std::vector<std::string> cors_origins_;
  bool cors_any_origin_ = false;
  BrowserPolicy policy_;
};

}  // namespace relay::api
