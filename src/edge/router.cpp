#include "edge/router.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <random>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "edge/byte_range.hpp"
#include "edge/etag.hpp"
#include "edge/health_report.hpp"
#include "edge/request_target.hpp"

namespace relay::edge {
namespace http = boost::beast::http;
namespace {

constexpr std::string_view kPlaylistType = "application/vnd.apple.mpegurl";
constexpr std::string_view kMediaType = "video/mp4";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kSegmentCacheControl = "public, max-age=31536000, immutable";
constexpr std::string_view kInitCacheControl = "public, max-age=60";
constexpr std::string_view kStaticCacheControl = "public, max-age=300";

// IMF-fixdate (RFC 9110 §5.6.7), written by hand because strftime follows the locale.
std::string http_date(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void set_common_headers(Response& res) {
  res.set(http::field::server, kServerName);
  res.set(http::field::date, http_date(std::time(nullptr)));
  res.set("X-Content-Type-Options", "nosniff");
}

std::string random_boot_id() {
  std::random_device rd;
  uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{:016x}", v);
}

// "seg42.m4s" -> 42. Leading zeros are refused so each segment has exactly one URL
// (and one cache entry).
std::optional<uint64_t> parse_segment_name(std::string_view file) {
  constexpr std::string_view prefix = "seg", suffix = ".m4s";
  if (file.size() <= prefix.size() + suffix.size() || file.substr(0, prefix.size()) != prefix ||
      file.substr(file.size() - suffix.size()) != suffix)
    return std::nullopt;
  std::string_view digits = file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  uint64_t msn = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), msn);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return msn;
}

// message::keep_alive() without needing a whole message: the HTTP/1.0 and 1.1 defaults.
bool wants_keep_alive(const RequestHeader& req) {
  auto connection = req[http::field::connection];
  if (req.version() < 11) return http::token_list(connection).exists("keep-alive");
  return !http::token_list(connection).exists("close");
}

Response not_ready(std::string_view what) {
  Response res = make_error_response(http::status::service_unavailable, fmt::format("{} is not available yet", what));
  res.set(http::field::retry_after, "1");
  return res;
}

Response not_found() { return make_error_response(http::status::not_found, "not found"); }

}  // namespace

Response make_error_response(http::status status, std::string_view message) {
  Response res{status, 11};
  set_common_headers(res);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  std::string text(message);
  text += '\n';
  res.body() = BytesBody::value_type(hls::make_bytes(std::move(text)));
  res.content_length(res.body().size());
  return res;
}

Router::Router(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
               const StaticFiles& files)
    : store_(store),
      ingest_(ingest),
      files_(files),
      hls_(cfg.hls),
      cors_origins_(cfg.edge.cors_origins),
      cors_any_origin_(std::find(cors_origins_.begin(), cors_origins_.end(), "*") != cors_origins_.end()),
      // Half a segment: a cache may then serve a playlist at most one refresh behind
      // (RFC 8216bis Appendix B: target duration / 2 for non-blocking reloads).
      playlist_cache_control_(fmt::format(
          "public, max-age={}", std::max<int64_t>(1, static_cast<int64_t>(std::floor(cfg.hls.segment_duration_s / 2))))),
      boot_id_(random_boot_id()),
      started_(std::chrono::steady_clock::now()) {}

Response Router::handle(const RequestHeader& req) const {
  Response res;
  try {
    res = dispatch(req);
  } catch (const std::exception& e) {
    relay::log::get("edge")->error("{} {}: {}", req.method_string(), req.target(), e.what());
    res = make_error_response(http::status::internal_server_error, "internal error");
  }
  set_common_headers(res);
  res.version(req.version());
  res.keep_alive(wants_keep_alive(req));
  apply_cors(req, res);
  if (req.method() == http::verb::head) {
    // Content-Length stays that of the GET response, as HEAD requires; only the bytes go.
    res.body() = BytesBody::value_type();
  }
  return res;
}

Response Router::dispatch(const RequestHeader& req) const {
  RequestTarget target = parse_request_target(req.target());
  if (!target.ok()) return make_error_response(http::status::bad_request, target.error);

  switch (req.method()) {
    case http::verb::get:
    case http::verb::head:
      return route_get(req, target.path);
    case http::verb::options:
      return preflight();
    default: {
      Response res = make_error_response(http::status::method_not_allowed, "method not allowed");
      res.set(http::field::allow, kAllowedMethods);
      return res;
    }
  }
}

