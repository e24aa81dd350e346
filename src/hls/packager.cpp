#include "hls/packager.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/clock.hpp"
#include "hls/playlist.hpp"

namespace relay::hls {
namespace {
// Segments dropped from the playlist stay servable this much longer, for players
// that loaded the playlist just before.
constexpr size_t kGraceSegments = 3;

uint64_t to_90k(uint64_t time, uint32_t timescale) {
  return timescale == 0 ? 0 : static_cast<uint64_t>((static_cast<unsigned __int128>(time) * 90000) / timescale);
}
}  // namespace

Packager::Packager(PackagerOptions options, size_t index, Store& store, MasterPlaylist* master)
    : options_(std::move(options)),
      index_(index),
      store_(store),
      master_(master),
      target_duration_s_(static_cast<int>(std::ceil(options_.segment_duration_s - 1e-9))) {
  if (options_.mpegts) options_.part_target_s = 0;  // parts need fMP4
  if (options_.instance.empty()) options_.instance = new_instance_id();
}

size_t Packager::listed_count() const {
  auto seg = options_.segment_duration_s;
  size_t count = static_cast<size_t>(options_.live_window);
  if (options_.dvr_window_s > 0)
    count = std::max(count, static_cast<size_t>(std::ceil(options_.dvr_window_s / seg - 1e-9)));
  // Never cover less than three target durations (rfc8216bis 6.2.2).
  count = std::max(count, static_cast<size_t>(std::ceil(3.0 * target_duration_s_ / seg - 1e-9)));
  return count;
}

void Packager::push(std::string_view bytes) {
  if (options_.mpegts) return push_ts(bytes);
  splitter_.push(bytes);
  while (auto box = splitter_.next()) on_box(box->first, std::move(box->second));
}

void Packager::push_ts(std::string_view bytes) {
  auto out = ts_splitter_.push(bytes);
  if (!ts_described_ && master_ && !ts_splitter_.video_codec().empty() && !ts_splitter_.audio_codec().empty()) {
    ts_described_ = true;
    master_->set_stream_info(index_, options_.width, options_.height,
                             ts_splitter_.video_codec() + "," + ts_splitter_.audio_codec());
  }
  size_t from = 0;
  auto append = [&](size_t to) {
    if (open_) ts_open_bytes_.append(out.packets, from, to - from);
    from = to;
  };
  for (const auto& cut : out.cuts) {
    append(cut.offset);
    if (!ts_first_pts_) ts_first_pts_ = cut.pts_90k;
    // 33-bit PTS; a wrap is a full day away from any seminar's start, but handle it.
    uint64_t elapsed = (cut.pts_90k - ts_open_pts_) & ((uint64_t(1) << 33) - 1);
    double duration = elapsed / 90000.0;
    if (open_ && duration < options_.segment_duration_s * 0.5) continue;  // a stray early IDR
    if (open_) {
      open_duration_s_ = duration;
      Part whole;
      whole.msn = next_msn_;
      whole.duration_s = duration;
      whole.independent = true;
      whole.pdt_epoch_ms = open_pdt_epoch_ms();
      whole.media_time_90k = ts_open_pts_;
      whole.data = make_bytes(std::move(ts_open_bytes_));
      open_parts_ = {std::move(whole)};
      open_frames_ = static_cast<uint64_t>(std::llround(duration * options_.frame_rate));
      close_segment();
    }
    open_ = true;
    ts_open_pts_ = cut.pts_90k;
    open_start_decode_ = (cut.pts_90k - *ts_first_pts_) & ((uint64_t(1) << 33) - 1);
    open_timescale_ = 90000;
    // Each segment starts with the program tables so it decodes on its own.
    ts_open_bytes_ = ts_splitter_.program_tables();
  }
  append(out.packets.size());
}

void Packager::on_box(const std::string& type, std::string bytes) {
  if (type == "ftyp") {
    init_bytes_ = std::move(bytes);
  } else if (type == "moov") {
    tracks_ = fmp4::parse_moov(bytes);
    init_bytes_ += bytes;
    // A different init section mid-stream (an encoder restart, a pusher's new
    // stream): the fragments that follow belong to it, not to the open segment,
    // and the next segment starts a discontinuity with its own EXT-X-MAP.
    if (init_ && *init_ != init_bytes_) break_segment();
    init_uri_ = init_uri(init_bytes_);
    init_ = make_bytes(std::move(init_bytes_));
    init_bytes_.clear();
    const fmp4::Track* video = nullptr;
    std::string codecs;
    for (auto& t : tracks_) {
      if (t.handler == "vide") video = &t;
    }
    if (options_.audio_only) return;  // described by the master's audio group
    if (!video) throw fmp4::ParseError("init section has no video track");
    codecs = video->codec;
    for (auto& t : tracks_)
      if (t.handler == "soun") codecs += "," + t.codec;
    if (master_) master_->set_stream_info(index_, video->width, video->height, codecs);
  } else if (type == "moof") {
    pending_moof_ = std::move(bytes);
  } else if (type == "mdat") {
    if (pending_moof_.empty()) throw fmp4::ParseError("mdat without moof");
    on_fragment(pending_moof_, bytes);
    pending_moof_.clear();
  }
  // Other top-level boxes (free, sidx, mfra) carry nothing a live player needs.
}

void Packager::on_fragment(const std::string& moof, const std::string& mdat) {
  if (tracks_.empty()) throw fmp4::ParseError("fragment before init section");
  auto trafs = fmp4::parse_moof(moof, tracks_);
  const fmp4::Track* video_track = nullptr;
  const fmp4::TrackFragment* video = nullptr;
  for (auto& f : trafs)
    for (auto& t : tracks_)
      if (t.id == f.track_id && t.handler == "vide") {
        video_track = &t;
        video = &f;
      }
  if (!video) {
    // Audio fragments ride along with the next video part, so every part and
    // segment carries both tracks for the same stretch of time.
    pending_other_ += moof;
    pending_other_ += mdat;
    return;
  }
  double duration = double(video->duration) / video_track->timescale;
  // Segments start at an IDR; the GOP is one segment long, so every IDR opens one,
  // but a stray early IDR (less than half a segment in) stays inside the segment.
  if (video->starts_with_sync && (!open_ || open_duration_s_ >= options_.segment_duration_s * 0.5))
    open_segment(video->base_decode_time, video_track->timescale);
  if (!open_) {
    // Output before the first IDR cannot start a segment.
    pending_other_.clear();
    return;
  }
  PartCut cut;
  cut.msn = next_msn_;
  cut.index = open_parts_.size();
  cut.start_s = double(open_start_decode_) / open_timescale_ + open_duration_s_;
  cut.end_s = cut.start_s + duration;
  cut.time_origin_epoch_ms = time_origin_epoch_ms_;
  // The part's bytes are assembled once, straight into the buffer that is served.
  std::string data;
  data.reserve(pending_other_.size() + moof.size() + mdat.size());
  data.append(pending_other_).append(moof).append(mdat);
  pending_other_.clear();
  add_part(duration, video->starts_with_sync, std::move(data), video->sample_count,
           to_90k(video->base_decode_time, video_track->timescale));
  if (options_.on_part) options_.on_part(cut);
}

void Packager::open_segment(uint64_t start_decode, uint32_t timescale) {
  if (open_) close_segment();
  open_ = true;
  open_init_ = init_;
  open_init_uri_ = init_uri_;
  open_parts_.clear();
  open_duration_s_ = 0;
  open_frames_ = 0;
  open_start_decode_ = start_decode;
  open_timescale_ = timescale;
  open_discontinuity_ = discontinuity_next_;
  discontinuity_next_ = false;
  if (next_pdt_epoch_ms_ != 0) {
    const double start_s = double(open_start_decode_) / open_timescale_;
    time_origin_epoch_ms_ = next_pdt_epoch_ms_ - static_cast<int64_t>(std::llround(start_s * 1000.0));
    next_pdt_epoch_ms_ = 0;
  }
}

void Packager::add_part(double duration_s, bool independent, std::string data, uint64_t frames,
                        uint64_t media_time_90k) {
  Part part;
  part.msn = next_msn_;
  part.index = open_parts_.size();
  part.duration_s = duration_s;
  part.independent = independent;
  part.pdt_epoch_ms = open_pdt_epoch_ms() + static_cast<int64_t>(std::llround(open_duration_s_ * 1000.0));
  part.media_time_90k = media_time_90k;
  part.data = make_bytes(std::move(data));
  open_parts_.push_back(std::move(part));
  open_duration_s_ += duration_s;
  open_frames_ += frames;
  if (options_.part_target_s > 0) publish();
}

void Packager::push_audio_part(std::string fragment, uint64_t start_decode, uint32_t timescale, double duration_s,
                               bool opens_segment, uint64_t msn) {
  if (!init_) throw fmp4::ParseError("audio part before init section");
  if (opens_segment) {
    if (open_) close_segment();
    // The video's numbering, so the same msn is the same stretch of time in
    // every rendition; it only ever moves forward.
    next_msn_ = std::max(next_msn_, msn);
    open_segment(start_decode, timescale);
  }
  if (!open_) return;  // the first video segment has not begun yet
  // Every AAC frame is a sync sample, so every audio part is independent.
  add_part(duration_s, true, std::move(fragment), 0, to_90k(start_decode, timescale));
}

int64_t Packager::open_pdt_epoch_ms() const {
  double start_s = double(open_start_decode_) / open_timescale_;
  return time_origin_epoch_ms_ + static_cast<int64_t>(std::llround(start_s * 1000.0));
}

void Packager::close_segment() {
  auto seg = std::make_shared<Segment>();
  seg->msn = next_msn_++;
  seg->duration_s = open_duration_s_;
  seg->pdt_epoch_ms = open_pdt_epoch_ms();
  seg->media_time_90k = options_.mpegts ? ts_open_pts_ : to_90k(open_start_decode_, open_timescale_);
  seg->discontinuity = open_discontinuity_;
  seg->init = open_init_;
  seg->init_uri = open_init_uri_;
  open_discontinuity_ = false;
  size_t total = 0;
  for (auto& p : open_parts_) total += p.data->size();
  std::string data;
  data.reserve(total);
  for (auto& p : open_parts_) data += *p.data;
  seg->data = make_bytes(std::move(data));
  seg->parts = std::move(open_parts_);
  open_parts_.clear();
  if (options_.mpegts) seg->parts.clear();  // MPEG-TS has no LL-HLS parts
  open_ = false;

  target_duration_s_ = std::max(target_duration_s_, rounded_duration(seg->duration_s));
  if (master_)
    master_->add_segment(index_, seg->data->size(), seg->duration_s,
                         seg->duration_s > 0 ? open_frames_ / seg->duration_s : 0);
  held_bytes_ += seg->data->size() * 2;  // the segment and its parts
  segments_.push_back(std::move(seg));
  evict();
  // With LL-HLS the playlist goes out with the next part, which opens the next
  // segment right after this; without, now.
  if (options_.part_target_s <= 0) publish();
}

void Packager::discontinuity() {
  break_segment();
  // Bytes of the stream before the gap can never complete a box of the next.
  splitter_ = fmp4::BoxSplitter{};
  discontinuity_next_ = true;
}

// Not the splitter: on_box() runs inside its loop, and the boxes after a new init
// section are the new stream's.
void Packager::break_segment() {
  if (open_ && !open_parts_.empty()) {
    close_segment();
    if (options_.part_target_s > 0) publish();
  }
  if (open_ || !segments_.empty()) discontinuity_next_ = true;
  open_ = false;
  open_parts_.clear();
  pending_moof_.clear();
  pending_other_.clear();
}

void Packager::end_segment() {
  if (!open_ || open_parts_.empty()) return;
  close_segment();
  if (options_.part_target_s > 0) publish();
}

void Packager::evict() {
  size_t keep = listed_count() + kGraceSegments;
  while (segments_.size() > keep ||
         (segments_.size() > 3 && held_bytes_ > options_.max_bytes)) {
    held_bytes_ -= segments_.front()->data->size() * 2;
    if (segments_.front()->discontinuity) ++discontinuities_evicted_;
    segments_.pop_front();
  }
}

void Packager::publish() {
  auto snap = std::make_shared<RenditionSnapshot>();
  snap->name = options_.name;
  snap->version = ++version_;
  snap->instance = options_.instance;
  snap->init = init_;
  snap->init_uri = init_uri_;
  MediaPlaylistView view;
  view.target_duration_s = target_duration_s_;
  view.instance = options_.instance;
  view.init_uri = open_ ? open_init_uri_ : init_uri_;
  if (options_.mpegts) view.segment_extension = "ts";
  snap->segment_extension = view.segment_extension;
  size_t listed = std::min(listed_count(), segments_.size());
  view.segments.assign(segments_.end() - listed, segments_.end());
  view.discontinuity_sequence = discontinuities_evicted_;
  for (auto it = segments_.begin(); it != segments_.end() - listed; ++it)
    if ((*it)->discontinuity) ++view.discontinuity_sequence;
  snap->target_duration_s = target_duration_s_;
  snap->first_listed_msn = view.segments.empty() ? 0 : view.segments.front()->msn;
  snap->discontinuity_sequence = view.discontinuity_sequence;
  snap->last_msn = segments_.empty() ? 0 : segments_.back()->msn;
  if (options_.part_target_s > 0) {
    view.low_latency = LowLatency{options_.part_target_s, options_.part_hold_back_s};
    if (open_) {
      view.open_msn = next_msn_;
      view.open_parts = open_parts_;
      view.open_pdt_epoch_ms = open_pdt_epoch_ms();
      view.open_discontinuity = open_discontinuity_;
      // The GOP is one segment long, so a full open segment closes at the next part.
      bool full = open_duration_s_ >= options_.segment_duration_s - options_.part_target_s / 2;
      view.hint_msn = full ? next_msn_ + 1 : next_msn_;
      view.hint_index = full ? 0 : open_parts_.size();
    }
    snap->hint_msn = view.hint_msn;
    snap->hint_index = view.hint_index;
    snap->part_target_s = options_.part_target_s;
    snap->open_msn = view.open_msn;
    snap->open_parts = view.open_parts;
    snap->open_discontinuity = view.open_discontinuity;
    if (!view.open_parts.empty()) {
      snap->last_part_msn = view.open_msn;
      snap->last_part_index = static_cast<int64_t>(view.open_parts.size()) - 1;
    } else if (!segments_.empty()) {
      snap->last_part_msn = segments_.back()->msn;
      snap->last_part_index = static_cast<int64_t>(segments_.back()->parts.size()) - 1;
    }
    if (skippable_segments(view) > 0) {
      view.delta = true;
      snap->playlist_delta = make_bytes(write_media_playlist(view));
      view.delta = false;
    }
  }
  // No playlist until a segment is complete: players need one whole segment.
  if (segments_.empty()) return;
  snap->playlist = make_bytes(write_media_playlist(view));
  for (auto& s : segments_) snap->segments.emplace(s->msn, s);
  snap->last_segment_epoch_ms = now_epoch_ms();
  snap->last_segment_duration_s = segments_.empty() ? 0 : segments_.back()->duration_s;
  store_.publish(index_, std::move(snap));
}

}  // namespace relay::hls
