#pragma once
// Maps one request to one response, or to a hold when the response has to wait
// for media that is about to be published. No sockets and no I/O: everything it
// needs is read from the store, the ingest status and the preloaded static files,
// so it is unit-tested directly and runs on any worker thread at once.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "delivery/playlist_cache.hpp"
#include "delivery/router_options.hpp"
#include "delivery/static_files.hpp"
#include "delivery/steering_manifest.hpp"
#include "health/ingest_status.hpp"
#include "health/qa_status.hpp"
#include "health/uplink_status.hpp"
#include "health/monitor.hpp"
#include "hls/store.hpp"
#include "net/handler.hpp"

namespace relay::delivery {

using net::make_error_response;
using net::make_json_response;
using net::RequestHeader;
using net::Response;

inline constexpr std::string_view kAllowedMethods = "GET, HEAD, OPTIONS";
// The player's playback session id (AVPlayer sends it; the attendee page adds it
// to hls.js's requests): who counts as a viewer of which rendition.
inline constexpr std::string_view kPlaybackSessionHeader = "X-Playback-Session-Id";

// The live media, the pages and /api/health: maps a request to a response, or
// to a hold when the response has to wait for media that is about to be
// published (a blocking playlist reload, rfc8216bis 6.2.5.2, or the hinted part
// asked for before it exists; Hold::channel is the rendition). No sockets and
// no I/O: everything it needs is read from the store, the ingest status and the
// preloaded static files, so it is unit-tested directly and runs on any worker
// thread at once.
class Router {
 public:
  // What a held request waits for: kept in the Hold's note (the low two bits,
  // the target duration above them) for expire().
  enum class HoldKind : uint32_t { playlist = 0, part = 1, master = 2 };

  Router(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
         const StaticFiles& files, RouterOptions options = {}, const health::Monitor* monitor = nullptr);

  // SIGHUP: the steering manifest's new order or TTL of the same pathways.
  void reload_steering(const config::ScaleConfig& scale) { steering_.reload(scale); }

  // Asked again, with the same request, after each publish while the request is held.
  net::Outcome handle(const net::Exchange& exchange) const;
  // The answer to a held request whose time ran out.
  Response expire(const net::Exchange& exchange, const net::Hold& hold) const;
  // /api/health: the whole report with `detail`, else the public one (status and
  // codes). handle() answers the public one; the route table decides who sees more.
  Response serve_health(const RequestHeader& req, bool detail) const;
  // Where /api/health reads the hall uplink's state; unset: no uplink ("off").
  // Set before the server starts.
  void set_uplink_status(std::function<health::UplinkStatus()> source) { uplink_status_ = std::move(source); }
  // Live captions: the WebVTT subtitle renditions, served beside the video's
  // (/live/<name>/…) with the same blocking reload; their holds wait on channels
  // after the video's (subtitle_channel). Set before the server starts.
  void set_subtitles(const hls::Store* subtitles);
  size_t subtitle_channel(size_t index) const { return store_.rendition_count() + index; }
  // Where /api/health reads the Q&A database's connection; unset: not shown.
  void set_qa_status(std::function<health::QaDatabaseStatus()> source) { qa_status_ = std::move(source); }

  // What serve() needs to answer; the views live at least as long as the call.
  struct Resource {
    Bytes data;
    std::string_view content_type;
    std::string_view etag;
    std::string_view cache_control;
    bool ranges = false;  // media and static files honour Range; playlists change, so they do not
    int64_t modified_epoch_ms = 0;  // Last-Modified; 0: none
    bool changes_in_place = false;  // a playlist: its URL names new content several times a second
  };
  // A resource answered with its validators: 304 on If-None-Match / If-Modified-Since, 206 for one
  // byte range when `ranges`. Shared with the VOD routes, which serve recorded files the same way.
  static Response serve(const RequestHeader& req, const Resource& resource);

 private:
  net::Outcome dispatch(const net::Exchange& exchange) const;
  net::Outcome route_get(const RequestHeader& req, std::string_view path, std::string_view query) const;
  Response serve_static(const RequestHeader& req, const StaticFile* file) const;
  net::Outcome serve_master(const RequestHeader& req) const;
  Response serve_steering(const RequestHeader& req) const;
  net::Outcome serve_rendition(const RequestHeader& req, std::string_view name, std::string_view file,
                               std::string_view query) const;
  // A rendition of the video store or of the subtitles store: where it is, and
  // the hold channel and playlist cache slots it uses.
  struct Source {
    const hls::Store& store;
    size_t index;
    size_t channel;
    PlaylistCache& cache;
  };
  net::Outcome serve_media_playlist(const RequestHeader& req, const Source& source,
                                    const hls::RenditionSnapshot& snapshot, std::string_view query) const;
  net::Outcome serve_part(const RequestHeader& req, const Source& source, const hls::RenditionSnapshot& snapshot,
                          uint64_t msn, size_t part_index, std::string_view content_type) const;
  Response serve_playlist_text(const RequestHeader& req, const ServedPlaylist& playlist,
                               std::string_view cache_control, int64_t modified_epoch_ms) const;
  Response preflight() const;
  int target_duration(const hls::RenditionSnapshot& snapshot) const;
  int configured_target_duration() const;
  net::Hold make_hold(HoldKind kind, size_t index, int target_duration_s) const;

  std::function<health::UplinkStatus()> uplink_status_;
  std::function<health::QaDatabaseStatus()> qa_status_;
  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  bool unauthenticated_ingest_;     // SRT senders without a passphrase allowed (a health reason)
  const health::Monitor* monitor_;  // alerts for /api/health, viewers seen in media requests; may be null
  const StaticFiles& files_;
  config::HlsConfig hls_;
  std::string playlist_cache_control_;
  RouterOptions options_;
  SteeringManifest steering_;  // [scale] pathways; without them /live/steering.json is 404
  mutable PlaylistCache playlists_;
  const hls::Store* subtitles_ = nullptr;
  std::unique_ptr<PlaylistCache> subtitle_playlists_;  // two slots per subtitle rendition
  std::chrono::steady_clock::time_point started_;
};

}  // namespace relay::delivery
