// The players' QoE reports (POST /api/qoe): the parser accepts only what it
// promises (an id-like session, finite numbers in range), and an accepted
// report goes through the aggregator and into the summary /metrics shows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_check.hpp"
#include "health/qoe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relay::health;
  auto parsed = parse_qoe_report(relay::fuzz::as_text(data, size));
  if (auto* error = std::get_if<std::string>(&parsed)) {
    FUZZ_CHECK(!error->empty());
    return 0;
  }
  const QoeReport& report = std::get<QoeReport>(parsed);
  auto id_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  FUZZ_CHECK(report.session.size() >= 8 && report.session.size() <= 64);
  FUZZ_CHECK(std::all_of(report.session.begin(), report.session.end(), id_char));
  FUZZ_CHECK(report.rendition.size() <= 32 && std::all_of(report.rendition.begin(), report.rendition.end(), id_char));
  if (report.latency_s) FUZZ_CHECK(std::isfinite(*report.latency_s) && *report.latency_s >= 0);
  FUZZ_CHECK(std::isfinite(report.buffer_s) && report.buffer_s >= 0);
  FUZZ_CHECK(report.stalls <= 1000 && report.errors <= 1000);

  QoeAggregator aggregator;
  const int64_t now = 1'700'000'000'000;
  aggregator.accept(report, "10.0.0.1", now);
  QoeReport second = report;
  second.session += "-b";
  aggregator.accept(second, "10.0.0.1", now + 500);
  QoeSummary summary = aggregator.summary(now + 1000);
  FUZZ_CHECK(std::isfinite(summary.stalls_per_viewer_minute) && std::isfinite(summary.buffer_mean_s));
  for (const auto& [q, value] : summary.latency_quantiles) FUZZ_CHECK(std::isfinite(value));
  return 0;
}
