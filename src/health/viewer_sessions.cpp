#include "health/viewer_sessions.hpp"

#include <algorithm>

namespace relay::health {
namespace {

bool is_id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

ViewerSessions::ViewerSessions(int64_t window_ms, size_t max_sessions)
    : window_ms_(window_ms), max_per_shard_(std::max<size_t>(1, max_sessions / kShards)) {}

bool ViewerSessions::valid_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), is_id_char);
}

void ViewerSessions::record(std::string_view session, std::string_view rendition, int64_t now_ms) {
  if (!valid_id(session)) return;
  // The shard from the hash's high bits; the map inside uses the low ones.
  Shard& shard = shards_[(IdHash{}(session) >> 40) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.sessions.find(session);
  if (it == shard.sessions.end()) {
    if (shard.sessions.size() >= max_per_shard_) expire(shard, now_ms);
    if (shard.sessions.size() >= max_per_shard_) {
      ++untracked_;
      return;
    }
    it = shard.sessions.emplace(std::string(session), Entry{}).first;
  }
  it->second.last_ms = now_ms;
  if (it->second.rendition != rendition) it->second.rendition.assign(rendition);
}

ViewerSessions::Count ViewerSessions::count(int64_t now_ms) {
  Count c;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    expire(shard, now_ms);
    c.total += shard.sessions.size();
    for (const auto& [id, entry] : shard.sessions) ++c.by_rendition[entry.rendition];
  }
  c.untracked_requests = untracked_.load();
  return c;
}

void ViewerSessions::expire(Shard& shard, int64_t now_ms) const {
  std::erase_if(shard.sessions, [&](const auto& s) { return now_ms - s.second.last_ms > window_ms_; });
}

}  // namespace relay::health
