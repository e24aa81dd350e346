#include "health/process_stats.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace relay::health {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// "VmRSS:     1234 kB" -> 1234
std::optional<uint64_t> status_field(std::string_view status, std::string_view key) {
  size_t at = 0;
  while (at < status.size()) {
    size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(at, end - at);
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
      std::string_view rest = line.substr(key.size() + 1);
      size_t digit = rest.find_first_of("0123456789");
      if (digit == std::string_view::npos) return std::nullopt;
      uint64_t v = 0;
      std::from_chars(rest.data() + digit, rest.data() + rest.size(), v);
      return v;
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcessStats> parse_process_stat(std::string_view stat, std::string_view status, long ticks_per_s,
                                               double boot_time_s) {
  // The command name (field 2) is in parentheses and may hold spaces; count fields after the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_s <= 0) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  size_t at = close + 1;
  while (at < stat.size()) {
    while (at < stat.size() && stat[at] == ' ') ++at;
    size_t end = stat.find(' ', at);
    if (end == std::string_view::npos) end = stat.size();
    if (end > at) fields.push_back(stat.substr(at, end - at));
    at = end;
  }
  auto number = [&](size_t field) -> std::optional<uint64_t> {
    if (field < 3 || field - 3 >= fields.size()) return std::nullopt;
    std::string_view text = fields[field - 3];
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
  };
  // proc(5): 14 utime, 15 stime, 20 num_threads, 22 starttime, 23 vsize (bytes).
  auto utime = number(14), stime = number(15), threads = number(20), start = number(22), vsize = number(23);
  if (!utime || !stime || !threads || !start || !vsize) return std::nullopt;
  ProcessStats s;
  s.cpu_seconds = static_cast<double>(*utime + *stime) / ticks_per_s;
  s.threads = static_cast<int>(*threads);
  s.start_time_epoch_s = boot_time_s + static_cast<double>(*start) / ticks_per_s;
  s.virtual_bytes = *vsize;
  if (auto rss = status_field(status, "VmRSS")) s.resident_bytes = *rss * 1024;
  return s;
}

std::optional<ProcessStats> read_process_stats() {
  std::string stat = read_file("/proc/self/stat");
  std::string status = read_file("/proc/self/status");
  // /proc/stat writes "btime 1700000000" with a space, not a colon.
  double boot_time_s = 0;
  std::istringstream lines(read_file("/proc/stat"));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("btime ", 0) == 0) boot_time_s = std::stod(line.substr(6));
  }
  auto s = parse_process_stat(stat, status, sysconf(_SC_CLK_TCK), boot_time_s);
  if (!s) return std::nullopt;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++s->open_fds;
  return s;
}

}  // namespace relay::health
