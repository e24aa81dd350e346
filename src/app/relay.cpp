#include "app/relay.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "api/captions_api.hpp"
#include "api/health_api.hpp"
#include "api/health_sampler.hpp"
#include "api/programme_api.hpp"
#include "api/vod_api.hpp"
#include "api/push_api.hpp"
#include "api/qa_api.hpp"
#include "api/recording_api.hpp"
#include "api/route_table.hpp"
#include "app/periodic.hpp"
#include "auth/authority.hpp"
#include "captions/cue_store.hpp"
#include "captions/subtitle_packager.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "common/work_queue.hpp"
#include "config/reload.hpp"
#include "config/source_uri.hpp"
#include "delivery/publish_waiters.hpp"
#include "delivery/router.hpp"
#include "delivery/static_files.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "health/qoe.hpp"
#include "hls/master.hpp"
#include "hls/object_names.hpp"
#include "hls/packager.hpp"
#include "hls/push_receiver.hpp"
#include "hls/store.hpp"
#include "ingest/ingest.hpp"
#include "ingest/ladder.hpp"
#include "ingest/slate_feed.hpp"
#include "net/server.hpp"
#include "net/stats.hpp"
#include "outbound/uplink.hpp"
#include "outbound/webhook.hpp"
#include "qa/service.hpp"
#include "recording/recorder.hpp"

