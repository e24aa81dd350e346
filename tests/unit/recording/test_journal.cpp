#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "recording/journal.hpp"

using namespace relay::recording;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("relay-journal-" + std::to_string(random()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put_file(const fs::path& event, const std::string& relative, const std::string& bytes = "x") {
  fs::create_directories((event / relative).parent_path());
  write_text(event / relative, bytes);
}

SegmentEntry segment(uint32_t run, const std::string& rendition, uint64_t msn, const std::string& ext = ".m4s") {
  SegmentEntry s;
  s.run = run;
  s.rendition = rendition;
  s.msn = msn;
  s.file = rendition + "/" + std::to_string(run) + "-" + std::to_string(msn) + ext;
  if (ext == ".m4s") s.init = rendition + "/init-" + std::to_string(run) + ".mp4";
  s.duration_s = 1.001;
  s.pdt_epoch_ms = 1'796'630'400'000 + static_cast<int64_t>(msn) * 1001;
  s.media_time_90k = msn * 90090;
  s.bytes = 1;
  return s;
}

}  // namespace

TEST_CASE("journal times are RFC 3339 UTC with milliseconds and read back with any offset") {
  CHECK(format_time_ms(1'796'630'400'123) == "2026-12-07T08:00:00.123Z");
  CHECK(format_time_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(parse_time_ms("2026-12-07T08:00:00.123Z") == 1'796'630'400'123);
  CHECK(parse_time_ms("2026-12-07T09:00:00.5+01:00") == 1'796'630'400'500);
  CHECK(parse_time_ms("2026-12-07T08:00:00Z") == 1'796'630'400'000);
  CHECK(parse_time_ms("2026-12-07T08:00:00.123456Z") == 1'796'630'400'123);
  CHECK_FALSE(parse_time_ms("2026-12-07 nonsense"));
  CHECK_FALSE(parse_time_ms("2026-12-07T08:00:00.123"));
  for (int64_t ms : {int64_t{1}, int64_t{999}, int64_t{1'796'630'400'001}})
    CHECK(parse_time_ms(format_time_ms(ms)) == ms);
}

TEST_CASE("what the writer appends the reader reads back: runs, segments, talks and stops") {
  TempDir temp;
  const fs::path event = temp.path / "2026-12-07";
  REQUIRE_FALSE(files::make_private_dir(event));
  std::error_code ec;
  auto journal = JournalWriter::open(event, ec);
  REQUIRE(journal);
  REQUIRE_FALSE(ec);

  put_file(event, "720p/init-1.mp4");
  put_file(event, "audio-0/init-1.mp4");
  CHECK_FALSE(journal->append(run_line(1, 1'796'630'400'000, "#EXTM3U\n")));
  CHECK_FALSE(journal->append(init_line(1, "720p", "720p/init-1.mp4")));
  for (uint64_t msn : {40, 41}) {
    for (const char* rendition : {"720p", "audio-0"}) {
      const auto s = segment(1, rendition, msn);
      put_file(event, s.file);
      CHECK_FALSE(journal->append(segment_line(s)));
    }
  }
  auto subs = segment(1, "subs-de", 40, ".vtt");
  subs.discontinuity = true;
  put_file(event, subs.file);
  CHECK_FALSE(journal->append(segment_line(subs)));
  CHECK_FALSE(journal->append(talk_line("opening", 1'796'630'400'500, std::nullopt)));
  CHECK_FALSE(journal->append(talk_line("keynote", 1'796'630'401'000, std::nullopt)));
  CHECK_FALSE(journal->append(talk_line("opening", std::nullopt, 1'796'630'401'000)));
  CHECK_FALSE(journal->append(stop_line(1, 1'796'630'402'000, "operator")));
  CHECK(journal->bytes() == fs::file_size(event / kJournalName));

  std::string error;
  const auto index = read_event(event, &error);
  REQUIRE(index);
  CHECK(error.empty());
  CHECK(index->event == "2026-12-07");
  REQUIRE(index->runs.size() == 1);
  CHECK(index->runs[0].run == 1);
  CHECK(index->runs[0].at_epoch_ms == 1'796'630'400'000);
  CHECK(index->runs[0].master == "#EXTM3U\n");
  REQUIRE(index->segments.size() == 5);
  CHECK(index->renditions() == std::vector<std::string>{"720p", "audio-0", "subs-de"});
  const auto video = index->segments_of("720p");
  REQUIRE(video.size() == 2);
  CHECK(video[0]->msn == 40);
  CHECK(video[1]->msn == 41);
  CHECK(video[1]->file == "720p/1-41.m4s");
  CHECK(video[1]->init == "720p/init-1.mp4");
  CHECK(video[1]->duration_s == Approx(1.001));
  CHECK(video[1]->pdt_epoch_ms == 1'796'630'400'000 + 41 * 1001);
  CHECK(video[1]->media_time_90k == 41 * 90090);
  CHECK_FALSE(video[1]->discontinuity);
  const auto text = index->segments_of("subs-de");
  REQUIRE(text.size() == 1);
  CHECK(text[0]->init.empty());
  CHECK(text[0]->discontinuity);
  REQUIRE(index->talks.size() == 2);
  CHECK(index->talks[0].talk == "opening");
  CHECK(index->talks[0].start_epoch_ms == 1'796'630'400'500);
  CHECK(index->talks[0].end_epoch_ms == 1'796'630'401'000);
  CHECK(index->talks[1].talk == "keynote");
  CHECK_FALSE(index->talks[1].end_epoch_ms);
  REQUIRE(index->stops.size() == 1);
  CHECK(index->stops[0].reason == "operator");
  CHECK(index->last_epoch_ms == 1'796'630'400'000 + 41 * 1001);  // the newest segment's PDT
  CHECK(index->bad_lines == 0);
  CHECK(index->missing_files == 0);
}

TEST_CASE("a last line cut by a crash is ignored by the reader and cut off by the next writer") {
  TempDir temp;
  const fs::path event = temp.path / "ev";
  REQUIRE_FALSE(files::make_private_dir(event));
  const auto s = segment(1, "360p", 7);
  put_file(event, s.file);
  put_file(event, s.init);
  const std::string whole = run_line(1, 1000, "m").dump() + "\n" + segment_line(s).dump() + "\n";
  // The cut line is valid JSON up to the cut, or even whole but without its '\n':
  // neither was confirmed by fdatasync, so neither counts.
  for (const std::string& tail : {std::string("{\"type\":\"segment\",\"run\":1,\"rend"), segment_line(s).dump()}) {
    write_text(event / kJournalName, whole + tail);
    const auto index = read_event(event);
    REQUIRE(index);
    CHECK(index->segments.size() == 1);
    CHECK(index->bad_lines == 0);

    std::error_code ec;
    auto journal = JournalWriter::open(event, ec);
    REQUIRE(journal);
    CHECK(read_text(event / kJournalName) == whole);
    CHECK_FALSE(journal->append(stop_line(1, 2000, "shutdown")));
    CHECK(read_text(event / kJournalName) == whole + stop_line(1, 2000, "shutdown").dump() + "\n");
    const auto again = read_event(event);
    REQUIRE(again);
    CHECK(again->stops.size() == 1);
    CHECK(again->bad_lines == 0);
  }
}

TEST_CASE("a journal cut within its only line is emptied by the writer") {
  TempDir temp;
  write_text(temp.path / kJournalName, "{\"type\":\"ru");
  std::error_code ec;
  auto journal = JournalWriter::open(temp.path, ec);
  REQUIRE(journal);
  CHECK(fs::file_size(temp.path / kJournalName) == 0);
  CHECK(journal->bytes() == 0);
}

TEST_CASE("bad JSON lines are counted and skipped, unknown types ignored, missing files dropped") {
  TempDir temp;
  const fs::path event = temp.path / "ev";
  fs::create_directories(event);
  const auto kept = segment(2, "720p", 5);
  const auto lost = segment(2, "720p", 6);  // its file was never renamed into place
  auto no_init = segment(2, "480p", 5);     // its init is gone
  put_file(event, kept.file);
  put_file(event, kept.init);
  put_file(event, no_init.file);
  auto escaping = segment(2, "720p", 7);
  escaping.file = "../outside.m4s";
  put_file(temp.path, "outside.m4s");
  std::string text;
  text += run_line(2, 5000, "m").dump() + "\n";
  text += "not json at all\n";
  text += "[1,2,3]\n";
  text += "{\"no\":\"type\"}\n";
  text += "{\"type\":\"segment\",\"run\":2}\n";  // a segment without its members
  text += "\n";                                  // blank lines are not errors
  text += "{\"type\":\"chapter\",\"title\":\"from a newer writer\"}\n";
  text += segment_line(kept).dump() + "\n";
  text += segment_line(lost).dump() + "\n";
  text += segment_line(no_init).dump() + "\n";
  text += segment_line(escaping).dump() + "\n";
  write_text(event / kJournalName, text);

  const auto index = read_event(event);
  REQUIRE(index);
  CHECK(index->bad_lines == 4);
  CHECK(index->missing_files == 3);
  REQUIRE(index->segments.size() == 1);
  CHECK(index->segments[0].msn == 5);
  CHECK(index->runs.size() == 1);
}

TEST_CASE("a folder without a journal is an error with a message, and not an event") {
  TempDir temp;
  std::string error;
  CHECK_FALSE(read_event(temp.path / "nothing-here", &error));
  CHECK(error.find("nothing-here") != std::string::npos);
  CHECK(list_events(temp.path / "no-such-dir").empty());

  fs::create_directories(temp.path / "empty-folder");
  write_text(temp.path / "stray-file", "x");
  for (const auto& [name, at] : std::vector<std::pair<std::string, int64_t>>{
           {"b-late", 3'000'000}, {"a-early", 1'000'000}, {"c-middle", 2'000'000}}) {
    fs::create_directories(temp.path / name);
    write_text(temp.path / name / kJournalName, run_line(1, at, "m").dump() + "\n");
  }
  CHECK(list_events(temp.path) == std::vector<std::string>{"a-early", "c-middle", "b-late"});
}

TEST_CASE("durable files are 0600 in 0700 folders whatever the umask, and leave no .tmp") {
  TempDir temp;
  const mode_t old_mask = ::umask(0);
  const fs::path dir = temp.path / "rec" / "ev" / "720p";
  CHECK_FALSE(files::make_private_dir(dir));
  const std::string bytes("\x01\x02\x03\x04", 4);
  CHECK_FALSE(files::write_durably(dir, "1-5.m4s", bytes));
  ::umask(old_mask);
  CHECK(mode_of(temp.path / "rec") == 0700);
  CHECK(mode_of(temp.path / "rec" / "ev") == 0700);
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir / "1-5.m4s") == 0600);
  CHECK(read_text(dir / "1-5.m4s") == std::string("\x01\x02\x03\x04"));
  CHECK_FALSE(fs::exists(dir / "1-5.m4s.tmp"));

  std::error_code ec;
  ::umask(0);
  auto journal = JournalWriter::open(temp.path / "rec" / "ev", ec);
  ::umask(old_mask);
  REQUIRE(journal);
  CHECK(mode_of(temp.path / "rec" / "ev" / kJournalName) == 0600);

  // A folder that existed with a wider mode is narrowed.
  fs::create_directories(temp.path / "wide");
  fs::permissions(temp.path / "wide", fs::perms::all);
  CHECK_FALSE(files::make_private_dir(temp.path / "wide"));
  CHECK(mode_of(temp.path / "wide") == 0700);
}

TEST_CASE("leftover .tmp files of a crash are removed, complete files kept") {
  TempDir temp;
  put_file(temp.path, "720p/1-5.m4s.tmp");
  put_file(temp.path, "audio-0/init-2.mp4.tmp");
  put_file(temp.path, "720p/1-4.m4s");
  CHECK(files::remove_tmp_files(temp.path) == 2);
  CHECK_FALSE(fs::exists(temp.path / "720p/1-5.m4s.tmp"));
  CHECK(fs::exists(temp.path / "720p/1-4.m4s"));
  CHECK(files::remove_tmp_files(temp.path / "absent") == 0);
}

TEST_CASE("a write into a folder that is not there fails with an error, not a crash") {
  TempDir temp;
  const std::string bytes = "x";
  CHECK(files::write_durably(temp.path / "absent", "x.m4s", bytes));
  std::error_code ec;
  CHECK_FALSE(JournalWriter::open(temp.path / "absent", ec));
  CHECK(ec);
}
