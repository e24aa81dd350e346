#include "app/remux_command.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "recording/remux.hpp"

namespace relay::app {
namespace {

constexpr const char* kUsage =
    "usage: seminar-relay remux-mp4 --out FILE [--large-offsets] --init INIT SEGMENT... [--init INIT SEGMENT...]\n";

}  // namespace

int remux_command(int argc, char** argv) {
  std::vector<recording::RemuxRun> runs;
  std::filesystem::path out;
  recording::RemuxOptions options;
  auto usage_error = [](const std::string& message) {
    std::fprintf(stderr, "%sseminar-relay: error: %s\n", kUsage, message.c_str());
    return 2;
  };
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--out" || a == "--init") {
      if (i + 1 >= argc) return usage_error(a + " needs a value");
      if (a == "--out")
        out = argv[++i];
      else
        runs.push_back({argv[++i], {}});
    } else if (a == "--large-offsets") {
      options.offset_limit_32 = 0;
    } else if (a.rfind("--", 0) == 0) {
      return usage_error("unknown argument '" + a + "'");
    } else if (runs.empty()) {
      return usage_error("segment '" + a + "' before any --init");
    } else {
      runs.back().second.push_back(a);
    }
  }
  if (out.empty()) return usage_error("no --out FILE");
  if (runs.empty()) return usage_error("no --init INIT");
  const auto result = recording::remux_runs_to_mp4(runs, out, options);
  if (!result.ok) {
    std::fprintf(stderr, "seminar-relay: error: %s\n", result.error.c_str());
    return 1;
  }
  std::printf("%s: %.3f s, %llu bytes\n", out.c_str(), result.duration_s,
              static_cast<unsigned long long>(result.bytes));
  return 0;
}

}  // namespace relay::app
