#pragma once
// The input of one [[audio]] track (an interpreter): its source pipeline, which
// decodes and normalises the sound into the track's inter channel, rebuilt with
// backoff when it fails, ends or goes quiet, as the main inputs are. While it is
// down the ladder's interaudiosrc gives silence, so the track never has a gap.
// Lives on the ingest's GLib thread; the pad probe touches only an atomic.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <glib.h>
#include <gst/gst.h>
#include <spdlog/logger.h>

#include "config/config.hpp"
#include "config/source_uri.hpp"
#include "gst/handles.hpp"
#include "health/ingest_status.hpp"

namespace relay::ingest {

class InterpreterInput {
 public:
  // `channel`: the ingest's base channel name; the track writes to its own below it.
  InterpreterInput(const config::Config& cfg, size_t track, std::string channel, GMainContext* context,
                   GstClock* clock);
  ~InterpreterInput();
  InterpreterInput(const InterpreterInput&) = delete;
  InterpreterInput& operator=(const InterpreterInput&) = delete;

  void start();
  void stop();
  // Rebuilds a failed, ended or silent pipeline once its backoff has passed.
  void tick(int64_t now_ms);
  health::AudioTrackInfo info(int64_t now_ms) const;

 private:
  void build();
  void teardown();
  void schedule_restart(const std::string& why);
  static gboolean on_bus(GstBus*, GstMessage* msg, gpointer self);
  static void on_pad_added(GstElement*, GstPad* pad, gpointer self);
  static void on_input_pad_added(GstElement*, GstPad* pad, gpointer self);
  static GstPadProbeReturn on_sound(GstPad*, GstPadProbeInfo*, gpointer self);

  const config::Config& cfg_;
  const size_t track_;
  const config::AudioSource source_;
  const std::string channel_;
  const std::string redacted_;
  GMainContext* context_;
  GstClock* clock_;
  std::shared_ptr<spdlog::logger> log_;

  gst::Element pipeline_;
  std::vector<gst::SignalConnection> signals_;  // on elements of pipeline_
  guint bus_watch_ = 0;
  int64_t started_ms_ = 0;     // when the current pipeline was started; 0 = not running
  int64_t restart_at_ms_ = 0;  // 0 = not scheduled
  int64_t backoff_ms_ = 500;
  uint64_t reconnects_ = 0;
  std::string last_error_;
  std::atomic<int64_t> last_sound_ms_{0};
};

}  // namespace relay::ingest
