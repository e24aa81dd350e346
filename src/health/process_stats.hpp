#pragma once
// What the kernel says about this process, from /proc/self (Linux only).
#include <cstdint>
#include <optional>
#include <string_view>

namespace relay::health {

struct ProcessStats {
  double cpu_seconds = 0;     // user + system
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  int threads = 0;
  int open_fds = 0;
  double start_time_epoch_s = 0;  // when the process started, Unix time
};

// Reads /proc/self/stat, /proc/self/status and /proc/self/fd; nullopt when /proc is not there.
std::optional<ProcessStats> read_process_stats();

// The parts of those files, split out for tests. `stat` is the one line of
// /proc/<pid>/stat; `ticks_per_s` from sysconf(_SC_CLK_TCK); `boot_time_s` the btime of /proc/stat.
std::optional<ProcessStats> parse_process_stat(std::string_view stat, std::string_view status, long ticks_per_s,
                                               double boot_time_s);

}  // namespace relay::health
