#include "health/incident_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace relay::health {

IncidentLog::IncidentLog(std::filesystem::path file, int64_t now_ms, size_t keep)
    : path_(std::move(file)), keep_(keep), file_(nullptr, &std::fclose) {
  std::error_code ec;
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
  if (ec) throw std::runtime_error(fmt::format("incident log {}: {}", path_.string(), ec.message()));

  size_t skipped = 0;
  {
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("id") || !j["id"].is_number_unsigned()) {
        ++skipped;
        continue;
      }
      const uint64_t id = j["id"].get<uint64_t>();
      const std::string type = j.value("type", "");
      next_id_ = std::max(next_id_, id + 1);
      if (type == "fired") {
        incidents_.push_back({id, j.value("rule", ""), j.value("message", ""), j.value<int64_t>("at", 0), {}, {}});
        open_[incidents_.back().rule] = id;
        if (incidents_.size() > keep_) incidents_.pop_front();
      } else if (Incident* incident = find(id)) {
        incident->ended_at_ms = j.value<int64_t>("at", 0);
        incident->ending = type;
        if (auto it = open_.find(incident->rule); it != open_.end() && it->second == id) open_.erase(it);
      }
    }
  }
  // Readable by the relay's user only (0600), also when an older version made it wider.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0 && ::fchmod(fd, 0600) == 0) file_.reset(::fdopen(fd, "a"));
  if (!file_) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(fmt::format("incident log {}: {}", path_.string(), std::strerror(error)));
  }
  if (skipped) log::get("health")->warn("incident log {}: skipped {} unreadable lines", path_.string(), skipped);

  for (const auto& [rule, id] : open_) {
    if (Incident* incident = find(id)) {
      incident->ended_at_ms = now_ms;
      incident->ending = "interrupted";
    }
    append(nlohmann::json{{"type", "interrupted"}, {"id", id}, {"rule", rule}, {"at", now_ms}}.dump());
  }
  open_.clear();
  writer_ = std::thread([this] { write_lines(); });
}

IncidentLog::~IncidentLog() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queued_.notify_one();
  writer_.join();
}

void IncidentLog::flush() {
  std::unique_lock lock(queue_mutex_);
  written_.wait(lock, [&] { return queue_.empty() && writing_ == 0; });
}

uint64_t IncidentLog::record(const AlertEvent& event) {
  uint64_t id = 0;
  if (event.firing) {
    id = next_id_++;
    incidents_.push_back({id, event.rule, event.message, event.at_ms, {}, {}});
    if (incidents_.size() > keep_) incidents_.pop_front();
    open_[event.rule] = id;
    append(nlohmann::json{{"type", "fired"}, {"id", id}, {"rule", event.rule}, {"at", event.at_ms},
                          {"message", event.message}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return id;
  }
  auto it = open_.find(event.rule);
  if (it == open_.end()) return 0;
  id = it->second;
  open_.erase(it);
  if (Incident* incident = find(id)) {
    incident->ended_at_ms = event.at_ms;
    incident->ending = "resolved";
  }
  append(nlohmann::json{{"type", "resolved"}, {"id", id}, {"rule", event.rule}, {"at", event.at_ms}}.dump());
  return id;
}

std::vector<Incident> IncidentLog::recent(size_t limit) const {
  std::vector<Incident> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend() && out.size() < limit; ++it) out.push_back(*it);
  return out;
}

void IncidentLog::append(std::string line) {
  bool queued = false;
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() < kQueueLimit) {
      queue_.push_back(line + "\n");
      queued = true;
    }
  }
  if (!queued) {
    log::get("health")->error("incident log {}: {} lines wait for the disk; not written: {}", path_.string(),
                              kQueueLimit, line);
    return;
  }
  queued_.notify_one();
}

// The writer thread: takes what is queued, writes it, syncs once, and on stop
// leaves only once the queue is empty.
void IncidentLog::write_lines() {
  std::unique_lock lock(queue_mutex_);
  for (;;) {
    queued_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    std::deque<std::string> batch;
    batch.swap(queue_);
    writing_ = batch.size();
    lock.unlock();
    // A full disk must not take the stream down; the in-memory list still has it.
    bool ok = true;
    for (const auto& line : batch) ok = ok && std::fputs(line.c_str(), file_.get()) >= 0;
    if (ok && std::fflush(file_.get()) == 0) {
      ::fdatasync(fileno(file_.get()));
    } else {
      log::get("health")->error("incident log {}: {}", path_.string(), std::strerror(errno));
    }
    lock.lock();
    writing_ = 0;
    written_.notify_all();
  }
}

Incident* IncidentLog::find(uint64_t id) {
  for (auto& i : incidents_) {
    if (i.id == id) return &i;
  }
  return nullptr;
}

}  // namespace relay::health
