#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "api/metrics_exposition.hpp"
#include "api/route_label.hpp"
#include "net/stats.hpp"

using namespace relay;

namespace {

std::shared_ptr<hls::RenditionSnapshot> snapshot(uint64_t last_msn, int64_t published_ms) {
  auto snap = std::make_shared<hls::RenditionSnapshot>();
  for (uint64_t msn = last_msn - 1; msn <= last_msn; ++msn) {
    auto seg = std::make_shared<hls::Segment>();
    seg->msn = msn;
    seg->duration_s = 2.0;
    seg->data = hls::make_bytes(std::string(250'000, 'x'));  // 1 Mbit/s over 2 s
    for (size_t i = 0; i < 4; ++i) seg->parts.push_back({msn, i, i == 2 ? 0.52 : 0.5, i == 0, nullptr});
    snap->segments[msn] = seg;
  }
  snap->last_msn = last_msn;
  snap->last_segment_epoch_ms = published_ms;
  snap->last_segment_duration_s = 2.0;
  snap->part_target_s = 0.5;
  return snap;
}

// A rendition with LL-HLS parts, or without (part_target_s 0, whole segments only).
std::shared_ptr<hls::RenditionSnapshot> snapshot_of(uint64_t last_msn, int64_t published_ms, size_t bytes,
                                                    double part_target_s) {
  auto snap = std::make_shared<hls::RenditionSnapshot>();
  for (uint64_t msn = last_msn - 2; msn <= last_msn; ++msn) {
    auto seg = std::make_shared<hls::Segment>();
    seg->msn = msn;
    seg->duration_s = msn == last_msn ? 1.96 : 2.0;
    seg->data = hls::make_bytes(std::string(bytes, 'x'));
    if (part_target_s > 0)
      for (size_t i = 0; i < 4; ++i) seg->parts.push_back({msn, i, i == 1 ? 0.333 : 0.3, i == 0, nullptr});
    snap->segments[msn] = seg;
  }
  snap->last_msn = last_msn;
  snap->last_segment_epoch_ms = published_ms;
  snap->last_segment_duration_s = 1.96;
  snap->part_target_s = part_target_s;
  return snap;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

}  // namespace

TEST_CASE("/metrics carries ingest, renditions, edge, viewers, Q&A, alerts, QoE and process figures", "[metrics]") {
  hls::Store store({"720p", "360p"});
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot(12, now - 1500));

  health::IngestSnapshot ingest;
  ingest.state = health::IngestState::backup;
  ingest.since_epoch_ms = 1'700'000'000'500;
  ingest.loss_events = 2;
  health::InputInfo backup;
  backup.role = "backup";
  backup.state = "receiving";
  backup.bitrate_kbps = 2500;
  backup.framerate = 25;
  backup.width = 1920;
  backup.height = 1080;
  backup.last_frame_age_ms = 40;
  backup.frames_dropped = 7;
  backup.frames_duplicated = 120;
  backup.frames_late = 3;
  backup.keyframe_interval_s = 2.5;
  health::InputInfo primary;  // a raw input: no keyframes
  primary.role = "primary";
  primary.state = "retrying";
  ingest.inputs = {primary, backup};

  net::StatsCounters counters;
  counters.connection_opened();
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::segment), 200, 1000);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::segment), 200, 500);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::playlist), 503, 90);

  config::HlsConfig hls;
  api::MetricsInputs in(store, ingest, counters.snapshot(), hls, now);
  in.uptime_s = 42;
  health::HealthSample sample;
  sample.renditions = {{"720p", 1.5, 0.97}};
  in.sample = sample;
  in.alerts = {{"input_lost", now - 5000, "x"}};
  in.alerts_fired = 3;
  in.process = health::ProcessStats{12.5, 1u << 20, 2u << 20, 9, 30, 1'700'000'000};
  health::QoeSummary qoe;
  qoe.viewers = 2;
  qoe.viewers_by_rendition = {{"720p", 2}};
  qoe.latency_quantiles = {{0.5, 2.5}, {0.9, 3}, {0.99, 3}};
  qoe.latency_count = 2;
  qoe.latency_sum_s = 5.5;
  in.qoe = qoe;
  health::ViewerSessions::Count viewers;
  viewers.total = 3;
  viewers.by_rendition = {{"720p", 3}};
  viewers.untracked_requests = 4;
  in.viewers = viewers;
  in.pending_questions = health::PendingQuestions{{1, 4}, {2, 0}};

  const std::string text = api::render_metrics(in);
  INFO(text);
  CHECK(has_line(text, "# TYPE seminar_relay_ingest_state gauge"));
  CHECK(has_line(text, "seminar_relay_ingest_state{state=\"backup\"} 1"));
  CHECK(has_line(text, "seminar_relay_ingest_state{state=\"live\"} 0"));
  CHECK(has_line(text, "seminar_relay_ingest_state_since_timestamp_seconds 1700000000.5"));
  CHECK(has_line(text, "seminar_relay_ingest_loss_events_total 2"));
  CHECK(has_line(text, "seminar_relay_input_rate_bytes_per_second{role=\"backup\"} 312500"));
  CHECK(has_line(text, "seminar_relay_input_frames_per_second{role=\"backup\"} 25"));
  CHECK(has_line(text, "seminar_relay_input_width_pixels{role=\"backup\"} 1920"));
  CHECK(has_line(text, "seminar_relay_input_receiving{role=\"backup\"} 1"));
  CHECK(has_line(text, "# TYPE seminar_relay_input_frames_dropped_total counter"));
  CHECK(has_line(text, "seminar_relay_input_frames_dropped_total{role=\"backup\"} 7"));
  CHECK(has_line(text, "seminar_relay_input_frames_duplicated_total{role=\"backup\"} 120"));
  CHECK(has_line(text, "seminar_relay_input_frames_late_total{role=\"backup\"} 3"));
  CHECK(has_line(text, "seminar_relay_input_frames_late_total{role=\"primary\"} 0"));
  CHECK(has_line(text, "# TYPE seminar_relay_input_keyframe_interval_seconds gauge"));
  CHECK(has_line(text, "seminar_relay_input_keyframe_interval_seconds{role=\"backup\"} 2.5"));
  // No keyframes, no figure: a raw input has none rather than a made-up one.
  CHECK(text.find("seminar_relay_input_keyframe_interval_seconds{role=\"primary\"}") == std::string::npos);
  CHECK(has_line(text, "seminar_relay_rendition_segments_total{rendition=\"720p\"} 12"));
  CHECK(has_line(text, "seminar_relay_rendition_last_segment_age_seconds{rendition=\"720p\"} 1.5"));
  CHECK(has_line(text, "seminar_relay_rendition_output_rate_bytes_per_second{rendition=\"720p\"} 125000"));
  CHECK(has_line(text, "seminar_relay_rendition_target_segment_duration_seconds{rendition=\"360p\"} 2"));
  CHECK(has_line(text, "seminar_relay_rendition_realtime_factor{rendition=\"720p\"} 0.97"));
  CHECK(has_line(text, "seminar_relay_rendition_part_target_seconds{rendition=\"720p\"} 0.5"));
  CHECK(has_line(text, "seminar_relay_rendition_last_segment_part_max_seconds{rendition=\"720p\"} 0.52"));
  // A rendition without segments yet has no age rather than a made-up one.
  CHECK(text.find("seminar_relay_rendition_last_segment_age_seconds{rendition=\"360p\"}") == std::string::npos);
  CHECK(has_line(text, "seminar_relay_http_requests_total{route=\"segment\",status=\"200\"} 2"));
  CHECK(has_line(text, "seminar_relay_http_sent_bytes_total{route=\"segment\",status=\"200\"} 1500"));
  CHECK(has_line(text, "seminar_relay_http_requests_total{route=\"media_playlist\",status=\"503\"} 1"));
  CHECK(has_line(text, "seminar_relay_http_connections_open 1"));
  CHECK(has_line(text, "seminar_relay_alert_firing{rule=\"input_lost\"} 1"));
  CHECK(has_line(text, "seminar_relay_alert_firing{rule=\"segment_late\"} 0"));
  CHECK(has_line(text, "seminar_relay_alert_firing{rule=\"keyframe_interval\"} 0"));
  CHECK(has_line(text, "seminar_relay_alerts_fired_total 3"));
  // Viewers from the media requests, every rendition listed; the QoE reporters apart.
  CHECK(has_line(text, "# TYPE seminar_relay_viewers gauge"));
  CHECK(has_line(text, "seminar_relay_viewers{rendition=\"720p\"} 3"));
  CHECK(has_line(text, "seminar_relay_viewers{rendition=\"360p\"} 0"));
  CHECK(has_line(text, "seminar_relay_viewer_requests_untracked_total 4"));
  CHECK(has_line(text, "seminar_relay_qoe_sessions 2"));
  CHECK(has_line(text, "seminar_relay_qoe_sessions_by_rendition{rendition=\"720p\"} 2"));
  CHECK(has_line(text, "# TYPE seminar_relay_qa_pending_questions gauge"));
  CHECK(has_line(text, "seminar_relay_qa_pending_questions{room=\"1\"} 4"));
  CHECK(has_line(text, "seminar_relay_qa_pending_questions{room=\"2\"} 0"));
  CHECK(has_line(text, "# TYPE seminar_relay_viewer_latency_seconds summary"));
  CHECK(has_line(text, "seminar_relay_viewer_latency_seconds{quantile=\"0.5\"} 2.5"));
  CHECK(has_line(text, "seminar_relay_viewer_latency_seconds_count 2"));
  CHECK(has_line(text, "seminar_relay_viewer_latency_seconds_sum 5.5"));
  CHECK(has_line(text, "seminar_relay_process_cpu_seconds_total 12.5"));
  CHECK(has_line(text, "seminar_relay_process_resident_memory_bytes 1048576"));
  CHECK(has_line(text, "seminar_relay_process_threads 9"));
  CHECK(has_line(text, "seminar_relay_uptime_seconds 42"));
}

