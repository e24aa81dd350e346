#include <string>
#include <variant>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "health/alerts.hpp"
#include "health/qoe.hpp"

using namespace relay::health;

namespace {

QoeReport parsed(const std::string& body) {
  auto r = parse_qoe_report(body);
  if (auto* e = std::get_if<std::string>(&r)) FAIL(*e);
  return std::get<QoeReport>(r);
}

std::string error_of(const std::string& body) {
  auto r = parse_qoe_report(body);
  REQUIRE(std::holds_alternative<std::string>(r));
  return std::get<std::string>(r);
}

QoeReport report(std::string session, double latency, std::string rendition, uint32_t stalls = 0) {
  QoeReport r;
  r.session = std::move(session);
  r.latency_s = latency;
  r.buffer_s = 2;
  r.rendition = std::move(rendition);
  r.stalls = stalls;
  return r;
}

// Whether the viewer_stalls rule (1 a viewer-minute, no hold) fires on this summary.
bool stall_alert_fires(const QoeSummary& summary) {
  relay::config::HealthConfig cfg;
  cfg.viewer_stalls_per_minute_max = 1;
  cfg.viewer_stalls_hold_s = 0;
  AlertRules rules(cfg, 2.0);
  HealthSample sample;
  sample.now_ms = 1'700'000'000'000;
  sample.ingest_state = IngestState::live;
  if (summary.viewers > 0) sample.stalls_per_viewer_minute = summary.stalls_per_viewer_minute;
  for (const auto& e : rules.evaluate(sample)) {
    if (e.rule == "viewer_stalls" && e.firing) return true;
  }
  return false;
}

// `viewers` players in networks of their own reporting every 10 s for a minute,
// each with `stalls` per report; `extra` runs at each 2 s step as well.
template <typename Extra>
QoeSummary a_minute_of(QoeAggregator& q, int64_t t0, int viewers, uint32_t stalls, Extra extra) {
  for (int64_t t = 0; t <= 60000; t += 2000) {
    if (t % 10000 == 0) {
      for (int v = 0; v < viewers; ++v)
        q.accept(report("real-viewer-" + std::to_string(v), 2, "720p", stalls),
                 "198.51." + std::to_string(v / 200) + "." + std::to_string(v % 200 + 1), t0 + t);
    }
    extra(t0 + t);
  }
  return q.summary(t0 + 60000);
}

}  // namespace

TEST_CASE("a QoE report is parsed and checked", "[qoe]") {
  QoeReport r = parsed(R"({"session":"abcDEF12-_","latency_s":2.5,"buffer_s":1.25,"rendition":"720p","stalls":1,"errors":0})");
  CHECK(r.session == "abcDEF12-_");
  CHECK(r.latency_s == 2.5);
  CHECK(r.buffer_s == 1.25);
  CHECK(r.rendition == "720p");
  CHECK(r.stalls == 1);
  CHECK_FALSE(parsed(R"({"session":"abcdefgh","latency_s":null})").latency_s);

  CHECK(error_of("{") == "the body is not valid JSON");
  CHECK(error_of("[1]") == "the body must be a JSON object");
  CHECK(error_of("{}") == "'session' is missing");
  CHECK(error_of(R"({"session":"short"})") == "'session' must be 8..64 of A-Z a-z 0-9 _ -");
  CHECK(error_of(R"({"session":"abcdefgh<"})") == "'session' must be 8..64 of A-Z a-z 0-9 _ -");
  CHECK(error_of(R"({"session":"abcdefgh","latency_s":-1})") == "'latency_s' must be a number from 0 to 3600");
  CHECK(error_of(R"({"session":"abcdefgh","buffer_s":"2"})") == "'buffer_s' must be a number from 0 to 3600");
  CHECK(error_of(R"({"session":"abcdefgh","stalls":1.5})") == "'stalls' must be a whole number from 0 to 1000");
  CHECK(error_of(R"({"session":"abcdefgh","stalls":-1})") == "'stalls' must be a whole number from 0 to 1000");
  CHECK(error_of(R"({"session":"abcdefgh","rendition":"<b>"})") == "'rendition' must be at most 32 of A-Z a-z 0-9 _ -");
  CHECK(error_of(R"({"session":"abcdefgh","cookie":1})").starts_with("unknown key 'cookie'"));
  CHECK(error_of(std::string(kMaxQoeReportBytes + 1, ' ')).starts_with("the report is larger than"));
}