namespace relay::app {
namespace {

constexpr std::chrono::milliseconds kHealthSampleInterval{250};
// Q&A writes waiting for their commit; beyond this the API answers 503 "busy".
constexpr size_t kQaWriteQueue = 10000;
constexpr std::chrono::hours kRetentionInterval{24};

std::vector<std::string> rendition_names(const config::Config& cfg) {
  std::vector<std::string> names;
  for (const auto& r : cfg.encoder.renditions) names.push_back(r.name);
  // With [[audio]] tracks, the floor and the tracks follow the video rungs (ingest/ladder.hpp).
  if (!cfg.audio.empty()) names.push_back(ingest::kFloorRendition);
  for (const auto& a : cfg.audio) names.push_back(a.rendition);
  return names;
}

std::vector<hls::VariantSpec> variant_specs(const config::Config& cfg) {
  std::vector<hls::VariantSpec> specs;
  for (const auto& r : cfg.encoder.renditions)
    specs.push_back({r.name, r.bitrate_kbps, cfg.encoder.audio_bitrate_kbps, cfg.encoder.vbv_buffer_s,
                     cfg.hls.segment_duration_s, double(cfg.ingest.framerate)});
  return specs;
}

// [scale] pathways as the master playlist names them: the media is under
// base_url + "live/", where the router serves it; the steering manifest beside
// the master. None: the master has relative URIs only.
std::optional<hls::ContentSteering> content_steering(const config::ScaleConfig& scale) {
  if (scale.pathways.empty()) return std::nullopt;
  hls::ContentSteering steering{scale.steering_uri, {}};
  for (const config::Pathway& pathway : scale.pathways)
    steering.pathways.push_back({pathway.id, pathway.base_url + "live/"});
  return steering;
}

// The operator's port answers nothing that waits for media: no request is ever held there.
class NoHolds final : public net::Waiters {
 public:
  uint64_t add(size_t, Wake) override { return 0; }
  void remove(uint64_t) override {}
  void close() override {}
};

// The operator's port (health.listen): plain HTTP, one thread, the edge's limits.
config::EdgeConfig operator_edge(const config::Config& cfg) {
  config::EdgeConfig edge = cfg.edge;
  edge.listen = cfg.health.listen;
  edge.tls_listen.clear();
  edge.threads = 1;
  return edge;
}

bool is_push_receiver(const config::Config& cfg) { return config::parse_source_uri(cfg.ingest.source).push(); }

// A push receiver's packagers, one per rung, packaging what is pushed as the
// ladder's own would; none for a relay that encodes.
std::vector<std::unique_ptr<hls::Packager>> push_packagers(const config::Config& cfg, hls::Store& store,
                                                           hls::MasterPlaylist& master) {
  std::vector<std::unique_ptr<hls::Packager>> packagers;
  if (!is_push_receiver(cfg)) return packagers;
  // The cloud's own object names: its instance, not the pusher's.
  const std::string instance = hls::new_instance_id();
  for (size_t i = 0; i < cfg.encoder.renditions.size(); ++i)
    packagers.push_back(std::make_unique<hls::Packager>(ingest::packager_options(cfg, i, instance), i, store, &master));
  return packagers;
}

std::unique_ptr<hls::PushReceiver> push_receiver(const std::vector<std::unique_ptr<hls::Packager>>& packagers) {
  if (packagers.empty()) return nullptr;
  std::vector<hls::Packager*> targets;
  for (const auto& p : packagers) targets.push_back(p.get());
  return std::make_unique<hls::PushReceiver>(std::move(targets), hls::PushLimits{});
}

// No object pushed for this long: the uplink is lost. Without LL-HLS a pusher
// sends once a segment, so never less than a segment and a second.
double uplink_timeout_s(const config::Config& cfg) {
  return std::max(cfg.ingest.input_timeout_s, cfg.hls.segment_duration_s + 1.0);
}

void warn_unauthenticated_ingest(const config::IngestConfig& ingest) {
  if (!config::accepts_unauthenticated_senders(ingest)) return;
  relay::log::get("ingest")->warn(
      "UNAUTHENTICATED INGEST: an SRT listener accepts any sender without a passphrase "
      "(ingest.allow_unauthenticated = true); anyone who reaches its port can replace the programme. "
      "Set ingest.srt_passphrase, or bind the listener to 127.0.0.1 behind a tunnel");
}

void warn_without_moderators(const config::QaConfig& qa) {
  if (qa.moderator_tokens.empty() && qa.admin_tokens.empty())
    relay::log::get("app")->warn("no qa.moderator_tokens set: nobody can moderate the Q&A on /moderator");
}

// Live captions ([captions] languages): the cues, one WebVTT subtitle rendition
// per language following the first video rendition's segments and parts, and
// the captioners' API.
struct Captions {
  Captions(const config::Config& cfg, hls::Store& video_store, auth::Authority& authority)
      : cues(languages(cfg.captions), rules(cfg)),
        store(captions::subtitle_rendition_names(cues.languages())),
        packager(cues, store),
        captions_api(cues, authority, static_cast<size_t>(cfg.captions.max_chars), [] { return now_epoch_ms(); }),
        video(video_store) {
    // Rendition 0 is the reference; every rendition has the same segments and parts.
    subscription = video.subscribe([this](size_t rendition, uint64_t) {
      if (rendition != 0) return;
      if (auto reference = video.rendition(0)) packager.follow(*reference);
    });
  }
  ~Captions() { video.unsubscribe(subscription); }

  static std::vector<captions::Language> languages(const config::CaptionsConfig& config) {
    std::vector<captions::Language> out;
    for (const auto& l : config.languages) out.push_back({l.code, l.name});
    return out;
  }
  // Cues are kept as long as a segment that may show them: the DVR or live
  // window, the segments still servable after it, and the longest cue.
  static captions::CueRules rules(const config::Config& cfg) {
    captions::CueRules r;
    r.offset_s = cfg.captions.offset_s;
    const double seg = cfg.hls.segment_duration_s;
    r.keep_s = std::max({cfg.hls.dvr_window_s, cfg.hls.live_window * seg, 3 * std::ceil(seg)}) + 3 * seg + 30;
    return r;
  }
  std::vector<hls::SubtitleRendition> renditions() const {
    std::vector<hls::SubtitleRendition> out;
    for (size_t i = 0; i < cues.languages().size(); ++i)
      out.push_back({cues.languages()[i].code, cues.languages()[i].name, store.names()[i] + "/index.m3u8"});
    return out;
  }

