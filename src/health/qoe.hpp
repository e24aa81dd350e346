#pragma once
// What the attendees' players report about their playback (POST /api/qoe every
// 10 s): latency behind live, buffer, rendition, stalls and errors, keyed by a
// random session id the page makes up (no cookies). Kept for the last 30 s and
// summed up for /metrics and the alert on viewers' stalls. Thread-safe.
//
// Anyone can post a report, so no one client may steer the stall alert: a
// session's stalls count at most kMaxStallsPerSessionMinute a minute, and at
// most kMaxStallingSessionsPerNetwork sessions of one client network (IPv6
// /64, IPv4 address: common/client_network.hpp) count their stalls. Real trouble
// stalls players in many networks. Reports are rate limited per network too.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace relay::health {

struct QoeReport {
  std::string session;               // 8..64 of A-Z a-z 0-9 _ -
  std::optional<double> latency_s;   // behind live; absent when unknown
  double buffer_s = 0;
  std::string rendition;             // "" when unknown
  uint32_t stalls = 0;               // since the previous report of this session
  uint32_t errors = 0;               // the same
};

inline constexpr size_t kMaxQoeReportBytes = 2048;
inline constexpr uint32_t kMaxStallsPerSessionMinute = 3;
inline constexpr int kMaxStallingSessionsPerNetwork = 2;

// A report from a request body, or what is wrong with it (one line, for a 400).
std::variant<QoeReport, std::string> parse_qoe_report(std::string_view body);

struct QoeSummary {
  double viewers = 0;
  std::map<std::string, double> viewers_by_rendition;
  std::vector<std::pair<double, double>> latency_quantiles;  // (0.5, s), (0.9, s), (0.99, s); empty without data
  double latency_count = 0;  // viewers with a latency
  double latency_sum_s = 0;
  double buffer_mean_s = 0;
  double stalls_per_viewer_minute = 0;
  uint64_t reports = 0;
  uint64_t rejected = 0;
  uint64_t stalls = 0;
  uint64_t errors = 0;
};

class QoeAggregator {
 public:
  enum class Verdict { accepted, too_often, too_many_sessions };

  // A session may report every `min_interval_ms`; one client network may send `address_burst`
  // reports at once and `address_per_s` on average (a hall's Wi-Fi shares one).
  explicit QoeAggregator(int64_t window_ms = 30000, int64_t min_interval_ms = 2000, double address_burst = 60,
                         double address_per_s = 10, size_t max_sessions = 20000);

  // `address`: the client's (a trusted proxy's client, see edge.trusted_proxies).
  Verdict accept(const QoeReport& report, const std::string& address, int64_t now_ms);
  // Counts a report refused before accept() (malformed, too large).
  void reject();
  QoeSummary summary(int64_t now_ms) const;
  // Forgets sessions and rate limits that went quiet; a timer calls it every second.
  void expire(int64_t now_ms);

 private:
  struct Session {
    int64_t last_ms = 0;
    QoeReport last;
    std::string network;  // of its newest report
    std::vector<std::pair<int64_t, uint32_t>> stalls;  // (when, stalls counted) within the window and the last minute
  };
  struct Bucket {
    double tokens = 0;
    int64_t at_ms = 0;
  };
  // How long a session's stall counts are kept: the window, and the cap's minute.
  int64_t stall_memory_ms() const;

  int64_t window_ms_, min_interval_ms_;
  double address_burst_, address_per_s_;
  size_t max_sessions_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Session> sessions_;
  std::unordered_map<std::string, Bucket> buckets_;
  uint64_t reports_ = 0, rejected_ = 0, stalls_ = 0, errors_ = 0;
};

}  // namespace relay::health
