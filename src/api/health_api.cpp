#include "api/health_api.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "api/metrics_exposition.hpp"
#include "common/text.hpp"
#include "health/process_stats.hpp"

namespace relay::api {
namespace http = boost::beast::http;
namespace {

constexpr std::string_view kMetricsPath = "/metrics", kIncidentsPath = "/api/incidents", kQoePath = "/api/qoe",
                           kStreamPath = "/api/tech/stream", kThumbnailPath = "/api/tech/thumbnail.jpg";
constexpr size_t kHistoryPoints = 15 * 60;  // a point a second

using net::make_json_error;
using net::make_json_response;

// The dashboard's events for one technician: ends once a reload withdrew the
// token that opened it.
class TechEvents : public net::EventSource, public auth::Grant {
 public:
  explicit TechEvents(const HealthApi& api) : api_(api) {}
  Bytes next(bool first) override {
    if (revoked_.load(std::memory_order_acquire)) return nullptr;
    return api_.shared_event(first);
  }
  void revoke() override { revoked_.store(true, std::memory_order_release); }

 private:
  const HealthApi& api_;
  std::atomic<bool> revoked_{false};
};

nlohmann::json incident_json(const health::Incident& i) {
  return {{"id", i.id},
          {"rule", i.rule},
          {"message", i.message},
          {"fired_at", format_iso8601_ms(i.fired_at_ms)},
          {"ended_at", i.ended_at_ms ? nlohmann::json(format_iso8601_ms(*i.ended_at_ms)) : nlohmann::json(nullptr)},
          {"ending", i.ended_at_ms ? nlohmann::json(i.ending) : nlohmann::json(nullptr)}};
}

}  // namespace

HealthApi::HealthApi(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
                     const net::StatsCounters& stats, const health::Monitor* monitor, health::QoeAggregator& qoe,
                     auth::Authority& authority)
    : cfg_(cfg), store_(store), ingest_(ingest), stats_(stats), authority_(authority), monitor_(monitor), qoe_(qoe) {}

std::string HealthApi::token_of(const net::Exchange& exchange) {
  // Only from the header: a token in a URL ends up in logs, histories and Referer headers.
  return std::string(text::bearer_token(exchange.message[http::field::authorization]));
}

net::Outcome HealthApi::open_stream(std::string_view token, Port port) const {
  if (auto refused = refuse_unless_technician(token, port)) {
    refused->keep_alive(false);
    return std::move(*refused);
  }
  auto events = std::make_shared<TechEvents>(*this);
  // On the public port, checked again on every reload: a withdrawn token ends
  // the stream. The operator's port needs no token, so nothing can withdraw it.
  if (port == Port::edge) {
    authority_.watch(token, [](const auth::Authority& authority, std::string_view t) {
      return authority.allows_technician(t);
    }, events);
  }
  return net::Upgrade{nullptr, std::move(events)};
}

// A dashboard that sees the same event twice shows the same figures; one that
// sees an event up to a second late does not notice. So an event is built once
// a second and shared, and a hundred open dashboards cost what one does.
constexpr int64_t kSharedEventStaleMs = 2000;

Bytes HealthApi::build_shared_event() const {
  Bytes event = make_bytes(stream_event());
  std::lock_guard lock(shared_mutex_);
  share_locked(event);
  return event;
}

void HealthApi::share_locked(Bytes event) const {
  shared_event_ = std::move(event);
  shared_event_with_history_ = nullptr;
  shared_built_ms_ = now_monotonic_ms();
  ++events_built_;
}

Bytes HealthApi::shared_event(bool with_history) const {
  std::lock_guard lock(shared_mutex_);
  // Built under the lock: streams asking at the same moment wait for one build rather than each making one.
  if (!shared_event_ || now_monotonic_ms() - shared_built_ms_ >= kSharedEventStaleMs)
    share_locked(make_bytes(stream_event()));
  if (!with_history) return shared_event_;
  if (!shared_event_with_history_) {
    std::string text = *shared_event_;
    text.pop_back();  // the closing brace
    shared_event_with_history_ = make_bytes(text + ",\"history\":" + history_json() + "}");
  }
  return shared_event_with_history_;
}

uint64_t HealthApi::events_built() const {
  std::lock_guard lock(shared_mutex_);
  return events_built_;
}

std::string HealthApi::history_json() const {
  std::string history = "[";
  std::lock_guard lock(history_mutex_);
  for (const auto& point : history_) {
    if (history.size() > 1) history += ',';
    history += point;
  }
  return history + ']';
}

bool HealthApi::allows_detail(const net::Exchange& exchange) const {
  return authority_.allows_technician(token_of(exchange));
}

void HealthApi::record_history() {
  // The same figures the live events carry, in the form the page charts.
  nlohmann::json event = nlohmann::json::parse(*build_shared_event());
  nlohmann::json kbps = nlohmann::json::array();
  for (const auto& r : event["renditions"]) kbps.push_back(r["kbps"]);
  const nlohmann::json& input = event["input"];
  nlohmann::json point = {
      {"t", event["t"]},
      {"input_kbps", input.is_object() ? input["kbps"] : nlohmann::json(nullptr)},
      {"input_fps", input.is_object() ? input["fps"] : nlohmann::json(nullptr)},
      {"rendition_kbps", std::move(kbps)},
      {"viewers", event["viewers"]},
      {"latency_s", event["latency_s"]},
  };
  std::lock_guard lock(history_mutex_);
  history_.push_back(point.dump());
  while (history_.size() > kHistoryPoints) history_.pop_front();
}

std::string HealthApi::stream_event(bool with_history) const {
  using nlohmann::json;
  const int64_t now = now_epoch_ms();
  const health::IngestSnapshot ingest = ingest_.snapshot();
  json input = nullptr;
  if (const health::InputInfo* i = health::on_air_input(ingest)) {
    input = {{"role", i->role},
             {"kbps", i->bitrate_kbps},
             {"fps", i->framerate},
             {"width", i->width},
             {"height", i->height},
             {"frames_dropped", i->frames_dropped},
             {"frames_duplicated", i->frames_duplicated},
             {"frames_late", i->frames_late},
             {"keyframe_interval_s", i->keyframe_interval_s ? json(*i->keyframe_interval_s) : json(nullptr)}};
  }
  std::optional<health::HealthSample> sample = monitor_ ? monitor_->last_sample() : std::nullopt;
  health::ViewerSessions::Count viewers;
  if (monitor_) viewers = monitor_->viewers().count(now_monotonic_ms());
  json renditions = json::array();
  for (size_t i = 0; i < store_.rendition_count(); ++i) {
    auto snapshot = store_.rendition(i);
    const std::string& name = store_.names()[i];
    auto watching = viewers.by_rendition.find(name);
    json r = {{"name", name},
              {"kbps", nullptr},
              {"age_s", nullptr},
              {"realtime", nullptr},
              {"viewers", watching == viewers.by_rendition.end() ? 0 : watching->second}};
    if (snapshot && snapshot->last_segment_epoch_ms) {
      r["age_s"] = (now - snapshot->last_segment_epoch_ms) / 1000.0;
      // The newest segment's rate: what a chart of "now" should show.
      auto it = snapshot->segments.find(snapshot->last_msn);
      if (it != snapshot->segments.end() && it->second && it->second->data && it->second->duration_s > 0)
        r["kbps"] = it->second->data->size() * 8 / 1000.0 / it->second->duration_s;
    }
    if (sample && i < sample->renditions.size() && sample->renditions[i].realtime_factor)
      r["realtime"] = *sample->renditions[i].realtime_factor;
    renditions.push_back(std::move(r));
  }
  const health::QoeSummary qoe = qoe_.summary(now);
  json latency = nullptr;
  for (const auto& [q, v] : qoe.latency_quantiles) {
    if (q == 0.5) latency = v;
  }
  json alerts = json::array(), incidents = json::array();
  json pending_questions = nullptr;
  if (monitor_) {
    for (const auto& a : monitor_->active())
      alerts.push_back({{"rule", a.rule}, {"since", format_iso8601_ms(a.since_ms)}, {"message", a.message}});
    for (const auto& i : monitor_->incidents(10)) incidents.push_back(incident_json(i));
    if (auto pending = monitor_->pending_questions()) {
      uint64_t total = 0;
      for (const auto& [room, count] : *pending) total += count;
      pending_questions = total;
    }
  }
  auto finite_or_floor = [](const std::optional<double>& db) -> json {
    if (!db) return nullptr;
    return std::max(-200.0, *db);
  };
  json event = {
      {"t", now},
      {"ingest", {{"state", health::to_string(ingest.state)}, {"since", format_iso8601_ms(ingest.since_epoch_ms)},
                  {"output", ingest.output}}},
      {"input", std::move(input)},
      {"renditions", std::move(renditions)},
      {"viewers", viewers.total},
      {"qoe_sessions", qoe.viewers},
      {"latency_s", std::move(latency)},
      {"stalls_per_minute", qoe.stalls_per_viewer_minute},
      {"audio", {{"rms_db", finite_or_floor(now - ingest.audio_level_epoch_ms < 3000 ? ingest.audio_rms_db : std::nullopt)},
                 {"peak_db", finite_or_floor(now - ingest.audio_level_epoch_ms < 3000 ? ingest.audio_peak_db : std::nullopt)}}},
      {"alerts", std::move(alerts)},
      {"incidents", std::move(incidents)},
      {"pending_questions", std::move(pending_questions)},
      {"thumbnail", ingest_.thumbnail() != nullptr},
  };
  std::string text = event.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!with_history) return text;
  text.pop_back();  // the closing brace
  return text + ",\"history\":" + history_json() + "}";
}

