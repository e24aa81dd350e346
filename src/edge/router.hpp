#pragma once
// Maps one request to one response. No sockets and no I/O: everything it needs is
// read from the store, the ingest status and the preloaded static files, so it
// is unit-tested directly and runs on any worker thread at once.
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>

#include "config/config.hpp"
#include "edge/bytes_body.hpp"
#include "edge/static_files.hpp"
#include "health/ingest_status.hpp"
#include "hls/store.hpp"

namespace relay::edge {

using RequestHeader = boost::beast::http::request_header<>;
using Response = boost::beast::http::response<BytesBody>;

inline constexpr std::string_view kServerName = "seminar-relay";
inline constexpr std::string_view kAllowedMethods = "GET, HEAD, OPTIONS";

// A small text/plain error with Cache-Control: no-store, for the router and for
// errors the session detects before there is a request to route (400, 413, 431).
Response make_error_response(boost::beast::http::status status, std::string_view message);

class Router {
 public:
  Router(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
         const StaticFiles& files);

  Response handle(const RequestHeader& req) const;

 private:
  struct Resource {
    hls::Bytes data;
    std::string_view content_type;
    std::string etag;
    std::string_view cache_control;
    bool ranges = false;  // media and static files honour Range; playlists change, so they do not
  };

  Response dispatch(const RequestHeader& req) const;
  Response route_get(const RequestHeader& req, std::string_view path) const;
  Response serve_static(const RequestHeader& req, const StaticFile* file) const;
  Response serve_master(const RequestHeader& req) const;
  Response serve_rendition(const RequestHeader& req, std::string_view name, std::string_view file) const;
  Response serve_health(const RequestHeader& req) const;
  Response serve(const RequestHeader& req, const Resource& resource) const;
  Response preflight() const;
  void apply_cors(const RequestHeader& req, Response& res) const;

  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  const StaticFiles& files_;
  config::HlsConfig hls_;
  std::vector<std::string> cors_origins_;
  bool cors_any_origin_ = false;
  std::string playlist_cache_control_;
  // Playlist versions restart at 0 with the process; mixing this into playlist
  // ETags keeps a cache from answering 304 with a playlist of the previous run.
  std::string boot_id_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace relay::edge
