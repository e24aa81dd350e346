#pragma once
// The recording's on-disk journal (docs/recording.md, the format in REC-FORMAT):
// one folder per event, one file per init section and segment, and an
// append-only journal.jsonl that names only complete files. The writer here makes
// each file durable before its journal line; the reader builds an EventIndex that
// the VOD side and the relay's restart read back.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

namespace relay::recording {

struct SegmentEntry {
  uint32_t run = 0;
  std::string rendition;
  uint64_t msn = 0;
  std::string file;  // relative to the event dir
  std::string init;  // relative, empty for .vtt
  double duration_s = 0;
  int64_t pdt_epoch_ms = 0;
  uint64_t media_time_90k = 0;
  uint64_t bytes = 0;
  bool discontinuity = false;
};

struct RunEntry {
  uint32_t run = 0;
  int64_t at_epoch_ms = 0;
  std::string master;
};

// Start and end as the last mark of each kind left them.
struct TalkMark {
  std::string talk;
  std::optional<int64_t> start_epoch_ms, end_epoch_ms;
};

struct StopEntry {
  uint32_t run = 0;
  int64_t at_epoch_ms = 0;
  std::string reason;
};

struct EventIndex {
  std::string event;  // folder name
  std::filesystem::path dir;
  std::vector<RunEntry> runs;          // in order
  std::vector<SegmentEntry> segments;  // in journal order (per rendition: increasing run, msn)
  std::vector<TalkMark> talks;         // merged per talk id, in order of first appearance
  std::vector<StopEntry> stops;
  // What the reader skipped: lines that were not JSON objects, entries naming a
  // file that is not there (written but lost, or deleted by hand).
  size_t bad_lines = 0;
  size_t missing_files = 0;
  // The latest time any entry carries (run/stop "at", segment PDT, talk marks);
  // retention measures an event's age from it. Empty for a journal without times.
  std::optional<int64_t> last_epoch_ms;

  // Renditions in order of first appearance; segments of one rendition in order.
  std::vector<std::string> renditions() const;
  std::vector<const SegmentEntry*> segments_of(std::string_view rendition) const;
};

inline constexpr const char* kJournalName = "journal.jsonl";

// Reads <dir>/journal.jsonl; entries whose file is missing are dropped (with a count);
// a cut last line is ignored. Errors (no journal, unreadable) as std::nullopt + message.
std::optional<EventIndex> read_event(const std::filesystem::path& event_dir, std::string* error = nullptr);
// Every event folder under the recording dir (those with a journal), oldest first.
std::vector<std::string> list_events(const std::filesystem::path& recording_dir);

// "2026-12-07T09:00:00.000Z"
std::string format_time_ms(int64_t epoch_ms);
// RFC 3339 with any offset and fraction (milliseconds kept); nullopt when not one.
std::optional<int64_t> parse_time_ms(std::string_view text);

// Journal lines as REC-FORMAT writes them.
nlohmann::json run_line(uint32_t run, int64_t at_epoch_ms, const std::string& master);
nlohmann::json init_line(uint32_t run, const std::string& rendition, const std::string& file);
nlohmann::json segment_line(const SegmentEntry& segment);
nlohmann::json talk_line(const std::string& talk, std::optional<int64_t> start_epoch_ms,
                         std::optional<int64_t> end_epoch_ms);
nlohmann::json stop_line(uint32_t run, int64_t at_epoch_ms, const std::string& reason);
nlohmann::json start_line(uint32_t run, int64_t at_epoch_ms, const std::string& reason);

// Durable files. The modes are set explicitly (open mode and fchmod/chmod), so a
// permissive umask cannot widen them: folders 0700, files 0600.
namespace files {
// Creates the folder and its missing parents with 0700, and fixes the mode of
// the last one if it existed with another.
std::error_code make_private_dir(const std::filesystem::path& dir);
// fsync of a folder, so a rename or a new entry in it survives a power loss.
std::error_code sync_dir(const std::filesystem::path& dir);
// <dir>/<name>.tmp written and fsynced, renamed to <dir>/<name>; the folder is
// fsynced when `sync_folder` (the caller's first file in that folder, or every time).
std::error_code write_durably(const std::filesystem::path& dir, const std::string& name,
                              std::string_view bytes, bool sync_folder = true);
// Deletes every *.tmp under the event folder (garbage of a crash); returns how many.
size_t remove_tmp_files(const std::filesystem::path& event_dir);
}  // namespace files

// The append side of journal.jsonl. Not thread-safe: the recorder's worker owns it.
class JournalWriter {
 public:
  // Opens (creating 0600) <event_dir>/journal.jsonl for appending. A last line
  // cut by a crash is cut off first, so the next line starts on a line of its own.
  static std::optional<JournalWriter> open(const std::filesystem::path& event_dir, std::error_code& error);
  JournalWriter(JournalWriter&& other) noexcept;
  JournalWriter& operator=(JournalWriter&& other) noexcept;
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  ~JournalWriter();

  // Appends one line and fdatasyncs; on error the journal may hold a partial
  // line, which the next open() cuts off and readers ignore.
  std::error_code append(const nlohmann::json& line);
  uint64_t bytes() const { return bytes_; }

 private:
  explicit JournalWriter(int fd, uint64_t size) : fd_(fd), bytes_(size) {}
  int fd_ = -1;
  uint64_t bytes_ = 0;
};

}  // namespace relay::recording
