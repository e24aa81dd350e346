#include "health/qoe.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/client_network.hpp"

namespace relay::health {
namespace {

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

std::variant<QoeReport, std::string> parse_qoe_report(std::string_view body) {
  if (body.size() > kMaxQoeReportBytes) return fmt::format("the report is larger than {} bytes", kMaxQoeReportBytes);
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return std::string("the body is not valid JSON");
  if (!j.is_object()) return std::string("the body must be a JSON object");
  QoeReport r;
  for (const auto& item : j.items()) {
    // Named references, not a structured binding: the lambdas below capture them,
    // which clang before 16 (the fuzz build's compiler) does not allow.
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    auto number = [&](double min, double max) -> std::optional<std::string> {
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < min ||
          value.get<double>() > max)
        return fmt::format("'{}' must be a number from {} to {}", key, min, max);
      return std::nullopt;
    };
    auto count = [&]() -> std::optional<std::string> {
      if (!value.is_number_unsigned() || value.get<uint64_t>() > 1000)
        return fmt::format("'{}' must be a whole number from 0 to 1000", key);
      return std::nullopt;
    };
    if (key == "session") {
      if (!value.is_string()) return std::string("'session' must be a string");
      r.session = value.get<std::string>();
      if (r.session.size() < 8 || r.session.size() > 64 || !std::all_of(r.session.begin(), r.session.end(), is_id_char))
        return std::string("'session' must be 8..64 of A-Z a-z 0-9 _ -");
    } else if (key == "latency_s") {
      if (value.is_null()) continue;
      if (auto e = number(0, 3600)) return *e;
      r.latency_s = value.get<double>();
    } else if (key == "buffer_s") {
      if (auto e = number(0, 3600)) return *e;
      r.buffer_s = value.get<double>();
    } else if (key == "rendition") {
      if (!value.is_string()) return std::string("'rendition' must be a string");
      r.rendition = value.get<std::string>();
      if (r.rendition.size() > 32 || !std::all_of(r.rendition.begin(), r.rendition.end(), is_id_char))
        return std::string("'rendition' must be at most 32 of A-Z a-z 0-9 _ -");
    } else if (key == "stalls") {
      if (auto e = count()) return *e;
      r.stalls = value.get<uint32_t>();
    } else if (key == "errors") {
      if (auto e = count()) return *e;
      r.errors = value.get<uint32_t>();
    } else {
      return fmt::format("unknown key '{}'; known: session, latency_s, buffer_s, rendition, stalls, errors",
                         key.size() > 40 ? key.substr(0, 40) + "…" : key);
    }
  }
  if (r.session.empty()) return std::string("'session' is missing");
  return r;
}

QoeAggregator::QoeAggregator(int64_t window_ms, int64_t min_interval_ms, double address_burst, double address_per_s,
                             size_t max_sessions)
    : window_ms_(window_ms),
      min_interval_ms_(min_interval_ms),
      address_burst_(address_burst),
      address_per_s_(address_per_s),
      max_sessions_(max_sessions) {}

QoeAggregator::Verdict QoeAggregator::accept(const QoeReport& report, const std::string& address, int64_t now_ms) {
  std::string network = client_network(address);
  std::lock_guard lock(mutex_);
  Bucket& bucket = buckets_.try_emplace(network, Bucket{address_burst_, now_ms}).first->second;
  bucket.tokens = std::min(address_burst_, bucket.tokens + (now_ms - bucket.at_ms) / 1000.0 * address_per_s_);
  bucket.at_ms = now_ms;
  auto it = sessions_.find(report.session);
  const bool too_soon = it != sessions_.end() && now_ms - it->second.last_ms < min_interval_ms_;
  if (too_soon || bucket.tokens < 1) {
    ++rejected_;
    return Verdict::too_often;
  }
  if (it == sessions_.end() && sessions_.size() >= max_sessions_) {
    ++rejected_;
    return Verdict::too_many_sessions;
  }
  bucket.tokens -= 1;
  Session& s = sessions_[report.session];
  s.last_ms = now_ms;
  s.last = report;
  s.network = std::move(network);
  std::erase_if(s.stalls, [&](const auto& st) { return now_ms - st.first > stall_memory_ms(); });
  uint32_t last_minute = 0;
  for (const auto& [at, n] : s.stalls) {
    if (now_ms - at < 60000) last_minute += n;
  }
  const uint32_t counted = std::min(report.stalls, kMaxStallsPerSessionMinute - std::min(last_minute, kMaxStallsPerSessionMinute));
  if (counted) s.stalls.emplace_back(now_ms, counted);
  ++reports_;
  stalls_ += counted;
  errors_ += report.errors;
  return Verdict::accepted;
}

void QoeAggregator::reject() {
  std::lock_guard lock(mutex_);
  ++rejected_;
}

int64_t QoeAggregator::stall_memory_ms() const { return std::max<int64_t>(window_ms_, 60000); }

void QoeAggregator::expire(int64_t now_ms) {
  std::lock_guard lock(mutex_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now_ms - it->second.last_ms > window_ms_) {
      it = sessions_.erase(it);
      continue;
    }
    std::erase_if(it->second.stalls, [&](const auto& s) { return now_ms - s.first > stall_memory_ms(); });
    ++it;
  }
  // A full bucket is the same as none.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if ((now_ms - it->second.at_ms) / 1000.0 * address_per_s_ + it->second.tokens >= address_burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

QoeSummary QoeAggregator::summary(int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  QoeSummary q;
  q.reports = reports_;
  q.rejected = rejected_;
  q.stalls = stalls_;
  q.errors = errors_;
  std::vector<double> latencies;
  double buffer_sum = 0, stalls = 0;
  std::unordered_map<std::string_view, int> stalling_sessions;  // per network
  for (const auto& [id, s] : sessions_) {
    if (now_ms - s.last_ms > window_ms_) continue;
    q.viewers += 1;
    if (!s.last.rendition.empty()) q.viewers_by_rendition[s.last.rendition] += 1;
    if (s.last.latency_s) latencies.push_back(*s.last.latency_s);
    buffer_sum += s.last.buffer_s;
    double session_stalls = 0;
    for (const auto& [at, n] : s.stalls) {
      if (now_ms - at <= window_ms_) session_stalls += n;
    }
    if (session_stalls > 0 && ++stalling_sessions[s.network] <= kMaxStallingSessionsPerNetwork)
      stalls += session_stalls;
  }
  if (q.viewers > 0) {
    q.buffer_mean_s = buffer_sum / q.viewers;
    q.stalls_per_viewer_minute = stalls / (q.viewers * window_ms_ / 60000.0);
  }
  q.latency_count = static_cast<double>(latencies.size());
  for (double l : latencies) q.latency_sum_s += l;
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    for (double quantile : {0.5, 0.9, 0.99}) {
      // Nearest rank: the smallest value with at least that share of the values at or below it.
      size_t rank = static_cast<size_t>(std::ceil(quantile * latencies.size()));
      q.latency_quantiles.emplace_back(quantile, latencies[std::max<size_t>(rank, 1) - 1]);
    }
  }
  return q;
}

}  // namespace relay::health
