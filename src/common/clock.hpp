#pragma once
// Wall-clock helpers. Program-date-time and latency figures are Unix epoch based.
#include <chrono>
#include <cstdint>
#include <string>

namespace relay {

inline int64_t now_epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline double now_monotonic_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

inline int64_t now_monotonic_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
// ISO 8601 with milliseconds and a "Z" suffix, as EXT-X-PROGRAM-DATE-TIME wants.
std::string format_iso8601_ms(int64_t epoch_ms);

}  // namespace relay