// The whole text, byte for byte, for inputs that fill every family: names, HELP
// and TYPE lines, label order and sample order are what dashboards and alert
// rules rely on. RELAY_UPDATE_GOLDEN=1 rewrites the file after a deliberate change.
TEST_CASE("/metrics renders a full scrape exactly as the golden text", "[metrics]") {
  hls::Store store({"1080p", "720p", "360p"});
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_of(40, now - 750, 500'000, 0.3));
  store.publish(1, snapshot_of(39, now - 2250, 150'000, 0));

  health::IngestSnapshot ingest;
  ingest.state = health::IngestState::live;
  ingest.since_epoch_ms = 1'700'000'050'250;
  ingest.loss_events = 1;
  ingest.reconnects = 4;
  ingest.refused_senders = 2;
  ingest.bus_errors = 5;
  ingest.bus_warnings = 11;
  ingest.audio_rms_db = -23.5;
  ingest.audio_peak_db = -6.25;
  health::InputInfo primary;
  primary.role = "primary";
  primary.state = "receiving";
  primary.bitrate_kbps = 4000;
  primary.framerate = 29.97;
  primary.width = 1920;
  primary.height = 1080;
  primary.last_frame_age_ms = 33;
  primary.frames_dropped = 1;
  primary.frames_duplicated = 2;
  primary.frames_late = 0;
  primary.keyframe_interval_s = 2;
  primary.reconnects = 3;
  health::InputInfo backup;  // not connected yet: no picture, no keyframes
  backup.role = "backup";
  backup.state = "connecting";
  backup.reconnects = 1;
  ingest.inputs = {primary, backup};
  // [[audio]] tracks: one receiving, one lost, one a channel of the main input.
  health::AudioTrackInfo english{"English", "en", "audio-1", "srt://:9001?mode=listener", "receiving", 40, 2, "", -20.5};
  health::AudioTrackInfo french{"Français", "fr", "audio-2", "alsa://hw:1,0", "lost", 4000, 0, "", -200.0};
  health::AudioTrackInfo spanish{"Español", "es", "audio-3", "channel:2", "channel", -1, 0, "", std::nullopt};
  ingest.audio_tracks = {english, french, spanish};

  net::StatsCounters counters;
  for (int i = 0; i < 3; ++i) counters.connection_opened();
  counters.connection_closed();
  counters.connection_refused(true);
  counters.connection_refused(false);
  counters.connection_refused(false);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::master), 200, 700);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::part), 200, 40'000);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::part), 404, 120);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::playlist), 200, 1500);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::qa), 201, 310);
  counters.response_sent(static_cast<uint8_t>(api::RouteLabel::qa), 429, 200);
  counters.hold_started();
  counters.hold_started();
  counters.hold_ended();
  counters.hold_timed_out();
  counters.h2_stream_stalled();
  counters.h2_stream_stalled();
  counters.feed_opened();
  counters.feed_message_sent(17);
  counters.feed_too_slow();

  config::HlsConfig hls;
  hls.segment_duration_s = 2;
  api::MetricsInputs in(store, ingest, counters.snapshot(), hls, now);
  in.uptime_s = 3600.5;
  health::HealthSample sample;
  sample.renditions = {{"1080p", 0.75, 1.01}, {"720p", 2.25, std::nullopt}, {"360p", std::nullopt, 0.5}};
  in.sample = sample;
  in.alerts = {{"segment_late", now - 1000, "x"}, {"viewer_stalls", now - 9000, "y"}};
  in.alerts_fired = 7;
  in.process = health::ProcessStats{81.25, 150u << 20, 900u << 20, 23, 64, 1'699'996'500.5};
  health::QoeSummary qoe;
  qoe.viewers = 5;
  qoe.viewers_by_rendition = {{"1080p", 3}, {"720p", 2}};
  qoe.latency_quantiles = {{0.5, 1.8}, {0.9, 2.6}, {0.99, 4.125}};
  qoe.latency_count = 5;
  qoe.latency_sum_s = 10.4;
  qoe.buffer_mean_s = 3.2;
  qoe.stalls_per_viewer_minute = 0.125;
  qoe.reports = 640;
  qoe.rejected = 3;
  qoe.stalls = 9;
  qoe.errors = 1;
  in.qoe = qoe;
  health::ViewerSessions::Count viewers;
  viewers.total = 8;
  viewers.by_rendition = {{"1080p", 5}, {"360p", 3}};
  viewers.untracked_requests = 12;
  in.viewers = viewers;
  in.pending_questions = health::PendingQuestions{{1, 2}, {3, 0}, {12, 9}};
  health::UplinkStatus uplink;
  uplink.state = "retrying";
  uplink.last_error = "PUT 720p/index.m3u8: answered 503";
  uplink.backlog_s = 6.5;
  uplink.backlog_bytes = 1'250'000;
  uplink.lag_s = 7.25;
  uplink.retries = 4;
  uplink.bytes_pushed = 90'000'000;
  uplink.media_bytes_pushed = 89'000'000;
  uplink.requests_ok = 3000;
  uplink.requests_failed = 4;
  uplink.requests_refused = 1;
  uplink.segments_dropped = 2;
  in.uplink = uplink;
  health::RecordingStatus recording;
  recording.active = true;
  recording.bytes = 123'456'789;
  recording.segments = 420;
  recording.dropped = 3;
  recording.disk_free_bytes = 50'000'000'000;
  recording.oldest_event_epoch_ms = 1'796'630'400'500;
  in.recording = recording;

  const std::string text = api::render_metrics(in);
  const std::string golden_path = std::string(RELAY_SOURCE_DIR) + "/tests/unit/api/metrics_exposition.golden.txt";
  if (std::getenv("RELAY_UPDATE_GOLDEN")) std::ofstream(golden_path, std::ios::binary) << text;
  std::ifstream golden_file(golden_path, std::ios::binary);
  REQUIRE(golden_file);
  std::ostringstream golden;
  golden << golden_file.rdbuf();
  CHECK(text == golden.str());
}
