#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/health_api.hpp"
#include "api/route_table.hpp"
#include "exchange.hpp"
#include "net/stats.hpp"
#include "common/clock.hpp"
#include "health/monitor.hpp"

using namespace relay;
namespace http = boost::beast::http;

namespace {

constexpr const char* kToken = "technician-unit-0123456789abcdef";

struct Fixture {
  Fixture() {
    std::random_device random;
    dir = std::filesystem::temp_directory_path() / ("relay-health-api-" + std::to_string(random()));
    cfg.qa.data_dir = dir;
    cfg.qa.technician_tokens = {kToken};
    cfg.health.input_lost_hold_s = 0;
    monitor = std::make_unique<health::Monitor>(cfg, 0);
    authority = std::make_unique<auth::Authority>(cfg.qa);
    api = std::make_unique<api::HealthApi>(cfg, store, ingest, stats, monitor.get(), qoe, *authority);
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  static net::Request request(http::verb method, const std::string& target, const std::string& body = "",
                              const std::string& token = "") {
    net::Request req{method, target, 11};
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    return req;
  }
  net::Response call(http::verb method, const std::string& target, const std::string& body = "",
                     const std::string& token = "") {
    return test::respond(*api, request(method, target, body, token), "10.0.0.1");
  }
  net::Outcome outcome(http::verb method, const std::string& target, const std::string& token = "") {
    return test::handle(*api, request(method, target, "", token), "10.0.0.1");
  }
  static std::string text(const net::Response& res) {
    return res.body().size() && res.body().data() ? *res.body().data() : std::string();
  }

  std::filesystem::path dir;
  config::Config cfg;
  hls::Store store{{"720p"}};
  health::IngestStatus ingest{"test:"};
  net::StatsCounters stats;
  health::QoeAggregator qoe;
  std::unique_ptr<health::Monitor> monitor;
  std::unique_ptr<auth::Authority> authority;
  std::unique_ptr<api::HealthApi> api;
};

}  // namespace

TEST_CASE("the route table gives the health api its paths only", "[health_api]") {
  auto served_by_health = [](std::string_view target) {
    return api::RouteTable::service(api::RouteTable::lookup(target)) == api::Service::health;
  };
  CHECK(served_by_health("/metrics"));
  CHECK(served_by_health("/api/incidents?token=x"));
  CHECK(served_by_health("/api/qoe"));
  CHECK(served_by_health("/api/tech/stream"));
  CHECK(served_by_health("/api/tech/thumbnail.jpg"));
  CHECK_FALSE(served_by_health("/api/health"));
  CHECK_FALSE(served_by_health("/metrics/x"));
}

TEST_CASE("incidents, the stream and the thumbnail need a technician token", "[health_api]") {
  Fixture f;
  CHECK(f.call(http::verb::get, "/api/incidents").result() == http::status::unauthorized);
  CHECK(f.call(http::verb::get, "/api/incidents", "", "wrong-token-0123456789").result() == http::status::unauthorized);
  CHECK(f.call(http::verb::get, "/api/tech/thumbnail.jpg").result() == http::status::unauthorized);
  CHECK(f.call(http::verb::get, "/api/incidents", "", kToken).result() == http::status::ok);
  // Never from the query: a URL ends up in logs and histories.
  CHECK(f.call(http::verb::get, std::string("/api/incidents?token=") + kToken).result() == http::status::unauthorized);
  // No picture yet.
  CHECK(f.call(http::verb::get, "/api/tech/thumbnail.jpg", "", kToken).result() == http::status::service_unavailable);
  f.ingest.set_thumbnail("\xff\xd8jpeg");
  auto jpeg = f.call(http::verb::get, "/api/tech/thumbnail.jpg", "", kToken);
  CHECK(jpeg.result() == http::status::ok);
  CHECK(jpeg[http::field::content_type] == "image/jpeg");
  CHECK(Fixture::text(jpeg) == "\xff\xd8jpeg");

  auto refused = f.outcome(http::verb::get, "/api/tech/stream");
  REQUIRE(std::holds_alternative<net::Response>(refused));
  CHECK(std::get<net::Response>(refused).result() == http::status::unauthorized);
  auto stream = f.outcome(http::verb::get, "/api/tech/stream", kToken);
  REQUIRE(std::holds_alternative<net::Upgrade>(stream));
  CHECK(std::get<net::Upgrade>(stream).events);

  CHECK(f.call(http::verb::get, "/metrics").result() == http::status::unauthorized);
  CHECK(f.call(http::verb::get, "/metrics", "", kToken).result() == http::status::ok);
}

TEST_CASE("without technician tokens the surfaces are closed, and the refusal says how to open them",
          "[health_api]") {
  Fixture closed;
  closed.cfg.qa.technician_tokens.clear();
  closed.authority->reload(closed.cfg.qa);
  for (const char* target : {"/api/incidents", "/metrics", "/api/tech/thumbnail.jpg", "/api/tech/stream"}) {
    INFO(target);
    auto refused = closed.call(http::verb::get, target);
    CHECK(refused.result() == http::status::unauthorized);
    const auto error = nlohmann::json::parse(Fixture::text(refused));
    CHECK(error["error"] == "technician_access_not_configured");
    CHECK_THAT(error["message"].get<std::string>(), Catch::Contains("qa.technician_tokens") &&
                                                        Catch::Contains("health.listen"));
  }
  // The operator's port (health.listen) needs no token.
  auto on_operator_port = [&](const std::string& target) {
    const net::Request req = Fixture::request(http::verb::get, target);
    const net::RequestTarget parsed = net::parse_request_target(req.target());
    return closed.api->handle(net::Exchange{req, parsed, "127.0.0.1", 0}, api::Port::operator_port);
  };
  auto incidents = on_operator_port("/api/incidents");
  REQUIRE(std::holds_alternative<net::Response>(incidents));
  CHECK(std::get<net::Response>(incidents).result() == http::status::ok);
  auto metrics = on_operator_port("/metrics");
  REQUIRE(std::holds_alternative<net::Response>(metrics));
  CHECK(std::get<net::Response>(metrics).result() == http::status::ok);
  auto stream = on_operator_port("/api/tech/stream");
  REQUIRE(std::holds_alternative<net::Upgrade>(stream));
  CHECK(closed.authority->watched() == 0);
}

TEST_CASE("incidents list what the monitor raised", "[health_api]") {
  Fixture f;
  health::HealthSample s;
  s.now_ms = 1'700'000'000'000;
  s.ingest_state = health::IngestState::slate;
  f.monitor->observe(s);
  auto body = nlohmann::json::parse(Fixture::text(f.call(http::verb::get, "/api/incidents", "", kToken)));
  REQUIRE(body["active"].size() == 1);
  CHECK(body["active"][0]["rule"] == "input_lost");
  REQUIRE(body["incidents"].size() == 1);
  CHECK(body["incidents"][0]["fired_at"] == "2023-11-14T22:13:20.000Z");
  CHECK(body["incidents"][0]["ended_at"].is_null());
}

TEST_CASE("QoE reports: accepted, malformed, oversized, too often, wrong method", "[health_api]") {
  Fixture f;
  const std::string good = R"({"session":"unit-session-1","latency_s":2,"rendition":"720p"})";
  CHECK(f.call(http::verb::post, "/api/qoe", good).result() == http::status::no_content);
  CHECK(f.call(http::verb::post, "/api/qoe", good).result() == http::status::too_many_requests);
  auto bad = f.call(http::verb::post, "/api/qoe", "{nope");
  CHECK(bad.result() == http::status::bad_request);
  CHECK(nlohmann::json::parse(Fixture::text(bad))["error"] == "bad_report");
  CHECK(f.call(http::verb::post, "/api/qoe", std::string(3000, ' ')).result() == http::status::payload_too_large);
  // navigator.sendBeacon with a string sends text/plain, which any site may POST here.
  net::Request beacon = Fixture::request(http::verb::post, "/api/qoe", good);
  beacon.set(http::field::content_type, "text/plain;charset=UTF-8");
  CHECK(test::respond(*f.api, beacon, "10.0.0.2").result() == http::status::unsupported_media_type);
  CHECK(f.call(http::verb::get, "/api/qoe").result() == http::status::method_not_allowed);
  CHECK(f.call(http::verb::post, "/metrics").result() == http::status::method_not_allowed);
  auto summary = f.qoe.summary(relay::now_epoch_ms());
  CHECK(summary.viewers == 1);
  CHECK(summary.reports == 1);
  CHECK(summary.rejected == 4);  // malformed, oversized, not JSON, and the one too often
}

TEST_CASE("a player known only from its QoE reports counts as a viewer", "[health_api]") {
  // Behind a cache the relay may never see this player's media requests.
  Fixture f;
  CHECK(f.monitor->viewers().count(relay::now_monotonic_ms()).total == 0);
  const std::string report = R"({"session":"cached-player-1","latency_s":3,"rendition":"720p"})";
  REQUIRE(f.call(http::verb::post, "/api/qoe", report).result() == http::status::no_content);
  auto count = f.monitor->viewers().count(relay::now_monotonic_ms());
  CHECK(count.total == 1);
  CHECK(count.by_rendition == std::map<std::string, size_t>{{"720p", 1}});
  // The same session asking for media through the relay as well is still one viewer.
  f.monitor->viewers().record("cached-player-1", "720p", relay::now_monotonic_ms());
  CHECK(f.monitor->viewers().count(relay::now_monotonic_ms()).total == 1);
  // A report without a rendition, or naming none the relay has, counts no one.
  REQUIRE(f.call(http::verb::post, "/api/qoe", R"({"session":"starting-player","rendition":""})").result() ==
          http::status::no_content);
  REQUIRE(f.call(http::verb::post, "/api/qoe", R"({"session":"made-up-player","rendition":"9999p"})").result() ==
          http::status::no_content);
  CHECK(f.monitor->viewers().count(relay::now_monotonic_ms()).total == 1);
}

TEST_CASE("a dashboard event carries the figures, and the first one the history", "[health_api]") {
  Fixture f;
  auto event = nlohmann::json::parse(f.api->stream_event());
  CHECK(event["ingest"]["state"] == "starting");
  CHECK(event["renditions"][0]["name"] == "720p");
  CHECK(event["viewers"] == 0);
  CHECK(event["thumbnail"] == false);
  CHECK_FALSE(event.contains("history"));
  f.api->record_history();
  f.api->record_history();
  auto first = nlohmann::json::parse(f.api->stream_event(true));
  REQUIRE(first["history"].size() == 2);
  CHECK(first["history"][0].contains("rendition_kbps"));
  CHECK(first["history"][0]["viewers"] == 0);
}

TEST_CASE("viewers from media requests and pending questions reach the dashboard and /metrics", "[health_api]") {
  Fixture f;
  auto event = nlohmann::json::parse(f.api->stream_event());
  CHECK(event["renditions"][0]["viewers"] == 0);
  CHECK(event["pending_questions"].is_null());  // no Q&A wired in
  CHECK(Fixture::text(f.call(http::verb::get, "/metrics", "", kToken)).find("seminar_relay_qa_pending_questions") ==
        std::string::npos);

  f.monitor->viewers().record("player-one-0001", "720p", relay::now_monotonic_ms());
  f.monitor->viewers().record("player-two-0002", "720p", relay::now_monotonic_ms());
  f.monitor->set_pending_questions([] { return health::PendingQuestions{{1, 2}, {3, 1}}; });
  event = nlohmann::json::parse(f.api->stream_event());
  CHECK(event["viewers"] == 2);
  CHECK(event["renditions"][0]["viewers"] == 2);
  CHECK(event["qoe_sessions"] == 0);
  CHECK(event["pending_questions"] == 3);
  const std::string metrics = Fixture::text(f.call(http::verb::get, "/metrics", "", kToken));
  CHECK(metrics.find("\nseminar_relay_viewers{rendition=\"720p\"} 2\n") != std::string::npos);
  CHECK(metrics.find("\nseminar_relay_qa_pending_questions{room=\"1\"} 2\n") != std::string::npos);
  CHECK(metrics.find("\nseminar_relay_qa_pending_questions{room=\"3\"} 1\n") != std::string::npos);
  f.api->record_history();
  CHECK(nlohmann::json::parse(f.api->stream_event(true))["history"][0]["viewers"] == 2);
}

TEST_CASE("HEAD /metrics sends a length and no body", "[health_api]") {
  Fixture f;
  auto get = f.call(http::verb::get, "/metrics", "", kToken);
  auto head = f.call(http::verb::head, "/metrics", "", kToken);
  CHECK(get.result() == http::status::ok);
  CHECK(head.result() == http::status::ok);
  CHECK(head.body().size() == 0);
  // Uptime and CPU time move between the two calls, so only roughly the same length.
  const long get_length = std::stol(std::string(get[http::field::content_length]));
  const long head_length = std::stol(std::string(head[http::field::content_length]));
  CHECK(std::abs(head_length - get_length) < 100);
  CHECK(head_length > 1000);
  CHECK(Fixture::text(get).find("# TYPE seminar_relay_uptime_seconds gauge") != std::string::npos);
}

TEST_CASE("every open dashboard stream sends the same event bytes, built once a second", "[health_api]") {
  Fixture f;
  std::vector<std::shared_ptr<net::EventSource>> streams;
  for (int i = 0; i < 20; ++i) {
    auto stream = f.outcome(http::verb::get, "/api/tech/stream", kToken);
    REQUIRE(std::holds_alternative<net::Upgrade>(stream));
    streams.push_back(std::get<net::Upgrade>(stream).events);
  }
  // The first events carry the history; still one build between them.
  Bytes first = streams[0]->next(true);
  REQUIRE(first);
  CHECK(nlohmann::json::parse(*first).contains("history"));
  for (auto& s : streams) CHECK(s->next(true).get() == first.get());
  Bytes event = streams[0]->next(false);
  CHECK_FALSE(nlohmann::json::parse(*event).contains("history"));
  for (auto& s : streams) CHECK(s->next(false).get() == event.get());
  CHECK(f.api->events_built() == 1);

  // The health timer's second: one build more, and every stream moves on to it.
  f.api->record_history();
  CHECK(f.api->events_built() == 2);
  Bytes next = streams[0]->next(false);
  CHECK(next.get() != event.get());
  for (auto& s : streams) CHECK(s->next(false).get() == next.get());
  CHECK(f.api->events_built() == 2);
}
