#include "hls/audio_rendition.hpp"

#include <cmath>
#include <utility>
#include <vector>

namespace relay::hls {
namespace {

// A cut waiting longer than this many parts for its audio is given up: the
// video must never wait for a sound that does not come.
constexpr size_t kMaxWaitingCuts = 16;
// Frames waiting for a cut beyond this many seconds are dropped, oldest first.
constexpr size_t kMaxHeldSeconds = 10;

PackagerOptions audio_options(PackagerOptions options) {
  options.audio_only = true;
  options.on_part = nullptr;
  return options;
}

}  // namespace

double AudioRendition::part_target_for(double video_part_s, uint32_t rate) {
  if (video_part_s <= 0) return 0;
  return std::ceil(video_part_s * rate / aac::kFrameSamples - 1e-6) * aac::kFrameSamples / rate;
}

AudioRendition::AudioRendition(PackagerOptions options, size_t index, Store& store)
    : packager_(audio_options(std::move(options)), index, store, nullptr) {}

void AudioRendition::set_format(const aac::Format& format) {
  std::lock_guard lock(mutex_);
  if (rate_ != 0) return;
  rate_ = format.rate;
  packager_.push(aac::init_section(format));
}

void AudioRendition::set_origin(int64_t running_ns) {
  std::lock_guard lock(mutex_);
  if (origin_ns_) return;
  origin_ns_ = running_ns;
  auto early = std::move(early_);
  early_.clear();
  for (auto& [ns, bytes] : early) push_frame_locked(ns, std::move(bytes));
}

void AudioRendition::push_frame(int64_t running_ns, std::string frame) {
  std::lock_guard lock(mutex_);
  push_frame_locked(running_ns, std::move(frame));
}

void AudioRendition::push_frame_locked(int64_t running_ns, std::string frame) {
  if (rate_ == 0) return;
  if (!origin_ns_) {
    // Keep a second or so until the video's first frame is known.
    early_.emplace_back(running_ns, std::move(frame));
    while (early_.size() > rate_ / aac::kFrameSamples + 1) early_.pop_front();
    return;
  }
  const int64_t at = static_cast<int64_t>(std::llround(double(running_ns - *origin_ns_) * rate_ / 1e9));
  // Frames follow each other sample-exact; only a real jump (more than two
  // frames off, which interaudiosrc does not make) moves the timeline.
  if (!next_decode_ || std::llabs(at - *next_decode_) > 2 * int64_t(aac::kFrameSamples)) next_decode_ = at;
  const int64_t decode = *next_decode_;
  *next_decode_ += aac::kFrameSamples;
  if (decode < 0) return;  // before the video's first frame
  frames_.push_back({decode, std::move(frame)});
  // Without cuts (the video's packager stopped) the sound is not kept forever.
  while (frames_.size() > kMaxHeldSeconds * rate_ / aac::kFrameSamples) frames_.pop_front();
  drain_locked();
}

void AudioRendition::on_video_part(const PartCut& cut) {
  std::lock_guard lock(mutex_);
  cuts_.push_back(cut);
  drain_locked();
}

void AudioRendition::drain_locked() {
  if (rate_ == 0) return;
  const int64_t half = aac::kFrameSamples / 2;
  while (!cuts_.empty()) {
    const PartCut& cut = cuts_.front();
    const int64_t end = std::llround(cut.end_s * rate_);
    const bool complete = !frames_.empty() && frames_.back().decode + half >= end;
    if (!complete && cuts_.size() <= kMaxWaitingCuts) return;
    const int64_t start = std::llround(cut.start_s * rate_);
    // A frame belongs to the part its middle falls in.
    while (!frames_.empty() && frames_.front().decode + half < start) frames_.pop_front();
    std::vector<Frame> taken;
    while (!frames_.empty() && frames_.front().decode + half < end) {
      taken.push_back(std::move(frames_.front()));
      frames_.pop_front();
    }
    const bool opens = cut.index == 0;
    const PartCut done = cut;
    cuts_.pop_front();
    if (!started_ && !opens) continue;  // join at the start of a video segment
    if (taken.empty()) continue;        // no sound for this part (given up waiting)
    started_ = true;
    if (!packager_.has_time_origin()) packager_.set_time_origin(done.time_origin_epoch_ms);
    std::vector<std::string_view> views;
    size_t media = 0;
    for (const auto& f : taken) {
      views.emplace_back(f.bytes);
      media += f.bytes.size();
    }
    std::string fragment = aac::fragment(sequence_++, static_cast<uint64_t>(taken.front().decode), views);
    media_bytes_ += media;
    fragment_bytes_ += fragment.size();
    const double duration = double(taken.size() * aac::kFrameSamples) / rate_;
    packager_.push_audio_part(std::move(fragment), static_cast<uint64_t>(taken.front().decode), rate_, duration,
                              opens, done.msn);
  }
}

uint64_t AudioRendition::media_bytes() const {
  std::lock_guard lock(mutex_);
  return media_bytes_;
}

uint64_t AudioRendition::fragment_bytes() const {
  std::lock_guard lock(mutex_);
  return fragment_bytes_;
}

}  // namespace relay::hls