net::Outcome HealthApi::handle(const net::Exchange& exchange, Port port) const {
  if (!exchange.target.ok()) return make_json_error(http::status::bad_request, "bad_target", exchange.target.error);
  try {
    return dispatch(exchange, port);
  } catch (const std::exception& e) {
    log::get("health")->error("{} {}: {}", exchange.message.method_string(), exchange.target.path, e.what());
    return make_json_error(http::status::internal_server_error, "internal", "internal error");
  }
}

net::Outcome HealthApi::dispatch(const net::Exchange& exchange, Port port) const {
  const net::Request& req = exchange.message;
  const std::string_view path = exchange.target.path;
  const bool read = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == kQoePath) {
    if (req.method() == http::verb::post) return qoe(req, exchange.client);
    Response res = make_json_error(http::status::method_not_allowed, "method_not_allowed", "POST a report here");
    res.set(http::field::allow, "POST");
    return res;
  }
  if (!read) {
    Response res = make_json_error(http::status::method_not_allowed, "method_not_allowed", "method not allowed");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  const std::string token = token_of(exchange);
  if (auto refused = refuse_unless_technician(token, port); refused && path != kStreamPath)
    return std::move(*refused);
  if (path == kMetricsPath) return metrics();
  if (path == kThumbnailPath) {
    auto jpeg = ingest_.thumbnail();
    if (!jpeg) return make_json_error(http::status::service_unavailable, "not_ready", "no picture yet");
    Response res = make_json_response(http::status::ok, "");
    res.set(http::field::content_type, "image/jpeg");
    res.body() = net::BytesBody::value_type(jpeg);
    res.content_length(jpeg->size());
    return res;
  }
  if (path == kStreamPath) {
    if (req.method() == http::verb::get) return open_stream(token, port);
    if (auto refused = refuse_unless_technician(token, port)) return std::move(*refused);
    // A HEAD of the stream: the header a GET would start with.
    Response res = make_json_response(http::status::ok, "");
    res.set(http::field::content_type, "text/event-stream; charset=utf-8");
    return res;
  }
  return incidents();
}

