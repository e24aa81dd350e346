#include <cmath>
#include <limits>
#include <stdexcept>

#include <catch2/catch.hpp>

#include "health/metrics.hpp"
#include "health/process_stats.hpp"

using namespace relay::health;

TEST_CASE("a registry renders families with HELP, TYPE and labelled samples", "[metrics]") {
  MetricRegistry m;
  m.counter("seminar_relay_http_requests_total", "Responses sent")
      .add({{"route", "segment"}, {"status", "200"}}, 12)
      .add({{"route", "segment"}, {"status", "404"}}, 1);
  m.gauge("seminar_relay_uptime_seconds", "Seconds since start").add(1.5);
  m.gauge("seminar_relay_unused", "never filled");
  CHECK(m.render() ==
        "# HELP seminar_relay_http_requests_total Responses sent\n"
        "# TYPE seminar_relay_http_requests_total counter\n"
        "seminar_relay_http_requests_total{route=\"segment\",status=\"200\"} 12\n"
        "seminar_relay_http_requests_total{route=\"segment\",status=\"404\"} 1\n"
        "# HELP seminar_relay_uptime_seconds Seconds since start\n"
        "# TYPE seminar_relay_uptime_seconds gauge\n"
        "seminar_relay_uptime_seconds 1.5\n");
}

TEST_CASE("label values and help text are escaped", "[metrics]") {
  MetricRegistry m;
  m.gauge("g", "a \\ b\nc").add({{"l", "say \"hi\"\\\n"}}, 1);
  CHECK(m.render() == "# HELP g a \\\\ b\\nc\n# TYPE g gauge\ng{l=\"say \\\"hi\\\"\\\\\\n\"} 1\n");
}

TEST_CASE("the registry refuses what Prometheus would refuse", "[metrics]") {
  MetricRegistry m;
  CHECK_THROWS_AS(m.counter("requests", "no _total"), std::invalid_argument);
  CHECK_THROWS_AS(m.gauge("1abc", "starts with a digit"), std::invalid_argument);
  CHECK_THROWS_AS(m.gauge("a-b", "dash"), std::invalid_argument);
  m.gauge("ok", "x");
  CHECK_THROWS_AS(m.gauge("ok", "twice"), std::invalid_argument);
  auto& g = m.gauge("g", "x");
  CHECK_THROWS_AS(g.add({{"__name", "x"}}, 1), std::invalid_argument);
  CHECK_THROWS_AS(g.add({{"a-b", "x"}}, 1), std::invalid_argument);
  CHECK_THROWS_AS(g.add({{"a", "x"}, {"a", "y"}}, 1), std::invalid_argument);
  g.add({{"a", "1"}, {"b", "2"}}, 1);
  CHECK_THROWS_AS(g.add({{"b", "2"}, {"a", "1"}}, 2), std::invalid_argument);
  auto& c = m.counter("c_total", "x");
  CHECK_THROWS_AS(c.add(-1), std::invalid_argument);
  CHECK_THROWS_AS(c.add(std::nan("")), std::invalid_argument);
}

TEST_CASE("a summary has quantiles, a count and a sum; only it has quantiles", "[metrics]") {
  MetricRegistry m;
  m.summary("latency_seconds", "x").add({{"quantile", "0.5"}}, 2).add({{"quantile", "0.9"}}, 3).add_count_and_sum({}, 4, 9.5);
  CHECK(m.render() ==
        "# HELP latency_seconds x\n# TYPE latency_seconds summary\nlatency_seconds{quantile=\"0.5\"} 2\n"
        "latency_seconds{quantile=\"0.9\"} 3\nlatency_seconds_count 4\nlatency_seconds_sum 9.5\n");
  CHECK_THROWS_AS(m.gauge("g", "x").add({{"quantile", "0.5"}}, 1), std::invalid_argument);
  CHECK_THROWS_AS(m.summary("s", "x").add(1), std::invalid_argument);
  CHECK_THROWS_AS(m.gauge("g2", "x").add_count_and_sum({}, 1, 1), std::invalid_argument);
}

TEST_CASE("sample values use the exposition spellings", "[metrics]") {
  CHECK(format_metric_value(3) == "3");
  CHECK(format_metric_value(-2) == "-2");
  CHECK(format_metric_value(0.25) == "0.25");
  CHECK(format_metric_value(1e20) == "1e+20");
  CHECK(format_metric_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_metric_value(-std::numeric_limits<double>::infinity()) == "-Inf");
  CHECK(format_metric_value(std::nan("")) == "NaN");
}

TEST_CASE("process figures are read from /proc/self/stat and status", "[metrics][process]") {
  // A command name with spaces and parentheses, as a thread may be named.
  const std::string stat =
      "4242 (semi (relay) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 250 150 0 0 20 0 7 0 12345 987654321 5000 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  const std::string status = "Name:\tseminar-relay\nVmRSS:\t  20480 kB\nThreads:\t7\n";
  auto s = parse_process_stat(stat, status, 100, 1700000000);
  REQUIRE(s);
  CHECK(s->cpu_seconds == Approx(4.0));
  CHECK(s->threads == 7);
  CHECK(s->resident_bytes == 20480u * 1024);
  CHECK(s->virtual_bytes == 987654321u);
  CHECK(s->start_time_epoch_s == Approx(1700000000 + 123.45));
  CHECK_FALSE(parse_process_stat("garbage", status, 100, 0));
  CHECK_FALSE(parse_process_stat("1 (x) S 1 2", status, 100, 0));

  auto self = read_process_stats();
  REQUIRE(self);
  CHECK(self->threads >= 1);
  CHECK(self->resident_bytes > 0);
  CHECK(self->open_fds > 0);
}
