#include "recording/recorder.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "common/log.hpp"
#include "recording/retention.hpp"

namespace relay::recording {
namespace fs = std::filesystem;

namespace {

spdlog::logger& recording_log() {
  static const auto logger = relay::log::get("recording");
  return *logger;
}

}  // namespace

DiskVerdict disk_verdict(uint64_t free_bytes, uint64_t warn_free_bytes, uint64_t stop_free_bytes) {
  if (free_bytes < stop_free_bytes) return DiskVerdict::full;
  if (free_bytes < warn_free_bytes) return DiskVerdict::low;
  return DiskVerdict::ok;
}

bool is_disk_full(const std::error_code& error) {
  return error == std::errc::no_space_on_device || error.value() == EDQUOT || error == std::errc::file_too_large;
}

std::string utc_day(int64_t epoch_ms) { return format_time_ms(epoch_ms).substr(0, 10); }

bool valid_event_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.front() == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

const char* to_string(RecorderState state) {
  switch (state) {
    case RecorderState::off: return "off";
    case RecorderState::recording: return "recording";
    case RecorderState::stopped: return "stopped";
  }
  return "off";
}

Recorder::Recorder(RecorderOptions options, std::vector<hls::Store*> stores, std::function<std::string()> master,
                   std::function<int64_t()> clock)
    : options_(std::move(options)),
      stores_(std::move(stores)),
      master_(std::move(master)),
      clock_(std::move(clock)),
      writer_("recorder", options_.queue_limit) {
  for (size_t source = 0; source < stores_.size(); ++source)
    subscriptions_.push_back(
        stores_[source]->subscribe([this, source](size_t rendition, uint64_t) { on_publish(source, rendition); }));
}

Recorder::~Recorder() { shutdown(); }

void Recorder::shutdown() {
  for (size_t source = 0; source < subscriptions_.size(); ++source) stores_[source]->unsubscribe(subscriptions_[source]);
  subscriptions_.clear();
  if (active_.exchange(false)) writer_.post([this] { do_stop("shutdown"); });
  writer_.stop();
}

// On the publishing thread: a look at the new snapshot, and a post when a
// segment completed. Nothing here waits on the disk.
void Recorder::on_publish(size_t source, size_t rendition) {
  if (!active_.load(std::memory_order_acquire)) return;
  const auto snapshot = stores_[source]->rendition(rendition);
  if (!snapshot || snapshot->last_msn == 0) return;
  std::lock_guard lock(tracks_mutex_);
  Track& track = tracks_[{source, rendition}];
  if (snapshot->last_msn == track.queued_msn) return;
  // A packager that started over counts from 1 again: take its segments from there.
  if (snapshot->last_msn < track.queued_msn) track.queued_msn = 0;
  Batch batch{source, rendition, snapshot->name, snapshot->segment_extension, {}};
  for (auto it = snapshot->segments.upper_bound(track.queued_msn);
       it != snapshot->segments.end() && it->first <= snapshot->last_msn; ++it)
    if (it->second) batch.segments.push_back(it->second);
  track.queued_msn = snapshot->last_msn;
  if (batch.segments.empty()) return;
  const size_t count = batch.segments.size();
  if (writer_.post([this, batch = std::move(batch)] { write_batch(batch); })) {
    if (dropping_) {
      dropping_ = false;
      recording_log().warn("recording: the writer caught up; {} segment(s) dropped so far", dropped_.load());
    }
    return;
  }
  dropped_ += count;
  if (!dropping_) {
    dropping_ = true;
    recording_log().warn("recording: the disk writer is behind (queue full): dropping segments, the live stream goes on");
  }
}

std::optional<EventIndex> Recorder::open_event() {
  if (journal_) return read_event(event_dir_);
  std::string event = options_.event.empty() ? utc_day(clock_()) : options_.event;
  const fs::path dir = options_.dir / event;
  auto set_error = [&](const std::string& message) {
    recording_log().error("recording: {}", message);
    std::lock_guard lock(status_mutex_);
    status_.last_error = message;
  };
  if (auto ec = files::make_private_dir(dir)) {
    set_error(fmt::format("cannot make the event folder {}: {}", dir.string(), ec.message()));
    return std::nullopt;
  }
  const size_t garbage = files::remove_tmp_files(dir);
  std::error_code ec;
  auto journal = JournalWriter::open(dir, ec);
  if (!journal) {
    set_error(fmt::format("cannot open {}: {}", (dir / kJournalName).string(), ec.message()));
    return std::nullopt;
  }
  journal_ = std::move(journal);
  event_dir_ = dir;
  std::string error;
  auto index = read_event(dir, &error);
  if (index) {
    for (const auto& r : index->runs) last_run_ = std::max(last_run_, r.run);
    for (const auto& s : index->stops) last_run_ = std::max(last_run_, s.run);
    for (const auto& s : index->segments) last_run_ = std::max(last_run_, s.run);
    if (!index->runs.empty() || garbage > 0)
      recording_log().info("recording: continuing event '{}' after run {} ({} segment(s) kept, {} unfinished file(s) "
                           "removed, {} bad line(s), {} missing file(s))",
                           event, last_run_, index->segments.size(), garbage, index->bad_lines, index->missing_files);
  }
  {
    std::lock_guard lock(status_mutex_);
    status_.event = event;
    status_.run = last_run_;
  }
  update_oldest();
  measure_free();
  return index;
}

bool Recorder::start(std::string reason, Done done) {
  return writer_.post([this, reason = std::move(reason), done = std::move(done)] {
    do_start(reason);
    if (done) done(status());
  });
}

bool Recorder::stop(std::string reason, Done done) {
  return writer_.post([this, reason = std::move(reason), done = std::move(done)] {
    do_stop(reason);
    if (done) done(status());
  });
}

void Recorder::do_start(const std::string& reason) {
  if (status().state == RecorderState::recording) return;
  if (!journal_ && !open_event()) return;
  // Refused on a disk that is already below the stop threshold: it would stop at once.
  const auto free = measure_free();
  if (free && disk_verdict(*free, options_.warn_free_bytes, options_.stop_free_bytes) == DiskVerdict::full) {
    std::lock_guard lock(status_mutex_);
    status_.state = RecorderState::stopped;
    status_.stop_reason = "disk_full";
    status_.last_error = fmt::format("only {} MB free on the recording disk (recording.stop_free_mb is {})",
                                     *free / 1'000'000, options_.stop_free_bytes / 1'000'000);
    recording_log().error("recording not started: {}", status_.last_error);
    return;
  }
  ++last_run_;
  run_line_written_ = false;
  files_.clear();
  if (auto ec = journal_->append(start_line(last_run_, clock_(), reason))) {
    fail(ec, "the journal");
    return;
  }
  {
    // From the next segment each rendition completes: what is already
    // published belongs to nobody's run.
    std::lock_guard lock(tracks_mutex_);
    for (size_t source = 0; source < stores_.size(); ++source)
      for (size_t r = 0; r < stores_[source]->rendition_count(); ++r) {
        const auto snapshot = stores_[source]->rendition(r);
        tracks_[{source, r}].queued_msn = snapshot ? snapshot->last_msn : 0;
      }
  }
  {
    std::lock_guard lock(status_mutex_);
    status_.state = RecorderState::recording;
    status_.run = last_run_;
    status_.stop_reason.clear();
  }
  active_.store(true, std::memory_order_release);
  recording_log().info("recording started ({}): event '{}', run {}, into {}", reason, status().event, last_run_,
                       event_dir_.string());
}

void Recorder::do_stop(const std::string& reason) {
  active_.store(false, std::memory_order_release);
  if (status().state != RecorderState::recording) return;
  if (journal_) {
    if (auto ec = journal_->append(stop_line(last_run_, clock_(), reason)))
      recording_log().warn("recording: the stop line could not be written: {}", ec.message());
  }
  set_state(RecorderState::stopped, reason);
  recording_log().info("recording stopped ({}): event '{}', run {}", reason, status().event, last_run_);
}

void Recorder::set_state(RecorderState state, const std::string& reason) {
  std::lock_guard lock(status_mutex_);
  status_.state = state;
  status_.stop_reason = reason;
}

void Recorder::begin_run() {
  const std::string master = master_ ? master_() : std::string();
  if (auto ec = journal_->append(run_line(last_run_, clock_(), master))) {
    fail(ec, "the journal");
    return;
  }
  run_line_written_ = true;
}

void Recorder::write_batch(const Batch& batch) {
  for (const auto& segment : batch.segments) {
    if (status().state != RecorderState::recording) return;
    if (!write_segment(batch, *segment)) return;
  }
}

bool Recorder::write_segment(const Batch& batch, const hls::Segment& segment) {
  const auto free = measure_free();
  if (free) {
    const DiskVerdict verdict = disk_verdict(*free, options_.warn_free_bytes, options_.stop_free_bytes);
    if (verdict == DiskVerdict::full) {
      {
        std::lock_guard lock(status_mutex_);
        status_.last_error = fmt::format("{} MB free on the recording disk, below recording.stop_free_mb ({} MB)",
                                         *free / 1'000'000, options_.stop_free_bytes / 1'000'000);
      }
      recording_log().error("recording stops: {}; the live stream goes on", status().last_error);
      do_stop("disk_full");
      return false;
    }
  }
  if (!run_line_written_) {
    begin_run();
    if (!run_line_written_) return false;
  }
  RenditionFiles& files = files_[{batch.source, batch.rendition}];
  // A packager that started over within a run would reuse names: a new run.
  if (files.last_msn != 0 && segment.msn <= files.last_msn) {
    ++last_run_;
    files_.clear();
    {
      std::lock_guard lock(status_mutex_);
      status_.run = last_run_;
    }
    begin_run();
    if (!run_line_written_) return false;
    return write_segment(batch, segment);
  }
  const fs::path dir = event_dir_ / batch.name;
  if (!files.dir_made) {
    if (auto ec = files::make_private_dir(dir)) {
      fail(ec, dir.string());
      return false;
    }
    // The folder's own entry in the event folder.
    if (auto ec = files::sync_dir(event_dir_)) {
      fail(ec, event_dir_.string());
      return false;
    }
    files.dir_made = true;
  }
  uint64_t written = 0;
  if (segment.init && !segment.init_uri.empty() && segment.init_uri != files.init_uri) {
    ++files.inits_in_run;
    const std::string name = files.inits_in_run == 1 ? fmt::format("init-{}.mp4", last_run_)
                                                     : fmt::format("init-{}-{}.mp4", last_run_, files.inits_in_run);
    if (auto ec = files::write_durably(dir, name, *segment.init)) {
      fail(ec, (dir / name).string());
      return false;
    }
    files.init_uri = segment.init_uri;
    files.init_file = batch.name + "/" + name;
    if (auto ec = journal_->append(init_line(last_run_, batch.name, files.init_file))) {
      fail(ec, "the journal");
      return false;
    }
    written += segment.init->size();
  }
  const std::string name = fmt::format("{}-{}.{}", last_run_, segment.msn, batch.extension);
  const std::string_view data = segment.data ? std::string_view(*segment.data) : std::string_view();
  if (auto ec = files::write_durably(dir, name, data)) {
    fail(ec, (dir / name).string());
    return false;
  }
  SegmentEntry entry;
  entry.run = last_run_;
  entry.rendition = batch.name;
  entry.msn = segment.msn;
  entry.file = batch.name + "/" + name;
  entry.init = segment.init_uri.empty() ? std::string() : files.init_file;
  entry.duration_s = segment.duration_s;
  entry.pdt_epoch_ms = segment.pdt_epoch_ms;
  entry.media_time_90k = segment.media_time_90k;
  entry.bytes = data.size();
  entry.discontinuity = segment.discontinuity;
  if (auto ec = journal_->append(segment_line(entry))) {
    fail(ec, "the journal");
    return false;
  }
  files.last_msn = segment.msn;
  written += data.size();
  std::lock_guard lock(status_mutex_);
  status_.bytes += written;
  ++status_.segments;
  return true;
}

void Recorder::fail(const std::error_code& error, const std::string& what) {
  const bool full = is_disk_full(error);
  {
    std::lock_guard lock(status_mutex_);
    status_.last_error = fmt::format("writing {}: {}", what, error.message());
    if (full) status_.disk_low = true;
  }
  recording_log().error("recording stops: {}; the live stream goes on", status().last_error);
  do_stop(full ? "disk_full" : "error");
}

std::optional<uint64_t> Recorder::measure_free() {
  // The event folder, or before it exists the nearest folder above it that does.
  fs::path at = event_dir_.empty() ? options_.dir : event_dir_;
  std::error_code ec;
  while (!at.empty() && !fs::exists(at, ec) && at.has_parent_path() && at.parent_path() != at) at = at.parent_path();
  if (at.empty()) at = ".";
  struct statvfs st {};
  if (::statvfs(at.c_str(), &st) != 0) return std::nullopt;
  const uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  const DiskVerdict verdict = disk_verdict(free, options_.warn_free_bytes, options_.stop_free_bytes);
  std::lock_guard lock(status_mutex_);
  // Said in the log only while it matters: not while the recording is off.
  if (status_.state != RecorderState::off && status_.disk_low != (verdict != DiskVerdict::ok)) {
    if (verdict != DiskVerdict::ok)
      recording_log().warn("recording disk low: {} MB free (recording.warn_free_mb is {})", free / 1'000'000,
                           options_.warn_free_bytes / 1'000'000);
    else
      recording_log().info("recording disk: {} MB free again", free / 1'000'000);
  }
  status_.disk_free_bytes = free;
  status_.disk_low = verdict != DiskVerdict::ok;
  return free;
}

void Recorder::update_oldest() {
  const auto ages = event_ages(options_.dir);
  std::lock_guard lock(status_mutex_);
  if (ages.empty()) {
    status_.oldest_event.clear();
    status_.oldest_event_epoch_ms.reset();
  } else {
    status_.oldest_event = ages.front().event;
    status_.oldest_event_epoch_ms = ages.front().first_epoch_ms;
  }
}

void Recorder::talk_mark(const std::string& talk, std::optional<int64_t> start_epoch_ms,
                         std::optional<int64_t> end_epoch_ms) {
  const bool posted = writer_.post([this, talk, start_epoch_ms, end_epoch_ms] {
    if (!journal_) return;
    if (auto ec = journal_->append(talk_line(talk, start_epoch_ms, end_epoch_ms))) {
      recording_log().error("recording: the mark of talk '{}' could not be written: {}", talk, ec.message());
      std::lock_guard lock(status_mutex_);
      status_.last_error = fmt::format("writing the journal: {}", ec.message());
    }
  });
  if (!posted) recording_log().error("recording: the writer is busy; the mark of talk '{}' is not in the journal", talk);
}

void Recorder::reconfigure(uint64_t warn_free_bytes, uint64_t stop_free_bytes, int retention_days) {
  writer_.post([this, warn_free_bytes, stop_free_bytes, retention_days] {
    options_.warn_free_bytes = warn_free_bytes;
    options_.stop_free_bytes = stop_free_bytes;
    options_.retention_days = retention_days;
  });
}

void Recorder::purge_expired() {
  writer_.post([this] {
    const auto cutoff = retention_cutoff(clock_(), options_.retention_days);
    if (!cutoff) return;
    std::vector<std::string> errors;
    const std::string keep = event_dir_.empty() ? std::string() : event_dir_.filename().string();
    for (const auto& name : purge_events(options_.dir, *cutoff, keep, &errors))
      recording_log().info("recording: removed event '{}' (older than recording.retention_days = {})", name,
                           options_.retention_days);
    for (const auto& error : errors) recording_log().warn("recording: could not remove {}", error);
    update_oldest();
  });
}

void Recorder::refresh_disk() {
  writer_.post([this] { measure_free(); });
}

RecorderStatus Recorder::status() const {
  std::lock_guard lock(status_mutex_);
  RecorderStatus copy = status_;
  copy.dropped = dropped_.load();
  return copy;
}

}  // namespace relay::recording
