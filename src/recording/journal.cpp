#include "recording/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <fstream>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/wall_time.hpp"

namespace relay::recording {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::error_code last_error() { return {errno, std::generic_category()}; }

// Writes all of `bytes`, retrying short writes and EINTR.
std::error_code write_all(int fd, const void* data, size_t size) {
  const auto* at = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, at, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    at += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

std::optional<int64_t> time_member(const json& line, const char* key) {
  const auto it = line.find(key);
  if (it == line.end() || !it->is_string()) return std::nullopt;
  return parse_time_ms(it->get_ref<const std::string&>());
}

template <typename T>
std::optional<T> unsigned_member(const json& line, const char* key) {
  const auto it = line.find(key);
  if (it == line.end() || !it->is_number_unsigned()) return std::nullopt;
  return static_cast<T>(it->get<uint64_t>());
}

std::string string_member(const json& line, const char* key) {
  const auto it = line.find(key);
  return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A journal may only name files inside its own event folder.
bool safe_relative(const std::string& file) {
  if (file.empty() || file.front() == '/') return false;
  for (const auto& part : fs::path(file))
    if (part == ".." || part == ".") return false;
  return true;
}

}  // namespace

std::string format_time_ms(int64_t epoch_ms) {
  int64_t seconds = epoch_ms / 1000;
  int64_t millis = epoch_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::string text = wall_time::format_rfc3339_utc(seconds);  // "...:SSZ"
  text.pop_back();
  return fmt::format("{}.{:03}Z", text, millis);
}

std::optional<int64_t> parse_time_ms(std::string_view text) {
  const auto seconds = wall_time::parse_rfc3339(text);
  if (!seconds) return std::nullopt;
  int64_t millis = 0;
  if (text.size() > 20 && text[19] == '.') {
    int scale = 100;
    for (size_t i = 20; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10)
      if (scale > 0) millis += (text[i] - '0') * scale;
  }
  return seconds->unix_seconds * 1000 + millis;
}

json run_line(uint32_t run, int64_t at_epoch_ms, const std::string& master) {
  return {{"type", "run"}, {"run", run}, {"at", format_time_ms(at_epoch_ms)}, {"master", master}};
}

json init_line(uint32_t run, const std::string& rendition, const std::string& file) {
  return {{"type", "init"}, {"run", run}, {"rendition", rendition}, {"file", file}};
}

json segment_line(const SegmentEntry& s) {
  json line = {{"type", "segment"},
               {"run", s.run},
               {"rendition", s.rendition},
               {"msn", s.msn},
               {"file", s.file},
               {"duration", s.duration_s},
               {"pdt", format_time_ms(s.pdt_epoch_ms)},
               {"media_time_90k", s.media_time_90k},
               {"bytes", s.bytes},
               {"discontinuity", s.discontinuity}};
  if (!s.init.empty()) line["init"] = s.init;
  return line;
}

json talk_line(const std::string& talk, std::optional<int64_t> start_epoch_ms, std::optional<int64_t> end_epoch_ms) {
  json line = {{"type", "talk"}, {"talk", talk}};
  if (start_epoch_ms) line["start"] = format_time_ms(*start_epoch_ms);
  if (end_epoch_ms) line["end"] = format_time_ms(*end_epoch_ms);
  return line;
}

json stop_line(uint32_t run, int64_t at_epoch_ms, const std::string& reason) {
  return {{"type", "stop"}, {"run", run}, {"at", format_time_ms(at_epoch_ms)}, {"reason", reason}};
}

json start_line(uint32_t run, int64_t at_epoch_ms, const std::string& reason) {
  return {{"type", "start"}, {"run", run}, {"at", format_time_ms(at_epoch_ms)}, {"reason", reason}};
}

std::vector<std::string> EventIndex::renditions() const {
  std::vector<std::string> names;
  for (const auto& segment : segments)
    if (std::find(names.begin(), names.end(), segment.rendition) == names.end()) names.push_back(segment.rendition);
  return names;
}

std::vector<const SegmentEntry*> EventIndex::segments_of(std::string_view rendition) const {
  std::vector<const SegmentEntry*> found;
  for (const auto& segment : segments)
    if (segment.rendition == rendition) found.push_back(&segment);
  return found;
}

std::optional<EventIndex> read_event(const fs::path& event_dir, std::string* error) {
  const fs::path journal = event_dir / kJournalName;
  std::ifstream in(journal, std::ios::binary);
  if (!in) {
    if (error) *error = fmt::format("cannot open {}", journal.string());
    return std::nullopt;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    if (error) *error = fmt::format("cannot read {}", journal.string());
    return std::nullopt;
  }

  EventIndex index;
  index.dir = event_dir;
  index.event = event_dir.filename().string();
  if (index.event.empty()) index.event = event_dir.parent_path().filename().string();
  std::map<std::string, bool> present;  // file -> exists, so an init is looked up once
  const auto exists = [&](const std::string& file) {
    auto [it, fresh] = present.try_emplace(file, false);
    if (fresh) {
      std::error_code ec;
      it->second = safe_relative(file) && fs::is_regular_file(event_dir / file, ec);
    }
    return it->second;
  };
  const auto seen_time = [&](std::optional<int64_t> at) {
    if (at && (!index.last_epoch_ms || *at > *index.last_epoch_ms)) index.last_epoch_ms = at;
  };

  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // a last line cut by a crash: never complete, ignored
    const std::string_view raw(text.data() + begin, end - begin);
    begin = end + 1;
    if (raw.empty()) continue;
    json line = json::parse(raw, nullptr, false);
    if (line.is_discarded() || !line.is_object() || !line.contains("type") || !line["type"].is_string()) {
      ++index.bad_lines;
      continue;
    }
    const std::string type = line["type"].get<std::string>();
    if (type == "run") {
      const auto run = unsigned_member<uint32_t>(line, "run");
      const auto at = time_member(line, "at");
      if (!run || !at) {
        ++index.bad_lines;
        continue;
      }
      seen_time(at);
      index.runs.push_back({*run, *at, string_member(line, "master")});
    } else if (type == "segment") {
      SegmentEntry s;
      const auto run = unsigned_member<uint32_t>(line, "run");
      const auto msn = unsigned_member<uint64_t>(line, "msn");
      const auto pdt = time_member(line, "pdt");
      s.rendition = string_member(line, "rendition");
      s.file = string_member(line, "file");
      s.init = string_member(line, "init");
      if (!run || !msn || !pdt || s.rendition.empty() || s.file.empty() || !line.contains("duration") ||
          !line["duration"].is_number()) {
        ++index.bad_lines;
        continue;
      }
      s.run = *run;
      s.msn = *msn;
      s.pdt_epoch_ms = *pdt;
      s.duration_s = line["duration"].get<double>();
      s.media_time_90k = unsigned_member<uint64_t>(line, "media_time_90k").value_or(0);
      s.bytes = unsigned_member<uint64_t>(line, "bytes").value_or(0);
      const auto disc = line.find("discontinuity");
      s.discontinuity = disc != line.end() && disc->is_boolean() && disc->get<bool>();
      seen_time(pdt);
      if (!exists(s.file) || (!s.init.empty() && !exists(s.init))) {
        ++index.missing_files;
        continue;
      }
      index.segments.push_back(std::move(s));
    } else if (type == "talk") {
      const std::string talk = string_member(line, "talk");
      const auto start = time_member(line, "start");
      const auto end_at = time_member(line, "end");
      if (talk.empty() || (!start && !end_at)) {
        ++index.bad_lines;
        continue;
      }
      seen_time(start);
      seen_time(end_at);
      auto it = std::find_if(index.talks.begin(), index.talks.end(), [&](const auto& t) { return t.talk == talk; });
      if (it == index.talks.end()) it = index.talks.insert(index.talks.end(), TalkMark{talk, {}, {}});
      if (start) it->start_epoch_ms = start;
      if (end_at) it->end_epoch_ms = end_at;
    } else if (type == "stop") {
      const auto run = unsigned_member<uint32_t>(line, "run");
      const auto at = time_member(line, "at");
      if (!run || !at) {
        ++index.bad_lines;
        continue;
      }
      seen_time(at);
      index.stops.push_back({*run, *at, string_member(line, "reason")});
    } else if (type == "start" || type == "init") {
      seen_time(time_member(line, "at"));  // read for their time only: segments name their init
    }
    // Other types are from a newer writer: ignored.
  }
  return index;
}

std::vector<std::string> list_events(const fs::path& recording_dir) {
  struct Found {
    int64_t first_ms;
    std::string name;
  };
  std::vector<Found> found;
  std::error_code ec;
  for (fs::directory_iterator it(recording_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code kind_error;
    if (!it->is_directory(kind_error)) continue;
    const fs::path journal = it->path() / kJournalName;
    if (!fs::is_regular_file(journal, kind_error)) continue;
    // Ordered by the first time the journal names (a start or run line, or a
    // talk mark made before the first start), which is when the event began; a
    // journal without one sorts by its file's time.
    std::optional<int64_t> first_time;
    std::ifstream in(journal);
    std::string text;
    for (int n = 0; n < 8 && !first_time && std::getline(in, text); ++n) {
      const json line = json::parse(text, nullptr, false);
      if (!line.is_object()) continue;
      for (const char* key : {"at", "start", "end", "pdt"})
        if (!first_time) first_time = time_member(line, key);
    }
    int64_t first_ms = 0;
    if (first_time) {
      first_ms = *first_time;
    } else {
      const auto written = fs::last_write_time(journal, kind_error);
      if (!kind_error)
        first_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::file_clock::to_sys(written).time_since_epoch())
                       .count();
    }
    found.push_back({first_ms, it->path().filename().string()});
  }
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return std::tie(a.first_ms, a.name) < std::tie(b.first_ms, b.name); });
  std::vector<std::string> names;
  for (auto& f : found) names.push_back(std::move(f.name));
  return names;
}