  captions::CueStore cues;
  hls::Store store;
  captions::SubtitlePackager packager;
  api::CaptionsApi captions_api;
  hls::Store& video;
  uint64_t subscription = 0;
};

// The programme's API. Calendar UIDs are "<talk id>@<first talk's date>.seminar-relay",
// so that two events' "keynote" talks do not collide in one calendar.
std::unique_ptr<api::ProgrammeApi> make_programme_api(const config::ProgrammeConfig& config, qa::Service& questions,
                                                      WorkQueue& writes) {
  const std::string date = config.talks.empty()
                               ? std::string("programme")
                               : wall_time::format_ical_utc(config.talks.front().start.unix_seconds).substr(0, 8);
  if (!config.talks.empty())
    relay::log::get("app")->info("programme: {} talk(s); GET /api/programme, /programme.ics", config.talks.size());
  return std::make_unique<api::ProgrammeApi>(programme::Programme(config), questions, &writes,
                                             [] { return now_epoch_ms(); }, date + ".seminar-relay");
}

// Recordings on demand ([vod]), from recording.dir; null when off. A talk's
// answered questions come from the Q&A room titled as the talk (the one the
// programme made current when the talk started).
std::unique_ptr<api::VodApi> make_vod_api(const config::Config& cfg, const api::ProgrammeApi& programme,
                                          const qa::Service& questions) {
  if (!cfg.vod.enabled) return nullptr;
  auto talks = [&programme] {
    std::vector<api::VodTalk> out;
    for (const programme::Talk& t : programme.talks()) out.push_back({t.id, t.title, t.speakers, t.language});
    return out;
  };
  auto vod = std::make_unique<api::VodApi>(cfg.vod, cfg.recording.dir, talks, [] { return now_epoch_ms(); });
  vod->set_answered_questions([&questions](const api::VodTalk& talk,
                                           std::string_view format) -> std::optional<std::string> {
    const nlohmann::json listing = questions.rooms();  // kept: the loop reads into it
    for (const auto& room : listing.at("rooms")) {
      if (room.at("title") != talk.title) continue;
      const int64_t id = room.at("id").get<int64_t>();
      if (format == "csv") return questions.answered_questions_csv(id);
      return questions.answered_questions(id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return std::nullopt;
  });
  relay::log::get("app")->info("recordings on demand: /vod/ ({} access), from {}",
                               cfg.vod.access == config::VodAccess::public_access ? "public" : "event code",
                               cfg.recording.dir.string());
  return vod;
}

// The recorder watches the ladder and the subtitle renditions; it writes only
// once started (recording.enabled, or a technician on /tech).
std::unique_ptr<recording::Recorder> make_recorder(const config::Config& cfg, hls::Store& store, Captions* captions) {
  std::vector<hls::Store*> stores{&store};
  if (captions) stores.push_back(&captions->store);
  constexpr uint64_t kMB = 1'000'000;
  recording::RecorderOptions options{cfg.recording.dir, cfg.recording.event,
                                     static_cast<uint64_t>(cfg.recording.warn_free_mb) * kMB,
                                     static_cast<uint64_t>(cfg.recording.stop_free_mb) * kMB,
                                     cfg.recording.retention_days};
  return std::make_unique<recording::Recorder>(
      std::move(options), std::move(stores),
      [&store] {
        const Bytes master = store.master();
        return master ? *master : std::string();
      },
      [] { return now_epoch_ms(); });
}

// The recording's alerts, from the recorder's state: a low disk while it is
// on, and a stop it made by itself (a full disk, a failed write).
void add_recording_alerts(const recording::RecorderStatus& status, health::HealthSample& sample) {
  if (status.state == recording::RecorderState::off) return;
  if (status.disk_low && status.disk_free_bytes)
    sample.recording_disk_low = fmt::format("{} MB free on the recording disk", *status.disk_free_bytes / 1'000'000);
  if (status.state == recording::RecorderState::stopped &&
      (status.stop_reason == "disk_full" || status.stop_reason == "error"))
    sample.recording_stopped = fmt::format("recording stopped ({}): {}; the live stream goes on", status.stop_reason,
                                           status.last_error);
}

std::unique_ptr<Captions> make_captions(const config::Config& cfg, hls::Store& store, auth::Authority& authority) {
  if (cfg.captions.languages.empty()) return nullptr;
  return std::make_unique<Captions>(cfg, store, authority);
}

}  // namespace

// Declared in the order they are built; destroyed in reverse, so whatever a
// part refers to outlives it.
struct Relay::Parts {
  explicit Parts(const config::Config& config)
      : cfg(config),
        store(rendition_names(cfg)),
        master(variant_specs(cfg), store, content_steering(cfg.scale)),
        status(text::redact_secrets(cfg.ingest.source)),
        authority(cfg.qa),
        // The Q&A's database is opened before anything listens, so a bad
        // qa.data_dir stops the relay at once.
        questions(cfg.qa, [] { return now_epoch_ms(); }, &authority),
        packagers(push_packagers(cfg, store, master)),
        receiver(push_receiver(packagers)),
        push_api(authority, receiver.get(), store),
        qa_writes("qa-writes", kQaWriteQueue),
        monitor(cfg, now_epoch_ms()),
        static_files(delivery::StaticFiles::load(cfg.edge.web_dir, cfg.edge.node_modules_dir)),
        captions(make_captions(cfg, store, authority)),
        router(cfg, store, status, static_files, {}, &monitor),
        waiters(store),
        qa_api(questions, &qa_writes),
        health_api(cfg, store, status, stats, &monitor, qoe, authority),
        routes(cfg.edge, router, &qa_api, &health_api, api::Port::edge, &push_api,
               config::pathway_origins(cfg.scale)),
        server(cfg.edge, routes, waiters, stats, static_cast<size_t>(cfg.qa.ws_queue_limit)),
        operator_routes(cfg.edge, router, nullptr, &health_api, api::Port::operator_port),
        sampler(store, status, cfg.health.realtime_window_s, &qoe),
        ingest(cfg, store, master, status) {
    warn_without_moderators(cfg.qa);
    warn_unauthenticated_ingest(cfg.ingest);
    authority.set_push_tokens(cfg.ingest.push_tokens);
    if (receiver) slate = push_slate();
    if (captions) {
      master.set_subtitles(captions->renditions());
      router.set_subtitles(&captions->store);
      waiters.also_watch(captions->store);
      routes.set_captions(&captions->captions_api);
      relay::log::get("app")->info("live captions: {} subtitle rendition(s); POST /api/captions/<lang>, page /captioner",
                                   captions->store.rendition_count());
    }
    programme = make_programme_api(cfg.programme, questions, qa_writes);
    routes.set_programme(programme.get());
    vod = make_vod_api(cfg, *programme, questions);
    routes.set_vod(vod.get());
    set_up_recording();
    if (!cfg.health.listen.empty())
      operator_server = std::make_unique<net::Server>(operator_edge(cfg), operator_routes, no_holds, operator_stats);
    monitor.set_pending_questions([this] { return questions.pending_questions(); });
    // Alerts go to the incident log and, when configured, to a webhook; neither
    // blocks the timer that raises them.
    if (!cfg.health.webhook_url.empty()) {
      webhooks = std::make_unique<outbound::WebhookSender>(outbound::WebhookOptions{
          cfg.health.webhook_url, cfg.health.webhook_secret, cfg.health.allow_insecure_webhooks,
          cfg.health.webhook_retries, cfg.health.webhook_timeout_s});
      monitor.set_listener([this, source = status.snapshot().source](const health::AlertEvent& event,
                                                                     uint64_t incident) {
        webhooks->send(outbound::alert_payload(event, incident, source));
      });
    }
    // The hall uplink: pushes what the store publishes to the cloud relay.
    if (!cfg.uplink.url.empty()) {
      uplink = std::make_unique<outbound::UplinkSender>(
          outbound::UplinkOptions{cfg.uplink.url, cfg.uplink.token, cfg.uplink.timeout_s, cfg.uplink.backlog_s,
                                  static_cast<size_t>(cfg.uplink.backlog_mb) * 1024 * 1024},
          store);
      auto status = [this] { return uplink->status(); };
      router.set_uplink_status(status);
      health_api.set_uplink_status(status);
    }
    auto qa_status = [this] {
      const qa::Store::Health health = questions.database_health();
      return health::QaDatabaseStatus{std::string(questions.database_engine()), health.ok, health.problem,
                                      health.since_ms};
    };
    router.set_qa_status(qa_status);
    health_api.set_qa_status(qa_status);
    // Vote counts go out in bundles (qa.vote_interval_ms).
    timers.every(std::chrono::milliseconds(cfg.qa.vote_interval_ms), [this] { questions.flush_votes(); });
    // What is older than qa.retention_days goes once a day (and at start, when
    // the Q&A opens its database), on the Q&A's write thread like every write.
    if (cfg.qa.retention_days > 0)
      timers.every(kRetentionInterval, [this] { qa_writes.post([this] { questions.purge_expired(); }); });
    // Samples for the alert rules; each fourth also goes into the dashboard's history.
    timers.every(kHealthSampleInterval, [this] {
      if (receiver) update_uplink(now_epoch_ms());
      health::HealthSample sample = sampler.sample(now_epoch_ms());
      add_recording_alerts(recorder->status(), sample);
      monitor.observe(sample);
      if (++health_ticks % 4 == 0) health_api.record_history();
    });
    // The recording's disk is measured before each segment; while idle, here, for /tech and /metrics.
    timers.every(std::chrono::seconds(5), [this] {
      if (recorder->status().state != recording::RecorderState::recording) recorder->refresh_disk();
    });
    // Recorded events older than recording.retention_days go once a day (and at start).
    timers.every(kRetentionInterval, [this] { recorder->purge_expired(); });
    // Player reports that went quiet are forgotten here, not in the request that reports.
    timers.every(std::chrono::seconds(1), [this] { qoe.expire(now_epoch_ms()); });
  }

  // The recorder, its API, its figures, and the programme's marks in its
  // journal. With recording.enabled the event is opened now: the marks it
  // holds (a restart during the event) go back into the programme.
  void set_up_recording() {
    recorder = make_recorder(cfg, store, captions.get());
    recording_api = std::make_unique<api::RecordingApi>(*recorder, authority);
    routes.set_recording(recording_api.get());
    health_api.set_recording_status([this] {
      const recording::RecorderStatus s = recorder->status();
      return health::RecordingStatus{s.state == recording::RecorderState::recording, s.bytes, s.segments, s.dropped,
                                     s.disk_free_bytes, s.oldest_event_epoch_ms};
    });
    programme->set_mark_listener([this](const std::string& talk, std::optional<int64_t> start,
                                        std::optional<int64_t> end) { recorder->talk_mark(talk, start, end); });
    if (!cfg.recording.enabled) return;
    const auto index = recorder->open_event();
    if (!index) return;
    resumed_recording = !index->runs.empty() || !index->stops.empty();
    size_t restored = 0;
    for (const recording::TalkMark& mark : index->talks) {
      const auto seconds = [](std::optional<int64_t> ms) -> std::optional<int64_t> {
        if (!ms) return std::nullopt;
        return *ms / 1000;
      };
      if (programme->restore_mark(mark.talk, seconds(mark.start_epoch_ms), seconds(mark.end_epoch_ms))) ++restored;
    }
    if (restored > 0)
      relay::log::get("app")->info("programme: {} talk mark(s) restored from the recording's journal", restored);
  }
  bool resumed_recording = false;

  // What a pusher's objects and playlists say, for health: the ingest state
  // follows the uplink, so the alert rules treat a lost uplink as a lost input.
  void update_uplink(int64_t now) {
    const auto totals = receiver->totals();
    health::UplinkInfo uplink;
    uplink.bytes_received = totals.bytes;
    uplink.media_bytes = totals.media_bytes;
    uplink.objects_accepted = totals.objects_accepted;
    uplink.objects_rejected = totals.objects_rejected;
    uplink.gaps = totals.gaps;
    if (totals.newest_pdt_epoch_ms != 0) uplink.lag_s = (now - totals.newest_pdt_epoch_ms) / 1000.0;
    health::InputInfo input;
    input.role = "primary";
    input.uri = "push:";
    if (totals.last_object_epoch_ms != 0) {
      uplink.last_object_age_s = (now - totals.last_object_epoch_ms) / 1000.0;
      uplink.state = uplink.last_object_age_s > uplink_timeout_s(cfg) ? "lost" : "receiving";
      input.last_frame_age_ms = now - totals.last_object_epoch_ms;
    }
    input.state = uplink.state;
    const bool receiving = uplink.state == "receiving";
    if (uplink.state != "waiting") {
      if (receiving != (status.snapshot().state == health::IngestState::live)) {
        if (!receiving) status.record_loss();
        status.set_state(receiving ? health::IngestState::live : health::IngestState::lost);
        status.set_output(receiving ? "primary" : "slate");
        if (receiving)
          relay::log::get("push")->info("uplink: receiving the pushed ladder");
        else
          relay::log::get("push")->warn("uplink lost: nothing pushed for {:.1f} s; holding the last picture",
                                        uplink.last_object_age_s);
      }
    }
    show_slate(uplink, now);
    status.set_inputs({std::move(input)});
    status.set_uplink(std::move(uplink));
    if (cfg.hls.low_latency && totals.playlists_without_parts > 0 && !warned_whole_segments) {
      warned_whole_segments = true;
      relay::log::get("push")->warn(
          "the pusher sends whole segments without LL-HLS parts (as ffmpeg does): with hls.low_latency = true "
          "the relay's parts are then as long as its segments; set hls.low_latency = false for this pusher");
    }
  }
  bool warned_whole_segments = false;  // on the timer thread only

  // The receiver's own slate, as for a lost camera: the last picture is held
  // for ingest.slate_after_s after the uplink counts as lost, then the slate
  // goes into every rendition until the pusher's next playlist.
  std::unique_ptr<ingest::SlateFeed> push_slate() {
    std::vector<ingest::RenditionSink::Output> outputs;
    for (size_t i = 0; i < packagers.size(); ++i)
      outputs.push_back([this, i](std::string_view bytes) { receiver->slate_media(i, bytes); });
    return std::make_unique<ingest::SlateFeed>(cfg, std::move(outputs), status);
  }

  void show_slate(const health::UplinkInfo& uplink, int64_t now) {
    const bool lost_long =
        uplink.state == "lost" && uplink.last_object_age_s > uplink_timeout_s(cfg) + cfg.ingest.slate_after_s;
    if (lost_long && !slate_shown) {
      slate_shown = true;
      receiver->begin_slate(now);
      slate->show(true);
      status.set_state(health::IngestState::slate);
      status.set_output("slate");
      relay::log::get("push")->warn("uplink lost for {:.1f} s: showing the slate", uplink.last_object_age_s);
    } else if (uplink.state == "receiving" && slate_shown) {
      slate_shown = false;
      slate->show(false);
      relay::log::get("push")->info("uplink back: the pushed picture returns at its next whole segment");
    }
  }
  bool slate_shown = false;  // on the timer thread only

  config::Config cfg;
  hls::Store store;
  hls::MasterPlaylist master;
  health::IngestStatus status;
  auth::Authority authority;
  qa::Service questions;
  std::vector<std::unique_ptr<hls::Packager>> packagers;  // a push receiver's
  std::unique_ptr<hls::PushReceiver> receiver;             // null unless ingest.source = "push:"
  api::PushApi push_api;
  std::unique_ptr<ingest::SlateFeed> slate;  // a push receiver's; feeds `receiver`
  WorkQueue qa_writes;
  health::Monitor monitor;
  std::unique_ptr<outbound::WebhookSender> webhooks;
  health::QoeAggregator qoe;
  net::StatsCounters stats;
  delivery::StaticFiles static_files;
  std::unique_ptr<Captions> captions;  // null without [captions] languages
  std::unique_ptr<api::ProgrammeApi> programme;  // [[programme.talks]]; empty without them
  std::unique_ptr<api::VodApi> vod;              // [vod] enabled; null otherwise
  std::unique_ptr<recording::Recorder> recorder;   // always there; writes once started
  std::unique_ptr<api::RecordingApi> recording_api;
  delivery::Router router;
  delivery::PublishWaiters waiters;
  api::QaApi qa_api;
  api::HealthApi health_api;
  api::RouteTable routes;
  net::Server server;
  // The operator's private port (health.listen), when configured; its requests
  // are not the edge's, so they count apart.
  api::RouteTable operator_routes;
  NoHolds no_holds;
  net::StatsCounters operator_stats;
  std::unique_ptr<net::Server> operator_server;
  api::HealthSampler sampler;
  // Before the ingest: destroyed after it, so no publish reaches a stopped uplink.
  std::unique_ptr<outbound::UplinkSender> uplink;
  uint64_t health_ticks = 0;  // on the timer thread only
  Periodic timers;
  ingest::Ingest ingest;
};

Relay::Relay(const config::Config& cfg) : parts_(std::make_unique<Parts>(cfg)) {}

Relay::~Relay() { stop(); }

void Relay::start() {
  Parts& p = *parts_;
  p.server.start();
  // The plain port's redirects name the port HTTPS was bound to (tls_listen may say 0).
  p.routes.set_tls_port(p.server.tls_port());
  try {
    if (p.operator_server) {
      p.operator_server->start();
      relay::log::get("app")->info("operator port (health.listen) on {} (port {}): technician surfaces without a token",
                                   p.cfg.health.listen, p.operator_server->port());
    }
    if (p.receiver) {
      p.status.set_state(health::IngestState::waiting);
      p.slate->start();
      relay::log::get("app")->info("push receiver: the ladder ({} renditions) is taken by PUT on /ingest/<rendition>/",
                                   p.packagers.size());
    } else {
      p.ingest.start();
    }
  } catch (const std::exception&) {
    if (p.operator_server) p.operator_server->stop();
    p.server.stop();
    throw;
  }
  p.timers.start();
  if (p.cfg.recording.enabled) p.recorder->start(p.resumed_recording ? "restart" : "config");
  p.recorder->purge_expired();
}

void Relay::reload(const config::Config& loaded) {
  Parts& p = *parts_;
  auto logger = relay::log::get("app");
  const auto restart = config::keys_needing_restart(p.cfg, loaded);
  for (const auto& key : restart) logger->warn("reload: {} changed; it needs a restart to take effect", key);
  // A new preference among the same cache paths reaches players with their next steering reload.
  if (std::find(restart.begin(), restart.end(), "scale.pathways") == restart.end())
    p.router.reload_steering(loaded.scale);
  p.server.reload(loaded.edge);
  if (p.operator_server) p.operator_server->reload(operator_edge(loaded));
  p.authority.reload(loaded.qa);
  p.authority.set_push_tokens(loaded.ingest.push_tokens);
  p.monitor.reconfigure(loaded.health);
  p.recorder->reconfigure(static_cast<uint64_t>(loaded.recording.warn_free_mb) * 1'000'000,
                          static_cast<uint64_t>(loaded.recording.stop_free_mb) * 1'000'000,
                          loaded.recording.retention_days);
  relay::log::set_level(loaded.log.level);
  warn_without_moderators(loaded.qa);
}

void Relay::stop() {
  if (!parts_) return;
  Parts& p = *parts_;
  if (p.operator_server) p.operator_server->stop();
  p.server.drain();
  p.server.stop();
  // Writes already accepted are committed; their answers go nowhere now.
  p.qa_writes.stop();
  p.timers.stop();
  if (p.slate) p.slate->stop();
  p.ingest.stop();
  // After the ingest: the last segments it published are written, then a stop line.
  p.recorder->shutdown();
}

uint16_t Relay::port() const { return parts_->server.port(); }
uint16_t Relay::tls_port() const { return parts_->server.tls_port(); }
uint16_t Relay::operator_port() const { return parts_->operator_server ? parts_->operator_server->port() : 0; }

}  // namespace relay::app
