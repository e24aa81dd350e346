#include "hls/push_receiver.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "hls/fmp4.hpp"
#include "hls/packager.hpp"

namespace relay::hls {

// Each pushed object is whole boxes; checked before the packager sees it, so a
// malformed one is refused whole instead of leaving half a box in the packager.
void PackagerTarget::init(std::string_view bytes) {
  fmp4::read_boxes(bytes);
  packager_.push(bytes);
}

void PackagerTarget::media(std::string_view bytes, std::optional<int64_t> segment_pdt_epoch_ms) {
  fmp4::read_boxes(bytes);
  if (segment_pdt_epoch_ms) packager_.set_next_pdt(*segment_pdt_epoch_ms);
  packager_.push(bytes);
}

void PackagerTarget::discontinuity() { packager_.discontinuity(); }

void PackagerTarget::end_segment() { packager_.end_segment(); }

// ---------------------------------------------------------------------------
// PushedRendition

bool PushedRendition::store(const std::string& name, std::string bytes) {
  if (bytes.size() > limits_.max_object_bytes) return false;
  if (auto it = objects_.find(name); it != objects_.end()) {
    // Sent again (a retry): the newer copy replaces the older.
    buffered_bytes_ -= it->second.size();
    objects_.erase(it);
    arrival_.erase(std::find(arrival_.begin(), arrival_.end(), name));
  }
  buffered_bytes_ += bytes.size();
  objects_.emplace(name, std::move(bytes));
  arrival_.push_back(name);
  // Objects no playlist listed (or listed only after far too long) go first.
  while (objects_.size() > limits_.max_buffered_objects || buffered_bytes_ > limits_.max_buffered_bytes) {
    auto oldest = objects_.find(arrival_.front());
    buffered_bytes_ -= oldest->second.size();
    objects_.erase(oldest);
    arrival_.pop_front();
    ++evicted_;
  }
  return true;
}

bool PushedRendition::remove(const std::string& name) { return take(name).has_value(); }

std::optional<std::string> PushedRendition::take(const std::string& name) {
  auto it = objects_.find(name);
  if (it == objects_.end()) return std::nullopt;
  std::string bytes = std::move(it->second);
  buffered_bytes_ -= bytes.size();
  objects_.erase(it);
  arrival_.erase(std::find(arrival_.begin(), arrival_.end(), name));
  return bytes;
}

std::vector<PushedRendition::Position> PushedRendition::positions(const PushedPlaylist& playlist) {
  std::vector<Position> out;
  for (const auto& seg : playlist.segments) {
    // Where parts are listed they carry the media (each byte once); the whole
    // segment only where they are not (a pusher without LL-HLS, or parts that
    // have left the playlist).
    if (!seg.parts.empty()) {
      for (size_t i = 0; i < seg.parts.size(); ++i) out.push_back({seg.msn, i, &seg.parts[i].uri, &seg});
    } else if (seg.complete()) {
      out.push_back({seg.msn, kWhole, &seg.uri, &seg});
    }
  }
  return out;
}

bool PushedRendition::before_next(const Position& p) const {
  if (p.msn != next_msn_) return p.msn < next_msn_;
  return p.part != kWhole && p.part < next_part_;
}

bool PushedRendition::is_next(const Position& p) const {
  if (p.msn != next_msn_) return false;
  return p.part == kWhole ? next_part_ == 0 : p.part == next_part_;
}

void PushedRendition::advance_past(const Position& p) {
  const bool last = p.part == kWhole || (p.segment->complete() && p.part + 1 == p.segment->parts.size());
  next_msn_ = last ? p.msn + 1 : p.msn;
  next_part_ = last ? 0 : p.part + 1;
}

bool PushedRendition::feed(const Position& p, FeedReport& report) {
  const PushedSegment& seg = *p.segment;
  const bool starts_segment = p.part == 0 || p.part == kWhole;
  if (!objects_.contains(*p.uri)) return false;
  std::optional<std::string> init;
  if (!seg.map_uri.empty()) {
    auto it = objects_.find(seg.map_uri);
    if (it == objects_.end() && seg.map_uri != init_uri_) return false;  // its init is not here yet
    if (it != objects_.end()) {
      init = take(seg.map_uri);
      if (seg.map_uri == init_uri_ && *init == init_bytes_ && !refeed_init_) init.reset();  // the same, sent again
    }
    if (!init && refeed_init_ && seg.map_uri == init_uri_) init = init_bytes_;
  }
  std::string media = *take(*p.uri);
  advance_past(p);
  try {
    if (starts_segment && (pending_discontinuity_ || (seg.discontinuity && fed_any_))) {
      target_.discontinuity();
      pending_discontinuity_ = false;
    }
    if (init) {
      target_.init(*init);
      init_uri_ = seg.map_uri;
      init_bytes_ = std::move(*init);
      refeed_init_ = false;
      ++report.fed;
    }
    std::optional<int64_t> pdt;
    if (starts_segment && seg.pdt_epoch_ms != 0) pdt = seg.pdt_epoch_ms;
    target_.media(media, pdt);
    if (next_part_ == 0) target_.end_segment();
  } catch (...) {
    // The target may hold half of what it was given: start again cleanly at the next segment.
    started_ = false;
    pending_discontinuity_ = true;
    resume_from_msn_ = next_msn_ + (next_part_ > 0 ? 1 : 0);
    throw;
  }
  fed_any_ = true;
  ++report.fed;
  return true;
}

FeedReport PushedRendition::on_playlist(const PushedPlaylist& playlist) {
  FeedReport report;
  const std::vector<Position> pos = positions(playlist);
  if (pos.empty()) return report;
  if (started_ && pos.back().msn + 1 < next_msn_) {
    // The pusher's media sequence went back: it restarted, and this is a new stream.
    report.restarted = true;
    started_ = false;
    pending_discontinuity_ = true;
    resume_from_msn_ = 0;
  }
  if (started_ && next_part_ > 0) {
    // All parts of the segment being fed were fed, and it is now listed complete.
    for (const auto& seg : playlist.segments)
      if (seg.msn == next_msn_ && seg.complete() && seg.parts.size() == next_part_) {
        ++next_msn_;
        next_part_ = 0;
        target_.end_segment();
      }
  }
  auto present_after = [&](size_t i) {
    for (size_t j = i + 1; j < pos.size(); ++j)
      if (objects_.contains(*pos[j].uri)) return true;
    return false;
  };
  auto can_start_at = [&](const Position& p) {
    if (p.part != 0 && p.part != kWhole) return false;
    if (p.msn < resume_from_msn_ || !objects_.contains(*p.uri)) return false;
    const std::string& map = p.segment->map_uri;
    return map.empty() || map == init_uri_ || objects_.contains(map);
  };

  size_t i = 0;
  while (i < pos.size()) {
    const Position& p = pos[i];
    if (started_) {
      if (before_next(p)) {
        take(*p.uri);  // fed before; a copy sent again is not needed
        ++i;
        continue;
      }
      if (is_next(p)) {
        if (feed(p, report)) {
          ++i;
          continue;
        }
        // Missing. Objects come before the playlist that lists them, so one still
        // missing at a second playlist while later ones arrived was lost.
        if (stalled_at_ != *p.uri || !present_after(i)) {
          stalled_at_ = *p.uri;
          report.waiting_for = *p.uri;
          return report;
        }
      }
      // The next object is lost, or no longer listed: a gap. Resume at the next
      // segment that is here whole from its start, after a discontinuity.
      report.gap = true;
      started_ = false;
      pending_discontinuity_ = fed_any_;
      resume_from_msn_ = next_msn_ + (next_part_ > 0 ? 1 : 0);
    }
    if (can_start_at(p)) {
      started_ = true;
      next_msn_ = p.msn;
      next_part_ = 0;
      continue;  // fed by the branch above
    }
    if (take(*p.uri)) ++report.skipped;
    ++i;
  }
  stalled_at_.clear();
  return report;
}

void PushedRendition::resume_after_slate() {
  if (started_) resume_from_msn_ = next_msn_ + (next_part_ > 0 ? 1 : 0);
  started_ = false;
  pending_discontinuity_ = true;
  refeed_init_ = !init_uri_.empty();
  stalled_at_.clear();
}

// ---------------------------------------------------------------------------
// PushReceiver

struct PushReceiver::Rendition {
  Rendition(Packager& p, PushLimits limits) : packager(p), target(p), state(target, limits) {}
  std::mutex mutex;
  Packager& packager;
  PackagerTarget target;
  PushedRendition state;
  bool slate = false;  // the slate is going into the packager
};

PushReceiver::PushReceiver(std::vector<Packager*> packagers, PushLimits limits) : limits_(limits) {
  for (Packager* p : packagers) renditions_.push_back(std::make_unique<Rendition>(*p, limits));
}

PushReceiver::~PushReceiver() = default;

void PushReceiver::accepted(size_t bytes, bool media, int64_t now_epoch_ms, int64_t newest_pdt_epoch_ms) {
  std::lock_guard lock(totals_mutex_);
  totals_.bytes += bytes;
  if (media) totals_.media_bytes += bytes;
  ++totals_.objects_accepted;
  totals_.last_object_epoch_ms = now_epoch_ms;
  totals_.newest_pdt_epoch_ms = std::max(totals_.newest_pdt_epoch_ms, newest_pdt_epoch_ms);
}

void PushReceiver::record_rejected() {
  std::lock_guard lock(totals_mutex_);
  ++totals_.objects_rejected;
}

PushReceiver::Totals PushReceiver::totals() const {
  std::lock_guard lock(totals_mutex_);
  return totals_;
}

PushReceiver::Outcome PushReceiver::put_object(size_t rendition, const std::string& name, std::string bytes,
                                               int64_t now_epoch_ms) {
  const size_t size = bytes.size();
  {
    Rendition& r = *renditions_.at(rendition);
    std::lock_guard lock(r.mutex);
    if (!r.state.store(name, std::move(bytes))) {
      record_rejected();
      return {Result::too_large, fmt::format("an object may have at most {} bytes", limits_.max_object_bytes), {}};
    }
  }
  accepted(size, true, now_epoch_ms, 0);
  return {};
}

bool PushReceiver::delete_object(size_t rendition, const std::string& name) {
  Rendition& r = *renditions_.at(rendition);
  std::lock_guard lock(r.mutex);
  return r.state.remove(name);
}

namespace {

// The wall clock at the end of the newest media a playlist lists, from its newest PDT.
int64_t newest_media_end_epoch_ms(const PushedPlaylist& playlist) {
  double after_s = 0;
  for (auto it = playlist.segments.rbegin(); it != playlist.segments.rend(); ++it) {
    double duration = it->duration_s;
    if (!it->complete())
      for (const auto& part : it->parts) duration += part.duration_s;
    after_s += duration;
    if (it->pdt_epoch_ms != 0) return it->pdt_epoch_ms + static_cast<int64_t>(after_s * 1000);
  }
  return 0;
}

}  // namespace

PushReceiver::Outcome PushReceiver::put_playlist(size_t rendition, std::string_view text, int64_t now_epoch_ms) {
  PushedPlaylist playlist;
  try {
    playlist = parse_pushed_playlist(text);
  } catch (const PlaylistError& e) {
    record_rejected();
    return {Result::bad_playlist, e.what(), {}};
  }
  Outcome out;
  {
    Rendition& r = *renditions_.at(rendition);
    std::lock_guard lock(r.mutex);
    if (r.slate) {
      r.slate = false;
      r.state.resume_after_slate();
    }
    try {
      out.report = r.state.on_playlist(playlist);
    } catch (const std::exception& e) {
      // A malformed init or media object: refused, and the feed starts again at the next segment.
      record_rejected();
      return {Result::bad_media, fmt::format("a listed object is not fragmented MP4 the relay can use: {}", e.what()),
              {}};
    }
  }
  accepted(text.size(), false, now_epoch_ms, newest_media_end_epoch_ms(playlist));
  std::lock_guard lock(totals_mutex_);
  if (out.report.gap || out.report.restarted) ++totals_.gaps;
  if (playlist.part_target_s == 0 && !playlist.segments.empty()) ++totals_.playlists_without_parts;
  return out;
}

void PushReceiver::begin_slate(int64_t now_epoch_ms) {
  for (auto& r : renditions_) {
    std::lock_guard lock(r->mutex);
    if (r->slate) continue;
    r->slate = true;
    r->packager.discontinuity();
    r->packager.set_next_pdt(now_epoch_ms);
  }
}

void PushReceiver::slate_media(size_t rendition, std::string_view bytes) {
  Rendition& r = *renditions_.at(rendition);
  std::lock_guard lock(r.mutex);
  if (r.slate) r.packager.push(bytes);
}

size_t PushReceiver::slate_renditions() const {
  size_t n = 0;
  for (const auto& r : renditions_) {
    std::lock_guard lock(r->mutex);
    if (r->slate) ++n;
  }
  return n;
}

}  // namespace relay::hls
