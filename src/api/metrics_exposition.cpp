#include "api/metrics_exposition.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "api/route_label.hpp"
#include "health/metrics.hpp"

namespace relay::api {
namespace {

using health::MetricRegistry;

std::string format_quantile(double q) { return fmt::format("{}", q); }

void collect_ingest(MetricRegistry& m, const health::IngestSnapshot& ingest) {
  using health::IngestState;
  // One series per state, 1 for the current one, so alerting on
  // seminar_relay_ingest_state{state="slate"} == 1 works without string matching.
  auto& state = m.gauge("seminar_relay_ingest_state", "Ingest state: 1 for the current one, 0 for the others");
  for (IngestState s : {IngestState::starting, IngestState::waiting, IngestState::live, IngestState::backup,
                        IngestState::lost, IngestState::slate, IngestState::ended, IngestState::failed})
    state.add({{"state", health::to_string(s)}}, ingest.state == s ? 1 : 0);
  m.gauge("seminar_relay_ingest_state_since_timestamp_seconds", "When the ingest entered its current state, Unix time")
      .add(ingest.since_epoch_ms / 1000.0);
  m.counter("seminar_relay_ingest_loss_events_total", "Times the input on air was lost")
      .add(static_cast<double>(ingest.loss_events));
  m.counter("seminar_relay_ingest_reconnects_total", "Reconnects of inputs").add(static_cast<double>(ingest.reconnects));
  m.counter("seminar_relay_ingest_refused_senders_total", "SRT senders refused (passphrase or stream id)")
      .add(static_cast<double>(ingest.refused_senders));
  m.counter("seminar_relay_ingest_bus_errors_total", "GStreamer error messages on the pipelines' buses")
      .add(static_cast<double>(ingest.bus_errors));
  m.counter("seminar_relay_ingest_bus_warnings_total", "GStreamer warning messages on the pipelines' buses")
      .add(static_cast<double>(ingest.bus_warnings));

  if (ingest.uplink) {
    const health::UplinkInfo& u = *ingest.uplink;
    m.gauge("seminar_relay_push_receiving", "1 while a pusher sends the ladder (ingest.source = \"push:\")")
        .add(u.state == "receiving" ? 1 : 0);
    auto& bytes = m.counter("seminar_relay_push_bytes_total",
                            "Bytes pushed to /ingest/ and accepted: media objects, and playlists");
    bytes.add({{"kind", "media"}}, static_cast<double>(u.media_bytes));
    bytes.add({{"kind", "playlist"}}, static_cast<double>(u.bytes_received - u.media_bytes));
    auto& objects = m.counter("seminar_relay_push_objects_total", "Objects and playlists pushed to /ingest/, by result");
    objects.add({{"result", "accepted"}}, static_cast<double>(u.objects_accepted));
    objects.add({{"result", "rejected"}}, static_cast<double>(u.objects_rejected));
    m.counter("seminar_relay_push_gaps_total", "Discontinuities made for lost pushed media or a restarted pusher")
        .add(static_cast<double>(u.gaps));
    if (u.last_object_age_s >= 0)
      m.gauge("seminar_relay_push_last_object_age_seconds", "Time since the newest object was pushed")
          .add(u.last_object_age_s);
    if (u.lag_s)
      m.gauge("seminar_relay_push_lag_seconds",
              "Now minus the program-date-time at the end of the newest pushed media")
          .add(*u.lag_s);
  }

  if (!ingest.audio_tracks.empty()) {
    auto& up = m.gauge("seminar_relay_audio_track_receiving",
                       "1 while an [[audio]] track's input delivers sound (channel: tracks always)");
    auto& rms = m.gauge("seminar_relay_audio_track_rms_dbfs", "An [[audio]] track's sound going into its AAC encoder");
    auto& reconnects = m.counter("seminar_relay_audio_track_reconnects_total", "Reconnects of an [[audio]] track's input");
    for (const auto& t : ingest.audio_tracks) {
      health::Labels track{{"track", t.rendition}};
      up.add(track, t.state == "receiving" || t.state == "channel" ? 1 : 0);
      if (t.rms_db) rms.add(track, std::max(-200.0, *t.rms_db));
      reconnects.add(track, static_cast<double>(t.reconnects));
    }
  }

  if (ingest.audio_rms_db) {
    m.gauge("seminar_relay_audio_rms_dbfs", "Programme sound going into the AAC encoder, RMS of the loudest channel")
        .add(std::max(-200.0, *ingest.audio_rms_db));
    m.gauge("seminar_relay_audio_peak_dbfs", "Programme sound, peak of the loudest channel")
        .add(std::max(-200.0, ingest.audio_peak_db.value_or(-200.0)));
  }
}

void collect_inputs(MetricRegistry& m, const std::vector<health::InputInfo>& inputs) {
  auto& input_up = m.gauge("seminar_relay_input_receiving", "1 while the input delivers pictures");
  auto& input_rate = m.gauge("seminar_relay_input_rate_bytes_per_second",
                             "Compressed input rate over the last seconds (0 for raw sources)");
  auto& input_fps = m.gauge("seminar_relay_input_frames_per_second", "Input frame rate");
  auto& input_width = m.gauge("seminar_relay_input_width_pixels", "Input picture width, before scaling");
  auto& input_height = m.gauge("seminar_relay_input_height_pixels", "Input picture height, before scaling");
  auto& input_age = m.gauge("seminar_relay_input_last_frame_age_seconds", "Time since the input's newest picture");
  auto& input_reconnects = m.counter("seminar_relay_input_reconnects_total", "Reconnects of this input");
  auto& input_dropped = m.counter("seminar_relay_input_frames_dropped_total",
                                  "Input frames the normaliser dropped to hold the ladder's frame rate "
                                  "(an input faster than it, or with repeated timestamps)");
  auto& input_duplicated = m.counter("seminar_relay_input_frames_duplicated_total",
                                     "Input frames the normaliser repeated to fill gaps "
                                     "(an input slower than the ladder's frame rate, or losing frames)");
  auto& input_late = m.counter("seminar_relay_input_frames_late_total",
                               "Input frames the source pipeline dropped as too late (GStreamer QoS)");
  auto& input_keyframes = m.gauge("seminar_relay_input_keyframe_interval_seconds",
                                  "Media time between the compressed input's keyframes, or since the newest one "
                                  "when that is longer; absent for raw inputs");
  for (const auto& i : inputs) {
    health::Labels role{{"role", i.role}};
    input_up.add(role, i.state == "receiving" ? 1 : 0);
    input_rate.add(role, i.bitrate_kbps * 1000 / 8);
    input_fps.add(role, i.framerate);
    input_width.add(role, i.width);
    input_height.add(role, i.height);
    if (i.last_frame_age_ms >= 0) input_age.add(role, i.last_frame_age_ms / 1000.0);
    input_reconnects.add(role, static_cast<double>(i.reconnects));
    input_dropped.add(role, static_cast<double>(i.frames_dropped));
    input_duplicated.add(role, static_cast<double>(i.frames_duplicated));
    input_late.add(role, static_cast<double>(i.frames_late));
    if (i.keyframe_interval_s) input_keyframes.add(role, *i.keyframe_interval_s);
  }
}

// What the segment store holds, against the configured timing, and the
// realtime factor the alert rules last saw.
void collect_renditions(MetricRegistry& m, const MetricsInputs& in) {
  auto& segments = m.counter("seminar_relay_rendition_segments_total", "Segments published (the newest media sequence number)");
  auto& retained = m.gauge("seminar_relay_rendition_segments_retained", "Segments held in memory and servable");
  auto& age = m.gauge("seminar_relay_rendition_last_segment_age_seconds", "Time since the newest segment was published");
  auto& last_duration =
      m.gauge("seminar_relay_rendition_last_segment_duration_seconds", "Duration of the newest segment");
  auto& target = m.gauge("seminar_relay_rendition_target_segment_duration_seconds", "Configured segment duration");
  auto& part_target = m.gauge("seminar_relay_rendition_part_target_seconds", "LL-HLS part target duration");
  auto& part_max = m.gauge("seminar_relay_rendition_last_segment_part_max_seconds",
                           "Longest part of the newest segment (must not exceed the part target)");
  auto& rate = m.gauge("seminar_relay_rendition_output_rate_bytes_per_second",
                       "Output rate over the segments held, audio and container included");
  auto& retained_bytes = m.gauge("seminar_relay_rendition_retained_bytes", "Bytes of media held for this rendition");
  auto& realtime = m.gauge("seminar_relay_rendition_realtime_factor",
                           "Seconds of media produced per second of wall clock over the health window");
  for (size_t i = 0; i < in.store.rendition_count(); ++i) {
    const std::string& name = in.store.names()[i];
    health::Labels r{{"rendition", name}};
    auto snapshot = in.store.rendition(i);
    target.add(r, in.hls.segment_duration_s);
    if (!snapshot) continue;
    segments.add(r, static_cast<double>(snapshot->last_msn));
    retained.add(r, static_cast<double>(snapshot->segments.size()));
    if (snapshot->part_target_s > 0) part_target.add(r, snapshot->part_target_s);
    if (snapshot->last_segment_epoch_ms != 0) {
      age.add(r, (in.now_ms - snapshot->last_segment_epoch_ms) / 1000.0);
      last_duration.add(r, snapshot->last_segment_duration_s);
    }
    if (auto newest = snapshot->segments.find(snapshot->last_msn);
        newest != snapshot->segments.end() && newest->second && !newest->second->parts.empty()) {
      double longest = 0;
      for (const auto& part : newest->second->parts) longest = std::max(longest, part.duration_s);
      part_max.add(r, longest);
    }
    double bytes = 0, seconds = 0;
    for (const auto& [msn, segment] : snapshot->segments) {
      if (!segment || !segment->data) continue;
      bytes += static_cast<double>(segment->data->size());
      seconds += segment->duration_s;
    }
    retained_bytes.add(r, bytes);
    if (seconds > 0) rate.add(r, bytes / seconds);
  }
  if (in.sample) {
    for (const auto& r : in.sample->renditions) {
      if (r.realtime_factor) realtime.add({{"rendition", r.name}}, *r.realtime_factor);
    }
  }
}

void collect_http(MetricRegistry& m, const net::Stats& edge) {
  auto& requests = m.counter("seminar_relay_http_requests_total", "HTTP responses sent, by route and status");
  auto& sent = m.counter("seminar_relay_http_sent_bytes_total", "Bytes sent in HTTP responses, headers included");
  for (const auto& c : edge.by_route) {
    health::Labels l{{"route", to_string(static_cast<RouteLabel>(c.route))}, {"status", fmt::format("{}", c.status)}};
    requests.add(l, static_cast<double>(c.requests));
    sent.add(l, static_cast<double>(c.bytes_out));
  }
  m.gauge("seminar_relay_http_connections_open", "Open HTTP and WebSocket connections")
      .add(static_cast<double>(edge.connections_open));
  m.counter("seminar_relay_http_connections_accepted_total", "Connections accepted")
      .add(static_cast<double>(edge.connections_accepted));
  auto& refused = m.counter("seminar_relay_http_connections_refused_total",
                            "Connections answered 503 and closed, by the cap they were over");
  refused.add({{"cap", "per_ip"}}, static_cast<double>(edge.connections_refused_per_ip));
  refused.add({{"cap", "total"}}, static_cast<double>(edge.connections_refused_total_cap));
  m.gauge("seminar_relay_http_requests_held", "Playlist and part requests waiting for media (blocking reload)")
      .add(static_cast<double>(edge.requests_held));
  m.counter("seminar_relay_http_holds_timed_out_total", "Held requests answered 503 because nothing arrived in time")
      .add(static_cast<double>(edge.holds_timed_out));
  m.counter("seminar_relay_http2_streams_stalled_total",
            "HTTP/2 streams reset because the client did not take the response within its send deadline")
      .add(static_cast<double>(edge.h2_streams_stalled));
}

// The feeds are counted by the edge; the pending questions come from the Q&A
// once the app has connected it.
void collect_qa(MetricRegistry& m, const net::Stats& edge,
                const std::optional<health::PendingQuestions>& pending_questions,
                const std::optional<health::QaDatabaseStatus>& database) {
  if (database) {
    m.gauge("seminar_relay_qa_database_up", "1 while the Q&A database answers, 0 while it cannot be reached")
        .add({{"engine", database->engine}}, database->ok ? 1 : 0);
  }
  m.gauge("seminar_relay_qa_connected_clients", "Q&A WebSocket feeds open").add(static_cast<double>(edge.feeds_open));
  m.counter("seminar_relay_qa_feed_messages_total", "Q&A events sent on the feeds")
      .add(static_cast<double>(edge.feed_messages));
  m.counter("seminar_relay_qa_feeds_too_slow_total", "Q&A feeds closed for not keeping up")
      .add(static_cast<double>(edge.feeds_too_slow));
  if (pending_questions) {
    auto& pending = m.gauge("seminar_relay_qa_pending_questions", "Questions waiting for a moderator, by room id");
    for (const auto& [room, count] : *pending_questions)
      pending.add({{"room", fmt::format("{}", room)}}, static_cast<double>(count));
  }
}

void collect_alerts(MetricRegistry& m, const std::vector<health::ActiveAlert>& alerts, uint64_t alerts_fired) {
  auto& firing = m.gauge("seminar_relay_alert_firing", "1 while the alert rule fires");
  for (const char* rule : health::kAlertRuleNames) {
    bool on = false;
    for (const auto& a : alerts) on = on || a.rule == rule;
    firing.add({{"rule", rule}}, on ? 1 : 0);
  }
  m.counter("seminar_relay_alerts_fired_total", "Alerts fired since start").add(static_cast<double>(alerts_fired));
}

// Viewers counted from the media requests, then what the players report (QoE).
void collect_viewers(MetricRegistry& m, const MetricsInputs& in) {
  if (in.viewers) {
    // Every rendition, 0 included, so a rendition nobody watches is a 0 and not a gap.
    auto& viewers = m.gauge("seminar_relay_viewers",
                            "Playback sessions whose newest playlist or media request in the viewer window "
                            "(X-Playback-Session-Id) was for this rendition");
    for (const auto& name : in.store.names()) {
      auto it = in.viewers->by_rendition.find(name);
      viewers.add({{"rendition", name}}, it == in.viewers->by_rendition.end() ? 0 : static_cast<double>(it->second));
    }
    m.counter("seminar_relay_viewer_requests_untracked_total",
              "Media requests of playback sessions left uncounted because the most sessions are tracked already")
        .add(static_cast<double>(in.viewers->untracked_requests));
  }
  if (in.qoe) {
    const health::QoeSummary& q = *in.qoe;
    m.gauge("seminar_relay_qoe_sessions", "Playback sessions that sent a QoE report in the last 30 s").add(q.viewers);
    auto& by_rendition =
        m.gauge("seminar_relay_qoe_sessions_by_rendition", "Reporting playback sessions by the rendition they play");
    for (const auto& [name, count] : q.viewers_by_rendition) by_rendition.add({{"rendition", name}}, count);
    auto& latency = m.summary("seminar_relay_viewer_latency_seconds",
                              "Latency behind live of the viewers that reported in the last 30 s");
    for (const auto& [quantile, value] : q.latency_quantiles)
      latency.add({{"quantile", format_quantile(quantile)}}, value);
    latency.add_count_and_sum({}, q.latency_count, q.latency_sum_s);
    m.gauge("seminar_relay_viewer_buffer_seconds_mean", "Mean buffer length the viewers report").add(q.buffer_mean_s);
    m.gauge("seminar_relay_viewer_stalls_per_minute", "Stalls per viewer-minute over the last 30 s")
        .add(q.stalls_per_viewer_minute);
    m.counter("seminar_relay_qoe_reports_total", "QoE reports accepted").add(static_cast<double>(q.reports));
    m.counter("seminar_relay_qoe_rejected_total", "QoE reports refused (malformed, too large, too often)")
        .add(static_cast<double>(q.rejected));
    m.counter("seminar_relay_viewer_stalls_total", "Stalls the viewers reported").add(static_cast<double>(q.stalls));
    m.counter("seminar_relay_viewer_errors_total", "Player errors the viewers reported").add(static_cast<double>(q.errors));
  }
}

// The hall uplink (outbound/uplink): what it pushed to the cloud relay and what waits.
void collect_uplink(MetricRegistry& m, const std::optional<health::UplinkStatus>& uplink) {
  if (!uplink) return;
  const health::UplinkStatus& u = *uplink;
  m.gauge("seminar_relay_uplink_up", "1 while the uplink pushes, 0 while it retries")
      .add(u.state == "retrying" ? 0 : 1);
  auto& bytes = m.counter("seminar_relay_uplink_bytes_total",
                          "Bytes the cloud relay accepted: media (init sections, parts, segments) and playlists");
  bytes.add({{"kind", "media"}}, static_cast<double>(u.media_bytes_pushed));
  bytes.add({{"kind", "playlist"}}, static_cast<double>(u.bytes_pushed - u.media_bytes_pushed));
  auto& requests = m.counter("seminar_relay_uplink_requests_total",
                             "PUT requests to the cloud relay: ok, failed (tried again), refused (400 or 413, given up)");
  requests.add({{"result", "ok"}}, static_cast<double>(u.requests_ok));
  requests.add({{"result", "failed"}}, static_cast<double>(u.requests_failed));
  requests.add({{"result", "refused"}}, static_cast<double>(u.requests_refused));
  m.counter("seminar_relay_uplink_retries_total", "Failed PUTs that were tried again")
      .add(static_cast<double>(u.retries));
  m.counter("seminar_relay_uplink_segments_dropped_total", "Whole segments dropped from a full backlog")
      .add(static_cast<double>(u.segments_dropped));
  m.gauge("seminar_relay_uplink_backlog_bytes", "Bytes waiting to be pushed, all renditions")
      .add(static_cast<double>(u.backlog_bytes));
  m.gauge("seminar_relay_uplink_backlog_seconds", "Media seconds waiting in the rendition furthest behind")
      .add(u.backlog_s);
  m.gauge("seminar_relay_uplink_lag_seconds", "Age of the oldest object waiting to be pushed; 0 when none waits")
      .add(u.lag_s);
}

// The recording (docs/recording.md): what went to disk, and the disk it goes to.
void collect_recording(MetricRegistry& m, const std::optional<health::RecordingStatus>& recording) {
  if (!recording) return;
  const health::RecordingStatus& r = *recording;
  m.gauge("seminar_relay_recording_active", "1 while the recording writes segments").add(r.active ? 1 : 0);
  m.counter("seminar_relay_recording_bytes_total", "Media bytes written to the recording (segments and init sections)")
      .add(static_cast<double>(r.bytes));
  m.counter("seminar_relay_recording_segments_total", "Segments written to the recording, all renditions")
      .add(static_cast<double>(r.segments));
  m.counter("seminar_relay_recording_dropped_total", "Segments not recorded because the disk writer was behind")
      .add(static_cast<double>(r.dropped));
  if (r.disk_free_bytes)
    m.gauge("seminar_relay_recording_disk_free_bytes", "Free bytes on the recording disk")
        .add(static_cast<double>(*r.disk_free_bytes));
  if (r.oldest_event_epoch_ms)
    m.gauge("seminar_relay_recording_oldest_event_timestamp_seconds", "When the oldest recorded event kept began, Unix time")
        .add(static_cast<double>(*r.oldest_event_epoch_ms / 1000));
}

void collect_process(MetricRegistry& m, const std::optional<health::ProcessStats>& process, double uptime_s) {
  if (process) {
    const health::ProcessStats& p = *process;
    m.counter("seminar_relay_process_cpu_seconds_total", "User and system CPU time").add(p.cpu_seconds);
    m.gauge("seminar_relay_process_resident_memory_bytes", "Resident memory").add(static_cast<double>(p.resident_bytes));
    m.gauge("seminar_relay_process_virtual_memory_bytes", "Virtual memory").add(static_cast<double>(p.virtual_bytes));
    m.gauge("seminar_relay_process_threads", "Threads").add(p.threads);
    m.gauge("seminar_relay_process_open_fds", "Open file descriptors").add(p.open_fds);
    m.gauge("seminar_relay_process_start_time_seconds", "Start time, Unix time").add(p.start_time_epoch_s);
  }
  m.gauge("seminar_relay_uptime_seconds", "Seconds since the relay started").add(uptime_s);
}

}  // namespace

// The families render in the order declared, so the order of the collectors is
// the order of the document.
std::string render_metrics(const MetricsInputs& in) {
  MetricRegistry m;
  collect_ingest(m, in.ingest);
  collect_inputs(m, in.ingest.inputs);
  collect_renditions(m, in);
  collect_http(m, in.edge);
  collect_qa(m, in.edge, in.pending_questions, in.qa_database);
  collect_alerts(m, in.alerts, in.alerts_fired);
  collect_viewers(m, in);
  collect_uplink(m, in.uplink);
  collect_recording(m, in.recording);
  collect_process(m, in.process, in.uptime_s);
  return m.render();
}

}  // namespace relay::api
