#pragma once
// The recorder (docs/recording.md): every complete segment of every rendition
// of the stores it watches goes to disk with its init section and a journal line
// (journal.hpp). The store's listener only looks at the new snapshot and posts;
// files, fsyncs and the disk checks run on the recorder's own thread, behind a
// bounded queue that drops (and counts) rather than slow the live path. A full
// disk or a failed write stops the recording, never the stream.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/work_queue.hpp"
#include "hls/store.hpp"
#include "recording/journal.hpp"

namespace relay::recording {

struct RecorderOptions {
  std::filesystem::path dir;       // recording.dir
  std::string event;               // recording.event; empty: the UTC day of the first start
  uint64_t warn_free_bytes = 0;    // below: disk_low (the recording_disk_low alert)
  uint64_t stop_free_bytes = 0;    // below: the recording stops (reason disk_full)
  int retention_days = 0;          // 0: keep forever
  size_t queue_limit = 64;         // batches of segments waiting for the writer
};

// What the free space means for the recording.
enum class DiskVerdict { ok, low, full };
DiskVerdict disk_verdict(uint64_t free_bytes, uint64_t warn_free_bytes, uint64_t stop_free_bytes);

// Write errors that mean "no space": the recording stops with reason disk_full.
bool is_disk_full(const std::error_code& error);

// "2026-12-07": the default event id, the UTC day of `epoch_ms`.
std::string utc_day(int64_t epoch_ms);
// An event id is one folder name: 1..64 of A-Z a-z 0-9 . _ -, not starting with '.'.
bool valid_event_id(std::string_view id);

enum class RecorderState { off, recording, stopped };
const char* to_string(RecorderState state);

struct RecorderStatus {
  RecorderState state = RecorderState::off;
  std::string event;        // empty until the first start
  uint32_t run = 0;         // 0 until the first start
  std::string stop_reason;  // operator, disk_full, error, shutdown (after a stop)
  uint64_t bytes = 0;       // media written by this process (segments and inits)
  uint64_t segments = 0;
  uint64_t dropped = 0;     // segments the writer could not keep up with
  std::optional<uint64_t> disk_free_bytes;
  bool disk_low = false;    // below warn_free_bytes (or stopped for lack of space)
  std::string last_error;
  std::string oldest_event;                    // empty: none kept
  std::optional<int64_t> oldest_event_epoch_ms;  // when it began
};

class Recorder {
 public:
  // What the recorder watches: the main store (video and audio renditions) and
  // the subtitle stores; all must outlive the recorder. `master` gives the text
  // of the live master playlist for each run line.
  Recorder(RecorderOptions options, std::vector<hls::Store*> stores, std::function<std::string()> master,
           std::function<int64_t()> clock);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Opens the event folder and its journal (creating both), removes the .tmp
  // files of a crash, and returns what the journal says so far (the talk marks
  // to restore). Runs on the caller's thread: call at start-up, before start().
  // Idempotent; nullopt + last_error when the folder cannot be made.
  std::optional<EventIndex> open_event();

  // Start and stop run on the writer's thread; `done` (may be empty) gets the
  // status afterwards. False when the writer's queue is full (try again).
  // reason: config|operator|restart for start, operator|shutdown for stop.
  using Done = std::function<void(const RecorderStatus&)>;
  bool start(std::string reason, Done done = {});
  bool stop(std::string reason, Done done = {});

  // A programme mark goes into the journal whenever an event is open, recording or not.
  void talk_mark(const std::string& talk, std::optional<int64_t> start_epoch_ms, std::optional<int64_t> end_epoch_ms);

  // New thresholds and retention (a config reload).
  void reconfigure(uint64_t warn_free_bytes, uint64_t stop_free_bytes, int retention_days);
  // Removes events older than retention_days (never the current one), on the writer's thread.
  void purge_expired();
  // Measures the free space again (for /tech and /metrics while idle), on the writer's thread.
  void refresh_disk();

  RecorderStatus status() const;

  // Stops (reason shutdown) if recording, writes what is queued, joins the thread.
  void shutdown();

 private:
  struct Batch {
    size_t source = 0;
    size_t rendition = 0;
    std::string name;
    std::string extension;
    std::vector<std::shared_ptr<const hls::Segment>> segments;
  };
  struct Track {
    uint64_t queued_msn = 0;  // newest msn handed to the writer (listener side)
  };
  struct RenditionFiles {
    bool dir_made = false;
    std::string init_uri;    // the live init name last written in this run
    std::string init_file;   // its file, relative to the event dir
    int inits_in_run = 0;
    uint64_t last_msn = 0;   // in this run
  };

  void on_publish(size_t source, size_t rendition);
  // Writer thread only below.
  void do_start(const std::string& reason);
  void do_stop(const std::string& reason);
  void write_batch(const Batch& batch);
  bool write_segment(const Batch& batch, const hls::Segment& segment);
  void begin_run();
  void fail(const std::error_code& error, const std::string& what);
  std::optional<uint64_t> measure_free();
  void update_oldest();
  void set_state(RecorderState state, const std::string& reason);

  RecorderOptions options_;
  std::vector<hls::Store*> stores_;
  std::vector<uint64_t> subscriptions_;
  std::function<std::string()> master_;
  std::function<int64_t()> clock_;

  // The listener's side: whether to look at publishes, and what was queued.
  std::atomic<bool> active_{false};
  std::mutex tracks_mutex_;
  std::map<std::pair<size_t, size_t>, Track> tracks_;
  bool dropping_ = false;  // with tracks_mutex_: a drop streak is going on

  // The writer's side (its thread, after open_event()).
  std::optional<JournalWriter> journal_;
  std::filesystem::path event_dir_;
  uint32_t last_run_ = 0;  // the newest run in the journal
  bool run_line_written_ = false;
  std::map<std::pair<size_t, size_t>, RenditionFiles> files_;

  mutable std::mutex status_mutex_;
  RecorderStatus status_;
  std::atomic<uint64_t> dropped_{0};

  WorkQueue writer_;  // last: its thread stops before the rest goes
};

}  // namespace relay::recording
