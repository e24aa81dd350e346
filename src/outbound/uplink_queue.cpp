#include "outbound/uplink_queue.hpp"

#include "hls/object_names.hpp"
#include "hls/playlist.hpp"

namespace relay::outbound {
namespace {

// As the relay serves them (delivery/router.cpp), so the receiver can store them as they came.
constexpr std::string_view kPlaylistType = "application/vnd.apple.mpegurl";
constexpr std::string_view kMediaType = "video/mp4";
constexpr std::string_view kTransportStreamType = "video/mp2t";

bool is_media(const UplinkObject& o) {
  return o.kind == UplinkObjectKind::part || o.kind == UplinkObjectKind::segment;
}

}  // namespace

RenditionUplinkQueue::RenditionUplinkQueue(std::string rendition, UplinkLimits limits)
    : rendition_(std::move(rendition)), limits_(limits) {}

void RenditionUplinkQueue::update(const hls::RenditionSnapshot& snapshot, int64_t now_ms) {
  if (!snapshot.playlist) return;
  if (snapshot.init) {
    const std::string& uri = snapshot.init_uri;
    const bool changed = !queued_init_ || *queued_init_ != *snapshot.init || uri != queued_init_uri_;
    if (changed && !uri.empty()) {
      push({UplinkObjectKind::init, path_of(uri), kMediaType, snapshot.init, 0, 0, false, now_ms});
      queued_init_ = snapshot.init;
      queued_init_uri_ = uri;
    }
  }

  const uint64_t oldest = snapshot.segments.empty() ? snapshot.open_msn : snapshot.segments.begin()->first;
  if (oldest != 0) {
    // Where the newest media ends; a cursor beyond it means the stream started over.
    const uint64_t newest_msn = snapshot.open_msn ? snapshot.open_msn : snapshot.last_msn + 1;
    if (next_msn_ == 0 || next_msn_ < oldest || next_msn_ > newest_msn) {
      next_msn_ = oldest;
      next_part_ = 0;
    }
    for (auto it = snapshot.segments.lower_bound(next_msn_); it != snapshot.segments.end(); ++it) {
      if (!it->second) continue;
      if (it->first != next_msn_) {  // the store skipped a number: start that segment whole
        next_msn_ = it->first;
        next_part_ = 0;
      }
      queue_segment_media(snapshot, *it->second, now_ms);
      next_msn_ = it->first + 1;
      next_part_ = 0;
    }
    if (snapshot.open_msn && snapshot.part_target_s > 0 && snapshot.open_msn >= next_msn_) {
      if (snapshot.open_msn != next_msn_) {
        next_msn_ = snapshot.open_msn;
        next_part_ = 0;
      }
      for (const hls::Part& part : snapshot.open_parts) {
        if (part.index < next_part_) continue;
        queue_part(snapshot, part, now_ms);
        next_part_ = part.index + 1;
      }
    }
  }

  if (snapshot.playlist != queued_playlist_) {
    push_playlist({UplinkObjectKind::playlist, path_of("index.m3u8"), kPlaylistType, snapshot.playlist, 0, 0, false,
                   now_ms});
    queued_playlist_ = snapshot.playlist;
  }
}

void RenditionUplinkQueue::queue_segment_media(const hls::RenditionSnapshot& snapshot, const hls::Segment& segment,
                                               int64_t now_ms) {
  if (snapshot.part_target_s > 0 && !segment.parts.empty()) {
    for (const hls::Part& part : segment.parts) {
      if (part.index < next_part_) continue;
      queue_part(snapshot, part, now_ms);
    }
    return;
  }
  if (!segment.data) return;
  const bool ts = snapshot.segment_extension == "ts";
  push_media({UplinkObjectKind::segment, path_of(hls::segment_uri(snapshot.instance, segment.msn, snapshot.segment_extension)),
              ts ? kTransportStreamType : kMediaType, segment.data, segment.msn, segment.duration_s, true, now_ms});
}

void RenditionUplinkQueue::queue_part(const hls::RenditionSnapshot& snapshot, const hls::Part& part, int64_t now_ms) {
  if (!part.data) return;
  push_media({UplinkObjectKind::part, path_of(hls::part_uri(snapshot.instance, part.msn, part.index)), kMediaType, part.data, part.msn,
              part.duration_s, part.index == 0, now_ms});
}

void RenditionUplinkQueue::push(UplinkObject object) {
  backlog_s_ += object.duration_s;
  backlog_bytes_ += object.data ? object.data->size() : 0;
  queue_.push_back(std::move(object));
}

void RenditionUplinkQueue::push_media(UplinkObject object) {
  push(std::move(object));
  enforce_limits();
}

void RenditionUplinkQueue::push_playlist(UplinkObject object) {
  // The newest unsent playlist is superseded unless a segment starts after it:
  // then it is the last word on that segment and the receiver needs it.
  for (size_t i = queue_.size(); i-- > (in_flight_ ? 1 : 0);) {
    const UplinkObject& o = queue_[i];
    if (is_media(o) && o.segment_start) break;
    if (o.kind == UplinkObjectKind::playlist) {
      erase_at(i);
      break;
    }
  }
  push(std::move(object));
  enforce_limits();
}

void RenditionUplinkQueue::erase_at(size_t index) {
  const UplinkObject& o = queue_[index];
  backlog_s_ -= o.duration_s;
  backlog_bytes_ -= o.data ? o.data->size() : 0;
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
  if (queue_.empty()) backlog_s_ = 0;  // no drift from summing doubles
}

void RenditionUplinkQueue::enforce_limits() {
  while ((backlog_s_ > limits_.backlog_s + 1e-9 || backlog_bytes_ > limits_.backlog_bytes) && drop_oldest_segment()) {
  }
}

bool RenditionUplinkQueue::drop_oldest_segment() {
  const size_t from = in_flight_ ? 1 : 0;
  size_t first = from;
  while (first < queue_.size() && !is_media(queue_[first])) ++first;
  if (first == queue_.size()) return false;
  size_t next_start = first + 1;
  while (next_start < queue_.size() && !(is_media(queue_[next_start]) && queue_[next_start].segment_start))
    ++next_start;
  // The newest segment stays: it is what the receiver resumes with.
  if (next_start == queue_.size()) return false;
  // Its media and the playlists that list it as their newest go; an init stays,
  // since what follows needs it.
  for (size_t i = next_start; i-- > first;) {
    if (queue_[i].kind != UplinkObjectKind::init) erase_at(i);
  }
  ++segments_dropped_;
  return true;
}

std::optional<UplinkObject> RenditionUplinkQueue::begin_send() {
  if (in_flight_ || queue_.empty()) return std::nullopt;
  in_flight_ = true;
  return queue_.front();
}

void RenditionUplinkQueue::finish_send() {
  if (!in_flight_) return;
  in_flight_ = false;
  erase_at(0);
}

void RenditionUplinkQueue::retry_later() { in_flight_ = false; }

std::optional<int64_t> RenditionUplinkQueue::oldest_queued_ms() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().queued_ms;
}

}  // namespace relay::outbound