namespace files {

std::error_code make_private_dir(const fs::path& dir) {
  std::error_code ec;
  if (dir.has_parent_path() && dir.parent_path() != dir && !fs::exists(dir.parent_path(), ec)) {
    if (auto parent = make_private_dir(dir.parent_path())) return parent;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return last_error();
  // mkdir's mode is masked by the umask; an existing folder keeps its own mode.
  if (::chmod(dir.c_str(), 0700) != 0) return last_error();
  return {};
}

std::error_code sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  std::error_code result;
  if (::fsync(fd) != 0) result = last_error();
  ::close(fd);
  return result;
}

std::error_code write_durably(const fs::path& dir, const std::string& name, std::string_view bytes,
                              bool sync_folder) {
  const fs::path final_path = dir / name;
  const fs::path tmp_path = dir / (name + ".tmp");
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return last_error();
  std::error_code result;
  if (::fchmod(fd, 0600) != 0) result = last_error();
  if (!result) result = write_all(fd, bytes.data(), bytes.size());
  if (!result && ::fsync(fd) != 0) result = last_error();
  if (::close(fd) != 0 && !result) result = last_error();
  if (!result && ::rename(tmp_path.c_str(), final_path.c_str()) != 0) result = last_error();
  if (result) {
    ::unlink(tmp_path.c_str());  // a full disk: give back what the partial file took
    return result;
  }
  if (sync_folder) return sync_dir(dir);
  return {};
}

size_t remove_tmp_files(const fs::path& event_dir) {
  size_t removed = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(event_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code kind_error;
    if (it->is_regular_file(kind_error) && it->path().extension() == ".tmp" && fs::remove(it->path(), kind_error))
      ++removed;
  }
  return removed;
}

}  // namespace files

