#include "config/reload.hpp"

#include <algorithm>

namespace relay::config {

namespace {

bool same_ladder(const std::vector<Rendition>& a, const std::vector<Rendition>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].width != b[i].width || a[i].height != b[i].height ||
        a[i].bitrate_kbps != b[i].bitrate_kbps || a[i].profile != b[i].profile)
      return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> keys_needing_restart(const Config& running, const Config& loaded) {
  std::vector<std::string> keys;
  auto check = [&](const char* key, bool same) {
    if (!same) keys.emplace_back(key);
  };
  const EdgeConfig& e0 = running.edge;
  const EdgeConfig& e1 = loaded.edge;
  check("edge.listen", e0.listen == e1.listen);
  check("edge.threads", e0.threads == e1.threads);
  check("edge.cors_origins", e0.cors_origins == e1.cors_origins);
  check("edge.web_dir", e0.web_dir == e1.web_dir);
  check("edge.node_modules_dir", e0.node_modules_dir == e1.node_modules_dir);
  check("edge.tls_listen", e0.tls_listen == e1.tls_listen);
  check("edge.trusted_proxies", e0.trusted_proxies == e1.trusted_proxies);
  check("edge.forwarded_header", e0.forwarded_header == e1.forwarded_header);
  check("edge.frame_ancestors", e0.frame_ancestors == e1.frame_ancestors);
  check("edge.websocket_origins", e0.websocket_origins == e1.websocket_origins);
  check("edge.plain_http", e0.plain_http == e1.plain_http);
  check("edge.hsts_max_age_s", e0.hsts_max_age_s == e1.hsts_max_age_s);

  const IngestConfig& i0 = running.ingest;
  const IngestConfig& i1 = loaded.ingest;
  check("ingest.source", i0.source == i1.source);
  check("ingest.pipelines_dir", i0.pipelines_dir == i1.pipelines_dir);
  check("ingest.width", i0.width == i1.width);
  check("ingest.height", i0.height == i1.height);
  check("ingest.framerate", i0.framerate == i1.framerate);
  check("ingest.loop", i0.loop == i1.loop);
  check("ingest.test_pattern", i0.test_pattern == i1.test_pattern);
  check("ingest.backup_source", i0.backup_source == i1.backup_source);
  check("ingest.input_timeout_s", i0.input_timeout_s == i1.input_timeout_s);
  check("ingest.slate_after_s", i0.slate_after_s == i1.slate_after_s);
  check("ingest.failback_s", i0.failback_s == i1.failback_s);
  check("ingest.reconnect_max_s", i0.reconnect_max_s == i1.reconnect_max_s);
  check("ingest.slate_image", i0.slate_image == i1.slate_image);
  check("ingest.slate_text", i0.slate_text == i1.slate_text);
  check("ingest.slate_color", i0.slate_color == i1.slate_color);
  check("ingest.srt_latency_ms", i0.srt_latency_ms == i1.srt_latency_ms);
  check("ingest.srt_passphrase", i0.srt_passphrase == i1.srt_passphrase);
  check("ingest.srt_pbkeylen", i0.srt_pbkeylen == i1.srt_pbkeylen);
  check("ingest.srt_streamid", i0.srt_streamid == i1.srt_streamid);
  check("ingest.rtsp_transport", i0.rtsp_transport == i1.rtsp_transport);
  check("ingest.rtsp_latency_ms", i0.rtsp_latency_ms == i1.rtsp_latency_ms);
  check("ingest.v4l2_format", i0.v4l2_format == i1.v4l2_format);
  check("ingest.v4l2_width", i0.v4l2_width == i1.v4l2_width);
  check("ingest.v4l2_height", i0.v4l2_height == i1.v4l2_height);
  check("ingest.allow_unauthenticated", i0.allow_unauthenticated == i1.allow_unauthenticated);
  check("ingest.v4l2_framerate", i0.v4l2_framerate == i1.v4l2_framerate);

  const EncoderConfig& c0 = running.encoder;
  const EncoderConfig& c1 = loaded.encoder;
  check("encoder.preset", c0.preset == c1.preset);
  check("encoder.tune", c0.tune == c1.tune);
  check("encoder.vbv_buffer_s", c0.vbv_buffer_s == c1.vbv_buffer_s);
  check("encoder.audio_bitrate_kbps", c0.audio_bitrate_kbps == c1.audio_bitrate_kbps);
  check("encoder.audio_channels", c0.audio_channels == c1.audio_channels);
  check("encoder.audio_rate", c0.audio_rate == c1.audio_rate);
  check("encoder.renditions", same_ladder(c0.renditions, c1.renditions));

  const HlsConfig& h0 = running.hls;
  const HlsConfig& h1 = loaded.hls;
  check("hls.segment_duration_s", h0.segment_duration_s == h1.segment_duration_s);
  check("hls.part_duration_s", h0.part_duration_s == h1.part_duration_s);
  check("hls.live_window", h0.live_window == h1.live_window);
  check("hls.dvr_window_s", h0.dvr_window_s == h1.dvr_window_s);
  check("hls.max_memory_mb", h0.max_memory_mb == h1.max_memory_mb);
  check("hls.low_latency", h0.low_latency == h1.low_latency);
  check("hls.container", h0.container == h1.container);

  const QaConfig& q0 = running.qa;
  const QaConfig& q1 = loaded.qa;
  check("qa.data_dir", q0.data_dir == q1.data_dir);
  check("qa.synchronous", q0.synchronous == q1.synchronous);
  check("qa.database", q0.database == q1.database && q0.database_password == q1.database_password);
  check("qa.default_room_title", q0.default_room_title == q1.default_room_title);
  check("qa.max_question_chars", q0.max_question_chars == q1.max_question_chars);
  check("qa.max_name_chars", q0.max_name_chars == q1.max_name_chars);
  check("qa.questions_per_minute", q0.questions_per_minute == q1.questions_per_minute);
  check("qa.question_burst", q0.question_burst == q1.question_burst);
  check("qa.attendees_per_minute", q0.attendees_per_minute == q1.attendees_per_minute);
  check("qa.attendee_burst", q0.attendee_burst == q1.attendee_burst);
  check("qa.slow_mode_s", q0.slow_mode_s == q1.slow_mode_s);
  check("qa.auto_approve", q0.auto_approve == q1.auto_approve);
  check("qa.word_list", q0.word_list == q1.word_list);
  check("qa.word_list_file", q0.word_list_file == q1.word_list_file);
  check("qa.vote_interval_ms", q0.vote_interval_ms == q1.vote_interval_ms);
  check("qa.ws_queue_limit", q0.ws_queue_limit == q1.ws_queue_limit);
  check("qa.ws_resume_events", q0.ws_resume_events == q1.ws_resume_events);

  const HealthConfig& a0 = running.health;
  const HealthConfig& a1 = loaded.health;
  check("health.incident_log", a0.incident_log == a1.incident_log);
  check("health.realtime_window_s", a0.realtime_window_s == a1.realtime_window_s);
  check("health.viewer_window_s", a0.viewer_window_s == a1.viewer_window_s);
  check("health.webhook_url", a0.webhook_url == a1.webhook_url);
  check("health.webhook_secret", a0.webhook_secret == a1.webhook_secret);
  check("health.webhook_retries", a0.webhook_retries == a1.webhook_retries);
  check("health.webhook_timeout_s", a0.webhook_timeout_s == a1.webhook_timeout_s);
  check("health.allow_insecure_webhooks", a0.allow_insecure_webhooks == a1.allow_insecure_webhooks);
  check("health.listen", a0.listen == a1.listen);

  // The master playlist players already hold names the pathways and the
  // steering address; the manifest's order and TTL are served anew.
  auto by_id = [](std::vector<Pathway> pathways) {
    std::sort(pathways.begin(), pathways.end(), [](const Pathway& a, const Pathway& b) { return a.id < b.id; });
    return pathways;
  };
  const auto p0 = by_id(running.scale.pathways);
  const auto p1 = by_id(loaded.scale.pathways);
  check("scale.pathways", std::equal(p0.begin(), p0.end(), p1.begin(), p1.end(), [](const Pathway& a, const Pathway& b) {
          return a.id == b.id && a.base_url == b.base_url;
        }));
  check("scale.steering_uri", running.scale.steering_uri == loaded.scale.steering_uri);
  const UplinkConfig& u0 = running.uplink;
  const UplinkConfig& u1 = loaded.uplink;
  check("uplink.url", u0.url == u1.url);
  check("uplink.token", u0.token == u1.token);
  check("uplink.token_file", u0.token_file == u1.token_file);
  check("uplink.backlog_s", u0.backlog_s == u1.backlog_s);
  check("uplink.backlog_mb", u0.backlog_mb == u1.backlog_mb);
  check("uplink.timeout_s", u0.timeout_s == u1.timeout_s);
  check("uplink.allow_insecure", u0.allow_insecure == u1.allow_insecure);

  // The subtitle renditions are in the master playlist players already hold.
  const CaptionsConfig& k0 = running.captions;
  const CaptionsConfig& k1 = loaded.captions;
  const auto same_languages = [](const std::vector<CaptionLanguage>& a, const std::vector<CaptionLanguage>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const CaptionLanguage& x, const CaptionLanguage& y) { return x.code == y.code && x.name == y.name; });
  };
  check("captions.languages", same_languages(k0.languages, k1.languages));
  check("captions.offset_s", k0.offset_s == k1.offset_s);
  check("captions.max_chars", k0.max_chars == k1.max_chars);

  // The programme API holds the talks and the day's marks in memory; a reload
  // does not replace them under the moderator (PUT /api/programme/<talk> does, live).
  const auto same_talks = [](const std::vector<TalkConfig>& a, const std::vector<TalkConfig>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const TalkConfig& x, const TalkConfig& y) {
      return x.id == y.id && x.title == y.title && x.speakers == y.speakers && x.start == y.start && x.end == y.end &&
             x.language == y.language && x.abstract == y.abstract;
    });
  };
  check("programme.talks", same_talks(running.programme.talks, loaded.programme.talks));

  // The recorder keeps its event folder open; the thresholds and retention are
  // reloaded (the recorder's reconfigure), starting and stopping is on /tech.
  check("recording.enabled", running.recording.enabled == loaded.recording.enabled);
  check("recording.dir", running.recording.dir == loaded.recording.dir);
  check("recording.event", running.recording.event == loaded.recording.event);
  return keys;
}

}  // namespace relay::config
