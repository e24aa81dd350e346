#pragma once
// Maps one request to one response, or to a hold when the response has to wait
// for media that is about to be published. No sockets and no I/O: everything it
// needs is read from the store, the ingest status and the preloaded static files,
// so it is unit-tested directly and runs on any worker thread at once.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include "config/config.hpp"
#include "edge/bytes_body.hpp"
#include "edge/playlist_cache.hpp"
#include "edge/router_options.hpp"
#include "edge/static_files.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "hls/store.hpp"

namespace relay::edge {

using RequestHeader = boost::beast::http::request_header<>;
using Response = boost::beast::http::response<BytesBody>;

inline constexpr std::string_view kServerName = "seminar-relay";
inline constexpr std::string_view kAllowedMethods = "GET, HEAD, OPTIONS";

// A small text/plain error with Cache-Control: no-store, for the router and for
// errors the session detects before there is a request to route (400, 413, 431).
Response make_error_response(boost::beast::http::status status, std::string_view message);
// The same for JSON (the Q&A API): the body as given, Cache-Control: no-store.
Response make_json_response(boost::beast::http::status status, std::string body);

// A request that cannot be answered yet: a blocking playlist reload (rfc8216bis
// 6.2.5.2) or the hinted part asked for before it exists. The session waits for
// publishes of `rendition`, asks the router again after each, and after `timeout`
// answers with Router::expire().
struct Hold {
  enum class Kind { playlist, part };
  Kind kind = Kind::playlist;
  size_t rendition = 0;
  std::chrono::milliseconds timeout{0};
  int target_duration_s = 0;
};

// What the router makes of a request: a response, or a hold. Implicit from
// either, so each route simply returns what it has.
struct Routed {
  Routed(Response r) : response(std::move(r)) {}
  Routed(Hold h) : hold(h) {}
  std::optional<Response> response;
  Hold hold;  // meaningful only without a response
};

class Router {
 public:
  Router(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
         const StaticFiles& files, RouterOptions options = {}, const health::Monitor* monitor = nullptr);

  // Asked again, with the same request, after each publish while the request is held.
  Routed handle(const RequestHeader& req) const;
  // The answer to a held request whose time ran out.
  Response expire(const RequestHeader& req, const Hold& hold) const;

 private:
  // What serve() needs to answer; the views live at least as long as the call.
  struct Resource {
    hls::Bytes data;
    std::string_view content_type;
    std::string_view etag;
    std::string_view cache_control;
    bool ranges = false;  // media and static files honour Range; playlists change, so they do not
  };

  Routed dispatch(const RequestHeader& req) const;
  Routed route_get(const RequestHeader& req, std::string_view path, std::string_view query) const;
  Response serve_static(const RequestHeader& req, const StaticFile* file) const;
  Response serve_master(const RequestHeader& req) const;
  Routed serve_rendition(const RequestHeader& req, std::string_view name, std::string_view file,
                         std::string_view query) const;
  Routed serve_media_playlist(const RequestHeader& req, size_t index, const hls::RenditionSnapshot& snapshot,
                              std::string_view query) const;
  Routed serve_part(const RequestHeader& req, size_t index, const hls::RenditionSnapshot& snapshot, uint64_t msn,
                    size_t part_index) const;
  Response serve_playlist_text(const RequestHeader& req, const ServedPlaylist& playlist,
                               std::string_view cache_control) const;
  Response serve_health(const RequestHeader& req) const;
  Response serve(const RequestHeader& req, const Resource& resource) const;
  Response preflight() const;
  Response finish(const RequestHeader& req, Response res) const;
  void apply_cors(const RequestHeader& req, Response& res) const;
  int target_duration(const hls::RenditionSnapshot& snapshot) const;
  Hold make_hold(Hold::Kind kind, size_t index, int target_duration_s) const;

  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  const health::Monitor* monitor_;  // alerts for /api/health, viewers seen in media requests; may be null
  const StaticFiles& files_;
  config::HlsConfig hls_;
  std::vector<std::string> cors_origins_;
  bool cors_any_origin_ = false;
  std::string playlist_cache_control_;
  RouterOptions options_;
  mutable PlaylistCache playlists_;
  // Playlist versions restart at 0 with the process; mixing this into playlist
  // ETags keeps a cache from answering 304 with a playlist of the previous run.
  std::string boot_id_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace relay::edge