Response HealthApi::metrics() const {
  const int64_t now = now_epoch_ms();
  MetricsInputs in(store_, ingest_.snapshot(), stats_.snapshot(), cfg_.hls, now);
  in.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (monitor_) {
    in.sample = monitor_->last_sample();
    in.alerts = monitor_->active();
    in.alerts_fired = monitor_->alerts_fired();
  }
  in.process = health::read_process_stats();
  in.qoe = qoe_.summary(now);
  if (uplink_status_) in.uplink = uplink_status_();
  if (recording_status_) in.recording = recording_status_();
  if (qa_status_) in.qa_database = qa_status_();
  if (monitor_) {
    in.viewers = monitor_->viewers().count(now_monotonic_ms());
    in.pending_questions = monitor_->pending_questions();
  }
  Response res = make_json_response(http::status::ok, render_metrics(in));
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  return res;
}

std::optional<Response> HealthApi::refuse_unless_technician(std::string_view token, Port port) const {
  if (port == Port::operator_port || authority_.allows_technician(token)) return std::nullopt;
  // Closed by default: the answer says how to open it, never which tokens exist.
  Response res = authority_.technicians_configured()
                     ? make_json_error(http::status::unauthorized, "unauthorized",
                                       "a technician token is needed (Authorization: Bearer <token>)")
                     : make_json_error(http::status::unauthorized, "technician_access_not_configured",
                                       "technician access is not configured: add a token to qa.technician_tokens "
                                       "and send it as Authorization: Bearer <token>, or set health.listen "
                                       "(e.g. \"127.0.0.1:9100\") for a private port without tokens");
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

Response HealthApi::incidents() const {
  nlohmann::json active = nlohmann::json::array(), incidents = nlohmann::json::array();
  if (monitor_) {
    for (const auto& a : monitor_->active())
      active.push_back({{"rule", a.rule}, {"since", format_iso8601_ms(a.since_ms)}, {"message", a.message}});
    for (const auto& i : monitor_->incidents(200)) incidents.push_back(incident_json(i));
  }
  return make_json_response(http::status::ok,
                            nlohmann::json{{"active", std::move(active)}, {"incidents", std::move(incidents)}}.dump(
                                -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response HealthApi::qoe(const net::Request& req, std::string_view client) const {
  if (auto refused = net::refuse_unless_json(req)) {
    qoe_.reject();
    return std::move(*refused);
  }
  if (req.body().size() > health::kMaxQoeReportBytes) {
    qoe_.reject();
    return make_json_error(http::status::payload_too_large, "too_large",
                      fmt::format("a report is at most {} bytes", health::kMaxQoeReportBytes));
  }
  auto parsed = health::parse_qoe_report(req.body());
  if (auto* error = std::get_if<std::string>(&parsed)) {
    qoe_.reject();
    return make_json_error(http::status::bad_request, "bad_report", *error);
  }
  const health::QoeReport& report = std::get<health::QoeReport>(parsed);
  switch (qoe_.accept(report, std::string(client), now_epoch_ms())) {
    case health::QoeAggregator::Verdict::accepted: {
      // Behind an HTTP cache most of a player's media requests never reach the
      // relay, but its reports do (caches pass /api/qoe through): they keep the
      // session counted as a viewer. Only under a rendition that exists, so a
      // report cannot add labels to the viewer metrics.
      if (monitor_ && store_.find(report.rendition))
        monitor_->viewers().record(report.session, report.rendition, now_monotonic_ms());
      Response res{http::status::no_content, 11};
      res.set(http::field::cache_control, "no-store");
      res.set(http::field::server, net::kServerName);
      return res;
    }
    case health::QoeAggregator::Verdict::too_often: {
      Response res = make_json_error(http::status::too_many_requests, "too_often", "reports come too often");
      res.set(http::field::retry_after, "2");
      return res;
    }
    case health::QoeAggregator::Verdict::too_many_sessions:
      break;
  }
  Response res = make_json_error(http::status::service_unavailable, "busy", "too many viewers are reporting");
  res.set(http::field::retry_after, "30");
  return res;
}

}  // namespace relay::api