std::optional<JournalWriter> JournalWriter::open(const fs::path& event_dir, std::error_code& error) {
  const fs::path path = event_dir / kJournalName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = last_error();
    return std::nullopt;
  }
  const auto fail = [&] {
    error = last_error();
    ::close(fd);
    return std::nullopt;
  };
  if (::fchmod(fd, 0600) != 0) return fail();
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail();
  off_t size = st.st_size;
  if (size > 0) {
    // Find the end of the last complete line: a crash mid-append leaves a tail
    // without '\n', which would otherwise swallow the next line.
    char last = 0;
    if (::pread(fd, &last, 1, size - 1) != 1) return fail();
    if (last != '\n') {
      off_t keep = 0;
      std::vector<char> block(4096);
      for (off_t pos = size; pos > 0 && keep == 0;) {
        const off_t from = std::max<off_t>(0, pos - static_cast<off_t>(block.size()));
        const ssize_t n = ::pread(fd, block.data(), static_cast<size_t>(pos - from), from);
        if (n <= 0) return fail();
        for (ssize_t i = n - 1; i >= 0; --i)
          if (block[static_cast<size_t>(i)] == '\n') {
            keep = from + i + 1;
            break;
          }
        pos = from;
      }
      if (::ftruncate(fd, keep) != 0 || ::fdatasync(fd) != 0) return fail();
      size = keep;
    }
  }
  if (::lseek(fd, 0, SEEK_END) < 0) return fail();
  error.clear();
  return JournalWriter(fd, static_cast<uint64_t>(size));
}

JournalWriter::JournalWriter(JournalWriter&& other) noexcept : fd_(other.fd_), bytes_(other.bytes_) {
  other.fd_ = -1;
}

JournalWriter& JournalWriter::operator=(JournalWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    bytes_ = other.bytes_;
    other.fd_ = -1;
  }
  return *this;
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code JournalWriter::append(const json& line) {
  if (fd_ < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
  text.push_back('\n');
  // One write() of one line: O_APPEND is not needed with a single writer, and a
  // failed write is cut off by the next open().
  if (auto ec = write_all(fd_, text.data(), text.size())) {
    // Take back a partial line (a full disk), so a later line, e.g. the stop
    // line once space is freed, starts on its own line.
    if (::ftruncate(fd_, static_cast<off_t>(bytes_)) == 0) ::lseek(fd_, 0, SEEK_END);
    return ec;
  }
  bytes_ += text.size();
  if (::fdatasync(fd_) != 0) return last_error();
  return {};
}

}  // namespace relay::recording
