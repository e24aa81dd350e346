#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <catch2/catch.hpp>

#include "health/incident_log.hpp"
#include "health/monitor.hpp"

using namespace relay::health;

namespace {

struct TempDir {
  TempDir() {
    std::random_device random;
    path = std::filesystem::temp_directory_path() / ("relay-incidents-test-" + std::to_string(random()));
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST_CASE("incidents survive a restart; one left open is closed as interrupted", "[incidents]") {
  TempDir dir;
  const auto file = dir.path / "sub" / "incidents.jsonl";
  {
    IncidentLog log(file, 1000);
    CHECK(log.record({"input_lost", true, 2000, 2000, "no input on air (ingest slate)"}) == 1);
    CHECK(log.record({"input_lost", false, 5000, 2000, "no input on air (ingest slate)"}) == 1);
    CHECK(log.record({"segment_late", true, 6000, 6000, "360p: late"}) == 2);
    // A resolve for a rule that is not open changes nothing.
    CHECK(log.record({"input_bitrate", false, 6500, 0, ""}) == 0);
  }
  IncidentLog again(file, 9000);
  auto incidents = again.recent(10);
  REQUIRE(incidents.size() == 2);
  CHECK(incidents[0].id == 2);
  CHECK(incidents[0].rule == "segment_late");
  CHECK(incidents[0].ending == "interrupted");
  CHECK(incidents[0].ended_at_ms == 9000);
  CHECK(incidents[1].id == 1);
  CHECK(incidents[1].message == "no input on air (ingest slate)");
  CHECK(incidents[1].fired_at_ms == 2000);
  CHECK(incidents[1].ended_at_ms == 5000);
  CHECK(incidents[1].ending == "resolved");
  // Numbering goes on where the last run stopped.
  CHECK(again.record({"input_lost", true, 9500, 9500, "again"}) == 3);
  CHECK(again.recent(1)[0].id == 3);
}

TEST_CASE("a torn last line (a kill during a write) is skipped", "[incidents]") {
  TempDir dir;
  const auto file = dir.path / "incidents.jsonl";
  {
    IncidentLog log(file, 1000);
    log.record({"input_lost", true, 2000, 2000, "lost"});
  }
  std::ofstream(file, std::ios::app) << "{\"type\":\"resolved\",\"id\":1,\"at\":30";
  IncidentLog again(file, 4000);
  auto incidents = again.recent(10);
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0].ending == "interrupted");
  again.flush();
  CHECK(read(file).find("\"type\":\"interrupted\"") != std::string::npos);
}

TEST_CASE("an incident log that cannot be created stops the monitor with the path", "[incidents]") {
  TempDir dir;
  std::filesystem::create_directories(dir.path);
  std::ofstream(dir.path / "file") << "x";
  relay::config::Config cfg;
  cfg.health.incident_log = dir.path / "file" / "incidents.jsonl";
  CHECK_THROWS_WITH(Monitor(cfg, 0), Catch::Matchers::Contains((dir.path / "file").string()));
}

TEST_CASE("the monitor logs what the rules raise and tells its listener", "[incidents]") {
  TempDir dir;
  relay::config::Config cfg;
  cfg.qa.data_dir = dir.path;
  cfg.health.input_lost_hold_s = 0;
  {
    Monitor monitor(cfg, 0);
    std::vector<std::pair<bool, uint64_t>> heard;
    monitor.set_listener([&](const AlertEvent& e, uint64_t id) { heard.emplace_back(e.firing, id); });
    HealthSample s;
    s.now_ms = 1000;
    s.ingest_state = IngestState::slate;
    monitor.observe(s);
    CHECK(monitor.active().size() == 1);
    s.now_ms = 2000;
    s.ingest_state = IngestState::live;
    monitor.observe(s);
    CHECK(monitor.active().empty());
    CHECK(heard == std::vector<std::pair<bool, uint64_t>>{{true, 1}, {false, 1}});
    CHECK(monitor.alerts_fired() == 1);
  }
  // The monitor's log wrote and synced everything before it went.
  CHECK(read(dir.path / "incidents.jsonl").find("\"rule\":\"input_lost\"") != std::string::npos);
}

TEST_CASE("the writer thread puts every line on disk in order; flush() waits for it", "[incidents]") {
  TempDir dir;
  const auto file = dir.path / "incidents.jsonl";
  IncidentLog log(file, 1000);
  std::vector<std::string> rules;
  for (int i = 0; i < 200; ++i) {
    rules.push_back("rule_" + std::to_string(i));
    log.record({rules.back(), true, 2000 + i, 2000 + i, "fired"});
  }
  // The in-memory list knows at once; the file once flush() returns.
  CHECK(log.recent(1)[0].id == 200);
  log.flush();
  std::istringstream lines(read(file));
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    INFO(line);
    REQUIRE(n < 200);
    CHECK(line.find("\"id\":" + std::to_string(n + 1) + ",") != std::string::npos);
    CHECK(line.find("\"rule\":\"" + rules[n] + "\"") != std::string::npos);
  }
  CHECK(n == 200);
}