TEST_CASE("viewers, renditions, latency and stalls are summed over the last 30 s", "[qoe]") {
  QoeAggregator q;
  const int64_t t = 1'000'000;
  CHECK(q.accept(report("viewer-one", 2.0, "720p", 1), "10.0.0.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("viewer-two", 4.0, "360p"), "10.0.0.2", t + 1000) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("viewer-3-x", 3.0, "720p", 2), "10.0.0.2", t + 2000) == QoeAggregator::Verdict::accepted);
  QoeSummary s = q.summary(t + 3000);
  CHECK(s.viewers == 3);
  CHECK(s.viewers_by_rendition == std::map<std::string, double>{{"360p", 1}, {"720p", 2}});
  REQUIRE(s.latency_quantiles.size() == 3);
  CHECK(s.latency_quantiles[0] == std::pair<double, double>{0.5, 3.0});
  CHECK(s.latency_quantiles[2] == std::pair<double, double>{0.99, 4.0});
  CHECK(s.buffer_mean_s == 2);
  // 3 stalls by 3 viewers over half a minute.
  CHECK(s.stalls_per_viewer_minute == Approx(2.0));
  CHECK(s.reports == 3);
  CHECK(s.stalls == 3);

  // 31 s after its last report a viewer is gone.
  QoeSummary later = q.summary(t + 31500);
  CHECK(later.viewers == 1);
  CHECK(later.stalls_per_viewer_minute == Approx(4.0));
  CHECK(q.summary(t + 40000).viewers == 0);
}

TEST_CASE("reports are rate limited per session and per address", "[qoe]") {
  QoeAggregator q(30000, 2000, 3, 0.1);
  const int64_t t = 1'000'000;
  CHECK(q.accept(report("session-a", 1, "720p"), "10.0.0.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-a", 1, "720p"), "10.0.0.1", t + 500) == QoeAggregator::Verdict::too_often);
  CHECK(q.accept(report("session-a", 1, "720p"), "10.0.0.1", t + 2000) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-b", 1, "720p"), "10.0.0.1", t + 2000) == QoeAggregator::Verdict::accepted);
  // The address's burst of 3 is used up; another address is not affected.
  CHECK(q.accept(report("session-c", 1, "720p"), "10.0.0.1", t + 2000) == QoeAggregator::Verdict::too_often);
  CHECK(q.accept(report("session-c", 1, "720p"), "10.0.0.9", t + 2000) == QoeAggregator::Verdict::accepted);
  q.reject();
  QoeSummary s = q.summary(t + 2000);
  CHECK(s.reports == 4);
  CHECK(s.rejected == 3);
  CHECK(s.viewers == 3);

  QoeAggregator full(30000, 2000, 100, 100, 1);
  CHECK(full.accept(report("session-a", 1, ""), "a", t) == QoeAggregator::Verdict::accepted);
  CHECK(full.accept(report("session-b", 1, ""), "a", t) == QoeAggregator::Verdict::too_many_sessions);
}

TEST_CASE("reports are limited per client network: an IPv6 /64 is one client", "[qoe]") {
  QoeAggregator q(30000, 2000, 3, 0.1);
  const int64_t t = 1'000'000;
  CHECK(q.accept(report("session-a", 1, ""), "2001:db8:1:2::1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-b", 1, ""), "2001:db8:1:2::2", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-c", 1, ""), "2001:db8:1:2:ffff::3", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-d", 1, ""), "2001:db8:1:2:aaaa::4", t) == QoeAggregator::Verdict::too_often);
  CHECK(q.accept(report("session-d", 1, ""), "2001:db8:1:3::4", t) == QoeAggregator::Verdict::accepted);
  // IPv4 mapped into IPv6 is the same client as the IPv4 address.
  CHECK(q.accept(report("session-e", 1, ""), "192.0.2.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-f", 1, ""), "::ffff:192.0.2.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-g", 1, ""), "192.0.2.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-h", 1, ""), "::ffff:192.0.2.1", t) == QoeAggregator::Verdict::too_often);
}

