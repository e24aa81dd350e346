#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <random>
#include <thread>

#include "hls/store.hpp"
#include "recording/recorder.hpp"

using namespace relay;
using namespace relay::recording;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("relay-recorder-" + std::to_string(random()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

constexpr int64_t kNow = 1'796'630'400'000;

// A rendition as the packager publishes it: segments 1..last complete, an init.
void publish(hls::Store& store, size_t rendition, uint64_t last, const std::string& init_uri = "init-a.mp4",
             const std::string& extension = "m4s") {
  auto snap = std::make_shared<hls::RenditionSnapshot>();
  snap->name = store.names()[rendition];
  snap->version = last;
  snap->segment_extension = extension;
  snap->last_msn = last;
  for (uint64_t msn = 1; msn <= last; ++msn) {
    auto seg = std::make_shared<hls::Segment>();
    seg->msn = msn;
    seg->duration_s = 1.0;
    seg->pdt_epoch_ms = kNow + static_cast<int64_t>(msn) * 1000;
    seg->media_time_90k = msn * 90000;
    seg->data = make_bytes(snap->name + "-segment-" + std::to_string(msn));
    if (extension == "m4s") {
      seg->init_uri = init_uri;
      seg->init = make_bytes("init of " + init_uri);
    }
    snap->segments[msn] = seg;
  }
  store.publish(rendition, snap);
}

// Waits on the writer: a start/stop's Done, or a status condition.
template <typename Pred>
bool eventually(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

RecorderStatus run_sync(Recorder& recorder, bool start, const std::string& reason) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<RecorderStatus> result;
  auto done = [&](const RecorderStatus& s) {
    std::lock_guard lock(m);
    result = s;
    cv.notify_all();
  };
  REQUIRE((start ? recorder.start(reason, done) : recorder.stop(reason, done)));
  std::unique_lock lock(m);
  cv.wait_for(lock, std::chrono::seconds(10), [&] { return result.has_value(); });
  REQUIRE(result);
  return *result;
}

}  // namespace

TEST_CASE("the recorder writes each newly complete segment with its init and journal line, then continues as run 2") {
  TempDir temp;
  hls::Store video({"360p", "audio-0"});
  hls::Store subtitles({"subs-de"});
  publish(video, 0, 3);  // before the start: not recorded
  RecorderOptions options{temp.path / "rec", "", 0, 0, 30, 64};
  {
    Recorder recorder(options, {&video, &subtitles}, [] { return std::string("#EXTM3U\nmaster\n"); },
                      [] { return kNow; });
    const auto opened = recorder.open_event();
    REQUIRE(opened);
    CHECK(opened->runs.empty());
    auto status = run_sync(recorder, true, "config");
    CHECK(status.state == RecorderState::recording);
    CHECK(status.event == "2026-12-07");
    CHECK(status.run == 1);

    publish(video, 0, 5);
    publish(video, 1, 2);
    publish(subtitles, 0, 4, "", "vtt");
    publish(video, 0, 6, "init-b.mp4");  // a new init within the run
    REQUIRE(eventually([&] { return recorder.status().segments == 2 + 2 + 4 + 1; }));
    status = run_sync(recorder, false, "operator");
    CHECK(status.state == RecorderState::stopped);
    CHECK(status.stop_reason == "operator");
    CHECK(status.bytes > 0);
    CHECK(status.dropped == 0);
    publish(video, 0, 7);  // after the stop: not recorded
  }
  const fs::path event = temp.path / "rec" / "2026-12-07";
  auto index = read_event(event);
  REQUIRE(index);
  REQUIRE(index->runs.size() == 1);
  CHECK(index->runs[0].master == "#EXTM3U\nmaster\n");
  const auto video0 = index->segments_of("360p");
  REQUIRE(video0.size() == 3);
  CHECK(video0[0]->msn == 4);
  CHECK(video0[0]->file == "360p/1-4.m4s");
  CHECK(video0[0]->init == "360p/init-1.mp4");
  CHECK(video0[2]->msn == 6);
  CHECK(video0[2]->init == "360p/init-1-2.mp4");
  CHECK(video0[1]->pdt_epoch_ms == kNow + 5000);
  CHECK(video0[1]->media_time_90k == 5 * 90000);
  std::ifstream in(event / video0[1]->file);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "360p-segment-5");
  const auto subs = index->segments_of("subs-de");
  REQUIRE(subs.size() == 4);
  CHECK(subs[0]->file == "subs-de/1-1.vtt");
  CHECK(subs[0]->init.empty());
  CHECK(index->segments_of("audio-0").size() == 2);
  REQUIRE(index->stops.size() == 1);
  CHECK(index->stops[0].reason == "operator");
  struct stat st {};
  REQUIRE(::stat((event / "360p").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((event / video0[0]->file).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A crash left a .tmp; the next relay continues the same event as run 2.
  std::ofstream(event / "360p" / "2-9.m4s.tmp") << "half";
  {
    Recorder recorder(options, {&video, &subtitles}, [] { return std::string("m2"); }, [] { return kNow + 1000; });
    REQUIRE(recorder.open_event());
    CHECK_FALSE(fs::exists(event / "360p" / "2-9.m4s.tmp"));
    recorder.talk_mark("opening", kNow + 500, std::nullopt);
    CHECK(run_sync(recorder, true, "restart").run == 2);
    publish(video, 0, 8);
    REQUIRE(eventually([&] { return recorder.status().segments == 1; }));
  }  // destroyed while recording: a shutdown stop line
  index = read_event(event);
  REQUIRE(index);
  REQUIRE(index->runs.size() == 2);
  CHECK(index->runs[1].run == 2);
  const auto again = index->segments_of("360p");
  REQUIRE(again.size() == 4);
  CHECK(again[3]->file == "360p/2-8.m4s");
  CHECK(again[3]->init == "360p/init-2.mp4");
  REQUIRE(index->talks.size() == 1);
  CHECK(index->talks[0].start_epoch_ms == kNow + 500);
  REQUIRE(index->stops.size() == 2);
  CHECK(index->stops[1].reason == "shutdown");
}

TEST_CASE("below stop_free the recorder refuses to start and says why") {
  TempDir temp;
  hls::Store video({"360p"});
  // More than any disk has free: always below.
  RecorderOptions options{temp.path, "ev", UINT64_MAX, UINT64_MAX, 0, 4};
  Recorder recorder(options, {&video}, [] { return std::string(); }, [] { return kNow; });
  const auto status = run_sync(recorder, true, "operator");
  CHECK(status.state == RecorderState::stopped);
  CHECK(status.stop_reason == "disk_full");
  CHECK(status.disk_low);
  CHECK(status.disk_free_bytes);
  CHECK(status.last_error.find("recording.stop_free_mb") != std::string::npos);
}

TEST_CASE("a writer that falls behind drops whole segments and counts them; the publisher never waits") {
  TempDir temp;
  hls::Store video({"360p"});
  RecorderOptions options{temp.path, "ev", 0, 0, 0, 1};  // one batch may wait
  Recorder recorder(options, {&video}, [] { return std::string("m"); }, [] { return kNow; });
  REQUIRE(recorder.open_event());
  // The start's Done holds the writer thread, as a slow disk would.
  std::mutex m;
  std::condition_variable cv;
  bool release = false, started = false;
  REQUIRE(recorder.start("config", [&](const RecorderStatus&) {
    std::unique_lock lock(m);
    started = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  }));
  {
    std::unique_lock lock(m);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return started; }));
  }
  const auto before = std::chrono::steady_clock::now();
  publish(video, 0, 1);  // queued: the one place
  publish(video, 0, 2);  // dropped
  publish(video, 0, 3);  // dropped
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(1));
  CHECK(recorder.status().dropped == 2);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  REQUIRE(eventually([&] { return recorder.status().segments == 1; }));
  publish(video, 0, 4);  // the writer caught up: recorded again
  REQUIRE(eventually([&] { return recorder.status().segments == 2; }));
  CHECK(recorder.status().dropped == 2);
}