Response Router::route_get(const RequestHeader& req, std::string_view path) const {
  constexpr std::string_view static_prefix = "/static/", live_prefix = "/live/";
  if (path == "/") return serve_static(req, files_.index());
  if (path.substr(0, static_prefix.size()) == static_prefix)
    return serve_static(req, files_.find(path.substr(static_prefix.size())));
  if (path == "/vendor/hls.min.js") return serve_static(req, files_.hls_js());
  if (path == "/api/health") return serve_health(req);
  if (path == "/live/master.m3u8") return serve_master(req);
  if (path.substr(0, live_prefix.size()) == live_prefix) {
    std::string_view rest = path.substr(live_prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return not_found();
    std::string_view file = rest.substr(slash + 1);
    if (file.find('/') != std::string_view::npos) return not_found();
    return serve_rendition(req, rest.substr(0, slash), file);
  }
  return not_found();
}

Response Router::serve_static(const RequestHeader& req, const StaticFile* file) const {
  if (!file) return not_found();
  return serve(req, {file->data, file->content_type, file->etag, kStaticCacheControl, true});
}

Response Router::serve_master(const RequestHeader& req) const {
  hls::Bytes master = store_.master();
  if (!master || master->empty()) return not_ready("the master playlist");
  // The master playlist has no version; its content is small and identifies it.
  std::string etag = make_etag(fmt::format("m-{:016x}", content_hash(*master)));
  return serve(req, {std::move(master), kPlaylistType, std::move(etag), playlist_cache_control_, false});
}

Response Router::serve_rendition(const RequestHeader& req, std::string_view name, std::string_view file) const {
  auto index = store_.find(name);
  if (!index) return not_found();
  // One snapshot per request: playlist, init and segment then all come from the same publish.
  auto snapshot = store_.rendition(*index);
  if (!snapshot) return not_found();

  if (file == "index.m3u8") {
    if (!snapshot->playlist) return not_ready("the playlist");
    std::string etag = make_etag(fmt::format("p-{}-{}-{}", boot_id_, name, snapshot->version));
    return serve(req, {snapshot->playlist, kPlaylistType, std::move(etag), playlist_cache_control_, false});
  }
  if (file == "init.mp4") {
    if (!snapshot->init) return not_ready("the init section");
    // An encoder restart may produce a different init section under the same URL.
    std::string etag = make_etag(fmt::format("i-{}-{:016x}", name, content_hash(*snapshot->init)));
    return serve(req, {snapshot->init, kMediaType, std::move(etag), kInitCacheControl, true});
  }
  if (auto msn = parse_segment_name(file)) {
    auto it = snapshot->segments.find(*msn);
    if (it == snapshot->segments.end() || !it->second || !it->second->data) return not_found();
    const hls::Segment& segment = *it->second;
    // msn alone repeats after a restart; the capture time and size make the tag unique.
    std::string etag =
        make_etag(fmt::format("s-{}-{}-{}-{}", name, segment.msn, segment.data->size(), segment.pdt_epoch_ms));
    return serve(req, {segment.data, kMediaType, std::move(etag), kSegmentCacheControl, true});
  }
  return not_found();
}

Response Router::serve_health(const RequestHeader& req) const {
  double uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  auto report = make_health_report(store_, ingest_.snapshot(), hls_, now_epoch_ms(), std::round(uptime_s * 1000) / 1000);
  // GStreamer error texts are not guaranteed to be UTF-8; dump() would throw on them.
  std::string body = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string etag = make_etag(fmt::format("h-{:016x}", content_hash(body)));
  return serve(req, {hls::make_bytes(std::move(body)), kJsonType, std::move(etag), "no-store", false});
}

Response Router::serve(const RequestHeader& req, const Resource& resource) const {
  Response res{http::status::ok, 11};
  res.set(http::field::cache_control, resource.cache_control);
  res.set(http::field::etag, resource.etag);
  if (resource.ranges) res.set(http::field::accept_ranges, "bytes");

  if (auto inm = req[http::field::if_none_match]; !inm.empty() && if_none_match_matches(inm, resource.etag)) {
    res.result(http::status::not_modified);
    return res;
  }

  const uint64_t size = resource.data->size();
  if (auto range_header = req[http::field::range]; resource.ranges && !range_header.empty()) {
    // If-Range names the representation the client already holds part of; for any
    // other one the range would splice two different files, so send it whole.
    auto if_range = req[http::field::if_range];
    if (if_range.empty() || if_range == resource.etag) {
      RangeRequest range = parse_byte_range(range_header, size);
      if (range.kind == RangeRequest::unsatisfiable) {
        Response error = make_error_response(http::status::range_not_satisfiable, "range not satisfiable");
        error.set(http::field::content_range, fmt::format("bytes */{}", size));
        error.set(http::field::accept_ranges, "bytes");
        return error;
      }
      if (range.kind == RangeRequest::satisfiable) {
        res.result(http::status::partial_content);
        res.set(http::field::content_range, fmt::format("bytes {}-{}/{}", range.range.first, range.range.last, size));
        res.set(http::field::content_type, resource.content_type);
        res.body() = BytesBody::value_type(resource.data, range.range.first, range.range.length());
        res.content_length(res.body().size());
        return res;
      }
    }
  }

  res.set(http::field::content_type, resource.content_type);
  res.body() = BytesBody::value_type(resource.data);
  res.content_length(res.body().size());
  return res;
}

Response Router::preflight() const {
  Response res{http::status::no_content, 11};
  res.set(http::field::allow, kAllowedMethods);
  res.set(http::field::access_control_allow_methods, kAllowedMethods);
  res.set(http::field::access_control_allow_headers, "Range");
  res.set(http::field::access_control_max_age, "600");
  return res;
}

void Router::apply_cors(const RequestHeader& req, Response& res) const {
  // With a list of origins the answer depends on Origin, so a shared cache must key
  // on it even for requests without one, or it would hand one site's answer to another.
  if (!cors_any_origin_ && !cors_origins_.empty()) res.set(http::field::vary, "Origin");
  auto origin = req[http::field::origin];
  if (origin.empty()) return;
  if (cors_any_origin_) {
    res.set(http::field::access_control_allow_origin, "*");
  } else if (std::find(cors_origins_.begin(), cors_origins_.end(), origin) != cors_origins_.end()) {
    res.set(http::field::access_control_allow_origin, origin);
  }
}

}  // namespace relay::edge
