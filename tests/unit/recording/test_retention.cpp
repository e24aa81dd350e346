#include <catch2/catch.hpp>

#include <fstream>
#include <random>

#include "recording/journal.hpp"
#include "recording/recorder.hpp"
#include "recording/retention.hpp"

using namespace relay::recording;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("relay-retention-" + std::to_string(random()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 1'796'630'400'000;  // 2026-12-07T08:00:00Z

void make_event(const fs::path& dir, const std::string& name, int64_t first, int64_t last) {
  fs::create_directories(dir / name);
  std::ofstream out(dir / name / kJournalName);
  out << run_line(1, first, "m").dump() << "\n" << talk_line("t", first, last).dump() << "\n";
}

}  // namespace

TEST_CASE("the disk verdict: ok, low below warn_free, full below stop_free") {
  constexpr uint64_t MB = 1'000'000;
  CHECK(disk_verdict(3000 * MB, 2048 * MB, 512 * MB) == DiskVerdict::ok);
  CHECK(disk_verdict(2048 * MB, 2048 * MB, 512 * MB) == DiskVerdict::ok);
  CHECK(disk_verdict(2047 * MB, 2048 * MB, 512 * MB) == DiskVerdict::low);
  CHECK(disk_verdict(512 * MB, 2048 * MB, 512 * MB) == DiskVerdict::low);
  CHECK(disk_verdict(511 * MB, 2048 * MB, 512 * MB) == DiskVerdict::full);
  CHECK(disk_verdict(0, 0, 0) == DiskVerdict::ok);
  CHECK(is_disk_full(std::make_error_code(std::errc::no_space_on_device)));
  CHECK(is_disk_full(std::error_code(EDQUOT, std::generic_category())));
  CHECK_FALSE(is_disk_full(std::make_error_code(std::errc::io_error)));
}

TEST_CASE("event ids are one safe folder name; the default is the UTC day") {
  CHECK(utc_day(kNow) == "2026-12-07");
  CHECK(utc_day(kNow + 16 * 3'600'000 - 1) == "2026-12-07");
  CHECK(utc_day(kNow + 16 * 3'600'000) == "2026-12-08");
  for (const char* good : {"2026-12-07", "seminar_day-1", "a", "v1.2"}) CHECK(valid_event_id(good));
  for (const char* bad : {"", ".hidden", "..", "a/b", "a b", "ä", "x\n"}) CHECK_FALSE(valid_event_id(bad));
  CHECK_FALSE(valid_event_id(std::string(65, 'a')));
}

TEST_CASE("retention selects events whose newest entry is older than the cut-off, never the current one") {
  const std::vector<EventAge> events = {{"old", kNow - 40 * kDay, kNow - 41 * kDay},
                                        {"long", kNow - 29 * kDay, kNow - 45 * kDay},
                                        {"current", kNow - 50 * kDay, kNow - 50 * kDay},
                                        {"fresh", kNow - kDay, kNow - kDay}};
  const auto cutoff = retention_cutoff(kNow, 30);
  REQUIRE(cutoff);
  CHECK(*cutoff == kNow - 30 * kDay);
  CHECK(select_expired(events, *cutoff, "current") == std::vector<std::string>{"old"});
  CHECK(select_expired(events, kNow, "current") == std::vector<std::string>{"old", "long", "fresh"});
  CHECK(select_expired(events, kNow, "") == std::vector<std::string>{"old", "long", "current", "fresh"});
  CHECK_FALSE(retention_cutoff(kNow, 0));
}

TEST_CASE("purging removes the expired event folders from disk and reports them") {
  TempDir temp;
  make_event(temp.path, "2026-10-01", kNow - 67 * kDay, kNow - 67 * kDay);
  make_event(temp.path, "2026-11-01", kNow - 36 * kDay, kNow - 35 * kDay);
  make_event(temp.path, "2026-12-07", kNow - 90 * kDay, kNow - 90 * kDay);  // being recorded
  make_event(temp.path, "2026-12-06", kNow - kDay, kNow - kDay);
  fs::create_directories(temp.path / "not-an-event");  // no journal: not touched

  const auto ages = event_ages(temp.path);
  REQUIRE(ages.size() == 4);
  CHECK(ages.front().event == "2026-12-07");
  CHECK(ages[1].event == "2026-10-01");
  CHECK(ages[2].last_epoch_ms == kNow - 35 * kDay);

  std::vector<std::string> errors;
  const auto removed = purge_events(temp.path, *retention_cutoff(kNow, 30), "2026-12-07", &errors);
  CHECK(removed == std::vector<std::string>{"2026-10-01", "2026-11-01"});
  CHECK(errors.empty());
  CHECK_FALSE(fs::exists(temp.path / "2026-10-01"));
  CHECK_FALSE(fs::exists(temp.path / "2026-11-01"));
  CHECK(fs::exists(temp.path / "2026-12-07" / kJournalName));
  CHECK(fs::exists(temp.path / "2026-12-06" / kJournalName));
  CHECK(fs::exists(temp.path / "not-an-event"));
}