TEST_CASE("a session's stalls count at most 3 a minute", "[qoe]") {
  QoeAggregator q;
  const int64_t t = 1'000'000;
  CHECK(q.accept(report("noisy-session", 1, "720p", 1000), "10.0.0.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.summary(t).stalls == 3);
  CHECK(q.accept(report("noisy-session", 1, "720p", 5), "10.0.0.1", t + 10000) == QoeAggregator::Verdict::accepted);
  CHECK(q.summary(t + 10000).stalls == 3);
  // A minute after the first, the session may count stalls again.
  CHECK(q.accept(report("noisy-session", 1, "720p", 2), "10.0.0.1", t + 60000) == QoeAggregator::Verdict::accepted);
  CHECK(q.summary(t + 60000).stalls == 5);
}

TEST_CASE("sessions expire on the timer, not when a report comes", "[qoe]") {
  QoeAggregator q(30000, 2000, 60, 10, 2);
  const int64_t t = 1'000'000;
  CHECK(q.accept(report("session-a", 1, ""), "10.0.0.1", t) == QoeAggregator::Verdict::accepted);
  CHECK(q.accept(report("session-b", 1, ""), "10.0.0.2", t) == QoeAggregator::Verdict::accepted);
  // Gone from the summary after the window, but still held until expire() runs.
  CHECK(q.summary(t + 40000).viewers == 0);
  CHECK(q.accept(report("session-c", 1, ""), "10.0.0.3", t + 40000) == QoeAggregator::Verdict::too_many_sessions);
  q.expire(t + 40000);
  CHECK(q.accept(report("session-c", 1, ""), "10.0.0.3", t + 40000) == QoeAggregator::Verdict::accepted);
}

TEST_CASE("fake stall reports from one network do not fire viewer_stalls", "[qoe]") {
  QoeAggregator q;
  const int64_t t0 = 1'000'000;
  int next_session = 0;
  // 20 viewers watching without a stall; one client in one /64 makes up new
  // sessions and addresses as fast as the rate limit lets it, each claiming
  // 1000 stalls, and one session of its own claims 1000 every 2 s.
  QoeSummary s = a_minute_of(q, t0, 20, 0, [&](int64_t now) {
    for (int i = 0; i < 30; ++i) {
      const std::string address = fmt::format("2001:db8:bad:1:{:x}::1", next_session + 1);
      q.accept(report(fmt::format("fake-{:08d}", next_session++), 2, "720p", 1000), address, now);
    }
    q.accept(report("fake-steady-session", 2, "720p", 1000), "203.0.113.66", now);
  });
  INFO("stalls a viewer-minute: " << s.stalls_per_viewer_minute);
  CHECK(s.stalls_per_viewer_minute <= 1.0);
  CHECK_FALSE(stall_alert_fires(s));
}

TEST_CASE("real stalls in many sessions and networks fire viewer_stalls", "[qoe]") {
  QoeAggregator q;
  // 50 viewers in their own networks, each stalling once every 10 s report.
  QoeSummary s = a_minute_of(q, 1'000'000, 50, 1, [](int64_t) {});
  INFO("stalls a viewer-minute: " << s.stalls_per_viewer_minute);
  CHECK(s.stalls_per_viewer_minute > 1.0);
  CHECK(stall_alert_fires(s));

  // A hall behind one NAT address: only a few of its sessions count, so alone it cannot fire the alert.
  QoeAggregator hall;
  QoeSummary one_network = a_minute_of(hall, 1'000'000, 0, 0, [&](int64_t now) {
    if ((now - 1'000'000) % 10000 != 0) return;
    for (int v = 0; v < 40; ++v) hall.accept(report(fmt::format("hall-viewer-{}", v), 2, "720p", 1), "192.0.2.10", now);
  });
  CHECK(one_network.viewers == 40);
  CHECK_FALSE(stall_alert_fires(one_network));
}
