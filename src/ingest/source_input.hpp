#pragma once
// One input of the ingest (the primary or the backup): its source pipeline, which
// decodes and normalises into an inter* channel; reconnection with backoff when it
// fails, ends or stalls; and what it measures about the input for /api/health.
// Lives on the ingest's GLib thread; pad probes and element-added callbacks on
// streaming threads touch only atomics and the small locked Measure.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gio/gio.h>
#include <gst/gst.h>
#include <spdlog/logger.h>

#include "config/config.hpp"
#include "config/source_uri.hpp"
#include "gst/handles.hpp"
#include "health/ingest_status.hpp"
#include "ingest/keyframe_interval.hpp"

namespace relay::ingest {

class SourceInput {
 public:
  // Reports bus errors and warnings to the ingest (for counting and last_error).
  using Report = std::function<void(bool error, const std::string& element, const std::string& message)>;

  SourceInput(const config::Config& cfg, int index, config::SourceUri uri, std::string channel,
              GMainContext* context, GstClock* clock, Report report);
  ~SourceInput();
  SourceInput(const SourceInput&) = delete;
  SourceInput& operator=(const SourceInput&) = delete;

  // A file must open and preroll, or this throws with one clear line: a wrong path
  // is an operator's mistake to show at start. Other kinds start connecting and
  // fail (and retry) on their own time.
  void start();
  void stop();
  // Restarts a failed or stalled pipeline when its backoff has passed.
  void tick(int64_t now_ms);

  // Monotonic ms of the newest picture handed to the ladder; 0 = none.
  int64_t last_frame_ms() const { return last_frame_ms_.load(); }
  bool ended() const { return ended_; }
  health::InputInfo info(int64_t now_ms);
  const std::string& role() const { return role_; }

 private:
  struct Measure {
    int width = 0, height = 0;
    double framerate = 0;
    int audio_channels = 0, audio_rate = 0;
    KeyframeInterval keyframes;  // of the current pipeline's compressed video
  };
  // A count an element keeps, which starts again from 0 when the element is
  // flushed (a looping file) or rebuilt; kept rising across both for /metrics.
  struct RunningCount {
    uint64_t before = 0;  // of earlier runs and flushes
    uint64_t last = 0;    // the element's own figure, last read
    void read(uint64_t now) {
      if (now < last) before += last;
      last = now;
    }
    void close_run() {
      before += last;
      last = 0;
    }
    uint64_t total() const { return before + last; }
  };

  void build();
  void teardown();
  void schedule_restart(const std::string& why, bool quick);
  void preroll();
  void handle_message(GstMessage* msg);
  void on_end();
  void link_decoded(GstPad* pad);
  void hook_decoder(GstElement* decoder);
  void count_bytes_on(GstPad* pad);
  void read_frame_counts();
  void count_qos(GstMessage* msg);

  static gboolean on_bus(GstBus*, GstMessage* msg, gpointer self);
  static void on_pad_added(GstElement* element, GstPad* pad, gpointer self);
  static void on_input_pad_added(GstElement* element, GstPad* pad, gpointer self);
  static GstPadProbeReturn on_frame(GstPad*, GstPadProbeInfo* info, gpointer self);
  static GstPadProbeReturn on_video_event(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static GstPadProbeReturn on_caps(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static GstPadProbeReturn on_bytes(GstPad*, GstPadProbeInfo* info, gpointer self);
  static void on_element_added(GstBin*, GstBin*, GstElement* element, gpointer self);
  static GstPadProbeReturn on_compressed_video(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static gboolean on_srt_caller_connecting(GstElement*, GSocketAddress*, gchar* stream_id, gpointer self);
  static void on_srt_caller_rejected(GstElement*, GSocketAddress* addr, gchar* stream_id, gpointer self);

  const config::Config& cfg_;
  const int index_;
  const std::string role_;
  const config::SourceUri uri_;
  const std::string channel_;
  const std::string redacted_;
  GMainContext* context_;
  GstClock* clock_;
  Report report_;
  std::shared_ptr<spdlog::logger> log_;

  gst::Element pipeline_;
  guint bus_watch_ = 0;
  std::vector<gst::SignalConnection> signals_;
  std::string state_ = "connecting";
  bool ended_ = false;
  bool first_start_ = true;
  int64_t started_ms_ = 0;     // when the current pipeline was started; 0 = not running
  int64_t restart_at_ms_ = 0;  // when to build it again; 0 = not scheduled
  int64_t backoff_ms_ = 500;
  uint64_t reconnects_ = 0;
  std::string last_error_;

  std::atomic<int64_t> last_frame_ms_{0};
  std::atomic<int64_t> run_first_frame_ms_{0};  // first picture of the current pipeline
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> refused_{0};
  uint64_t rate_bytes_ = 0;
  int64_t rate_at_ms_ = 0;
  double bitrate_kbps_ = 0;
  std::mutex measure_mutex_;
  Measure measure_;
  std::atomic<uint64_t> frames_{0};
  uint64_t rate_frames_ = 0;
  double measured_fps_ = 0;

  // Input QoS, read on the GLib thread: the normaliser's videorate (its drop and
  // duplicate properties) and the QoS messages on the bus, per element path.
  gst::Element normalize_rate_;
  RunningCount dropped_, duplicated_;
  std::map<std::string, RunningCount> late_;  // this run's elements
  uint64_t late_before_ = 0;                   // of earlier runs
  std::atomic<GstPad*> keyframe_pad_{nullptr};  // the video decoder input measured this run
};

}  // namespace relay::ingest
