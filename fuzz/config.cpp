// The config loader: a TOML file and --set overrides, as main() passes them to
// relay::config::load_config (whose only work beyond parse_config is reading
// the file). An input is the file, then optionally a line "%%" and one
// override per line ("section.key=value"). A bad file or override must be
// refused with a ConfigError, the only exception main() expects.
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file;
  std::vector<std::string> overrides;
  bool first = true;
  relay::fuzz::for_each_part(relay::fuzz::as_text(data, size), "%%", [&](std::string_view part) {
    if (first) {
      file = std::string(part);
      first = false;
      return;
    }
    while (!part.empty()) {
      size_t nl = part.find('\n');
      overrides.emplace_back(part.substr(0, nl));
      part = nl == std::string_view::npos ? std::string_view() : part.substr(nl + 1);
    }
  });
  try {
    relay::config::Config cfg = relay::config::parse_config(file, "fuzz.toml", overrides, "/srv/relay");
    FUZZ_CHECK(cfg.hls.part_duration_s > 0 && cfg.hls.part_duration_s <= cfg.hls.segment_duration_s + 1e-9);
    FUZZ_CHECK(!cfg.encoder.renditions.empty());
  } catch (const relay::config::ConfigError& e) {
    FUZZ_CHECK(*e.what() != '\0');
  }
  return 0;
}
