#include <string>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/reload.hpp"

using namespace relay::config;
using Catch::Matchers::Contains;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "t.toml", {}, "/base");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}
}  // namespace

TEST_CASE("recording is off by default; [recording] reads its keys, the folder against the config's", "[config]") {
  const Config d = parse_config("", "t.toml", {}, "/base");
  CHECK_FALSE(d.recording.enabled);
  CHECK(d.recording.dir == "/base/recordings");
  CHECK(d.recording.event.empty());
  CHECK(d.recording.warn_free_mb == 2048);
  CHECK(d.recording.stop_free_mb == 512);
  CHECK(d.recording.retention_days == 30);
  const Config c = parse_config(R"(
[recording]
enabled = true
dir = "/srv/rec"
event = "seminar-2027_day.1"
warn_free_mb = 100
stop_free_mb = 100
retention_days = 0
)",
                                "t.toml");
  CHECK(c.recording.enabled);
  CHECK(c.recording.dir == "/srv/rec");
  CHECK(c.recording.event == "seminar-2027_day.1");
  CHECK(c.recording.warn_free_mb == 100);
  CHECK(c.recording.stop_free_mb == 100);
  CHECK(c.recording.retention_days == 0);
}

TEST_CASE("bad [recording] values fail with the file, line and what is accepted", "[config]") {
  CHECK_THAT(error_of("[recording]\nevent = \"../up\"\n"), Contains("t.toml:2:") && Contains("recording.event") &&
                                                             Contains("not an event id"));
  CHECK_THAT(error_of("[recording]\nevent = \".hidden\"\n"), Contains("not an event id"));
  CHECK_THAT(error_of("[recording]\nevent = \"a b\"\n"), Contains("not an event id"));
  CHECK_THAT(error_of("[recording]\nretention_days = -1\n"), Contains("t.toml:2:") && Contains("recording.retention_days"));
  CHECK_THAT(error_of("[recording]\nenabled = \"yes\"\n"), Contains("t.toml:2:") && Contains("recording.enabled"));
  CHECK_THAT(error_of("[recording]\nwarn_free_mb = 100\nstop_free_mb = 200\n"),
             Contains("t.toml:3:") && Contains("recording.stop_free_mb") && Contains("recording.warn_free_mb (100)"));
  CHECK_THAT(error_of("[recording]\nretention_day = 3\n"), Contains("did you mean 'retention_days'"));
}

TEST_CASE("a reload reports recording.enabled, dir and event as needing a restart, not the thresholds", "[config]") {
  const Config running = parse_config("", "t.toml");
  Config loaded = running;
  loaded.recording.warn_free_mb = 10;
  loaded.recording.stop_free_mb = 5;
  loaded.recording.retention_days = 3;
  CHECK(keys_needing_restart(running, loaded).empty());
  loaded.recording.enabled = true;
  loaded.recording.dir = "/elsewhere";
  loaded.recording.event = "x";
  CHECK(keys_needing_restart(running, loaded) ==
        std::vector<std::string>{"recording.enabled", "recording.dir", "recording.event"});
}
