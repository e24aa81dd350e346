#pragma once
// A push receiver's own slate (ingest.source = "push:"): while the uplink is
// lost, a slate-only ladder (pipelines/ladder.pipeline with no inputs, so its
// selectors show the slate) encodes at the ladder's settings and hands each
// rung's fMP4 to an output (the push receiver's packagers). It runs only while
// wanted, on a GLib thread of its own: show() only sets a flag, which the
// thread's tick acts on, so callers on Asio or timer threads make no GLib call.
#include <atomic>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "health/ingest_status.hpp"
#include "ingest/rendition_sink.hpp"

namespace relay::ingest {

class SlateFeed {
 public:
  SlateFeed(const config::Config& cfg, std::vector<RenditionSink::Output> outputs, health::IngestStatus& status);
  ~SlateFeed();
  SlateFeed(const SlateFeed&) = delete;
  SlateFeed& operator=(const SlateFeed&) = delete;

  // Starts the GLib thread (nothing encodes until show(true)); throws when
  // GStreamer lacks an element the slate needs.
  void start();
  // Any thread: the slate pipeline starts (or stops) within a tick.
  void show(bool on) { wanted_.store(on); }
  bool running() const { return running_.load(); }
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> wanted_{false};
  std::atomic<bool> running_{false};
};

}  // namespace relay::ingest
