#include <string>
#include <variant>

#include <catch2/catch.hpp>

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
