#include "delivery/router.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "net/byte_range.hpp"
#include "delivery/delivery_directives.hpp"
#include "net/etag.hpp"
#include "net/gzip.hpp"
#include "config/source_uri.hpp"
#include "delivery/health_report.hpp"
#include "net/request_target.hpp"
#include "hls/blocking.hpp"
#include "hls/object_names.hpp"

namespace relay::delivery {
namespace http = boost::beast::http;
namespace {

constexpr std::string_view kPlaylistType = "application/vnd.apple.mpegurl";
constexpr std::string_view kMediaType = "video/mp4";
constexpr std::string_view kTransportStreamType = "video/mp2t";
constexpr std::string_view kWebVttType = "text/vtt; charset=utf-8";
constexpr std::string_view kJsonType = "application/json";
// Every media object has a name used once (hls/object_names.hpp), so a cache may keep it for good.
constexpr std::string_view kMediaCacheControl = "public, max-age=31536000, immutable";
constexpr std::string_view kStaticCacheControl = "public, max-age=300";
// Answers that change within a second or two (not yet made, not there yet): a
// cache may absorb a burst of identical requests, no more.
constexpr std::string_view kShortErrorCacheControl = "public, max-age=1";

// An entity tag formatted on the stack: media requests make one each, and a
// response copies it into its header anyway.
class EtagText {
 public:
  template <typename... Args>
  explicit EtagText(fmt::format_string<Args...> format, Args&&... args) {
    buffer_.push_back('"');
    fmt::format_to(std::back_inserter(buffer_), format, std::forward<Args>(args)...);
    buffer_.push_back('"');
  }
  std::string_view view() const { return {buffer_.data(), buffer_.size()}; }

 private:
  fmt::basic_memory_buffer<char, 128> buffer_;
};

// The parts a player may ask for before they exist (rfc8216bis 6.2.6: a hinted
// resource must be requestable as soon as it is hinted): the one the PRELOAD-HINT
// names, and whichever of "the next part of the open segment" and "part 0 of the
// next segment" it does not, as the packager only guesses where a segment ends.
bool is_next_part(const hls::RenditionSnapshot& s, uint64_t msn, size_t index) {
  if (msn <= s.last_msn) return false;  // a complete segment gains no parts
  if (s.hint_msn != 0 && msn == s.hint_msn && index == s.hint_index) return true;
  uint64_t open = s.open_msn != 0 ? s.open_msn : s.last_msn + 1;
  size_t have = s.open_msn != 0 ? s.open_parts.size() : 0;
  return (msn == open && index == have) || (msn == open + 1 && index == 0 && have > 0);
}

// EXT-X-ENDLIST is the last tag of a finished playlist.
bool has_ended(const std::string& playlist) {
  constexpr std::string_view tag = "#EXT-X-ENDLIST";
  std::string_view tail = std::string_view(playlist).substr(playlist.size() > 64 ? playlist.size() - 64 : 0);
  return tail.find(tag) != std::string_view::npos;
}

Response not_ready(std::string_view what) {
  Response res = make_error_response(http::status::service_unavailable, fmt::format("{} is not available yet", what));
  res.set(http::field::retry_after, "1");
  res.set(http::field::cache_control, kShortErrorCacheControl);
  return res;
}

// Pages and API paths that do not exist stay so: no cache needs to keep asking.
Response not_found() { return make_error_response(http::status::not_found, "not found"); }

// A live object that is not there may be there a moment later (a rendition's
// next segment, a player running ahead).
Response live_not_found(std::string_view cache_control = kShortErrorCacheControl) {
  Response res = not_found();
  res.set(http::field::cache_control, cache_control);
  return res;
}

std::string failed_blocking_cache_control(int target_duration_s) {
  return fmt::format("public, max-age={}", 4 * target_duration_s);
}

// A blocking playlist request: its failures may be cached 4 × target (rfc8216bis Appendix B).
bool asks_to_block(std::string_view query) { return query.find("_HLS_msn=") != std::string_view::npos; }

// When a segment or part was complete: the capture wall clock of its end (its
// Last-Modified, the same on every origin); 0 when its capture time is unknown.
int64_t end_epoch_ms(int64_t pdt_epoch_ms, double duration_s) {
  return pdt_epoch_ms > 0 ? pdt_epoch_ms + static_cast<int64_t>(std::llround(duration_s * 1000)) : 0;
}

// A playlist changed last when its newest part or segment was complete.
int64_t newest_media_epoch_ms(const hls::RenditionSnapshot& s) {
  if (!s.open_parts.empty()) return end_epoch_ms(s.open_parts.back().pdt_epoch_ms, s.open_parts.back().duration_s);
  if (auto it = s.segments.find(s.last_msn); it != s.segments.end() && it->second)
    return end_epoch_ms(it->second->pdt_epoch_ms, it->second->duration_s);
  return 0;
}

}  // namespace

Router::Router(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
               const StaticFiles& files, RouterOptions options, const health::Monitor* monitor)
    : store_(store),
      ingest_(ingest),
      unauthenticated_ingest_(config::accepts_unauthenticated_senders(cfg.ingest)),
      monitor_(monitor),
      files_(files),
      hls_(cfg.hls),
      // Half a segment: a cache may then serve a playlist at most one refresh behind
      // (RFC 8216bis Appendix B: target duration / 2 for non-blocking reloads).
      playlist_cache_control_(fmt::format(
          "public, max-age={}", std::max<int64_t>(1, static_cast<int64_t>(std::floor(cfg.hls.segment_duration_s / 2))))),
      options_(options),
      steering_(cfg.scale),
      // A plain and a delta form per media playlist, and the master playlist.
      playlists_(2 * store.rendition_count() + 1),
      started_(std::chrono::steady_clock::now()) {}

// What a Hold's note carries for expire(): the kind, and the target duration
// that sets how long a cache may keep the 503.
namespace {
uint32_t hold_note(Router::HoldKind kind, int target_duration_s) {
  return static_cast<uint32_t>(std::max(0, target_duration_s)) << 2 | static_cast<uint32_t>(kind);
}
}  // namespace

net::Outcome Router::handle(const net::Exchange& exchange) const {
  try {
    return dispatch(exchange);
  } catch (const std::exception& e) {
    relay::log::get("edge")->error("{} {}: {}", exchange.message.method_string(), exchange.target.path, e.what());
    return make_error_response(http::status::internal_server_error, "internal error");
  }
}

Response Router::expire(const net::Exchange&, const net::Hold& hold) const {
  const auto kind = static_cast<HoldKind>(hold.note & 3u);
  const int target = static_cast<int>(hold.note >> 2);
  switch (kind) {
    case HoldKind::playlist: {
      Response res = make_error_response(http::status::service_unavailable,
                                         "the requested segment or part was not published in time");
      // rfc8216bis Appendix B: a failed blocking reload may be cached for four target
      // durations, so a CDN answers the other players asking the same thing.
      res.set(http::field::cache_control, failed_blocking_cache_control(target));
      return res;
    }
    case HoldKind::part: {
      // Uncached (make_error_response): a 503 kept under the part's URL would hide the part once it exists.
      Response res =
          make_error_response(http::status::service_unavailable, "the hinted part was not published in time");
      res.set(http::field::retry_after, "1");
      return res;
    }
    case HoldKind::master:
      break;
  }
  return not_ready("a media playlist of the master playlist");
}

net::Outcome Router::dispatch(const net::Exchange& exchange) const {
  const RequestHeader& req = exchange.message;
  const net::RequestTarget& target = exchange.target;
  if (!target.ok()) return make_error_response(http::status::bad_request, target.error);

  switch (req.method()) {
    case http::verb::get:
    case http::verb::head:
      return route_get(req, target.path, target.query);
    case http::verb::options:
      return preflight();
    default: {
      // The API answers in JSON whatever went wrong, as the Q&A and health routes do.
      Response res = target.path.substr(0, 5) == "/api/"
                         ? make_json_response(http::status::method_not_allowed,
                                              R"({"error":"method_not_allowed","message":"method not allowed"})")
                         : make_error_response(http::status::method_not_allowed, "method not allowed");
      res.set(http::field::allow, kAllowedMethods);
      return res;
    }
  }
}

net::Outcome Router::route_get(const RequestHeader& req, std::string_view path, std::string_view query) const {
  constexpr std::string_view static_prefix = "/static/", live_prefix = "/live/";
  if (path == "/") return serve_static(req, files_.index());
  if (path == "/moderator") return serve_static(req, files_.find("moderator.html"));
  if (path == "/speaker") return serve_static(req, files_.find("speaker.html"));
  if (path == "/captioner") return serve_static(req, files_.find("captioner.html"));
  if (path == "/vod/") return serve_static(req, files_.find("vod.html"));
  if (path.substr(0, static_prefix.size()) == static_prefix)
    return serve_static(req, files_.find(path.substr(static_prefix.size())));
  if (path == "/vendor/hls.min.js") return serve_static(req, files_.hls_js());
  if (path == "/tech") return serve_static(req, files_.find("tech.html"));
  if (path == "/vendor/uPlot.iife.min.js") return serve_static(req, files_.uplot_js());
  if (path == "/vendor/uPlot.min.css") return serve_static(req, files_.uplot_css());
  if (path == "/api/health") return serve_health(req, /*detail=*/false);
  if (path == "/live/master.m3u8") return serve_master(req);
  if (path == kSteeringPath) return serve_steering(req);
  if (path.substr(0, live_prefix.size()) == live_prefix) {
    std::string_view rest = path.substr(live_prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return live_not_found();
    std::string_view file = rest.substr(slash + 1);
    if (file.find('/') != std::string_view::npos) return live_not_found();
    return serve_rendition(req, rest.substr(0, slash), file, query);
  }
  return not_found();
}

Response Router::serve_static(const RequestHeader& req, const StaticFile* file) const {
  if (!file) return not_found();
  return serve(req, {file->data, file->content_type, file->etag, kStaticCacheControl, true, 0});
}

net::Outcome Router::serve_master(const RequestHeader& req) const {
  // A player (or a cache) that got the master would next ask for a media playlist;
  // until every one it names exists, the master waits a while and then is refused.
  for (size_t i = 0; i < store_.rendition_count(); ++i) {
    auto snapshot = store_.rendition(i);
    if (!snapshot || !snapshot->playlist) return make_hold(HoldKind::master, i, configured_target_duration());
  }
  for (size_t i = 0; subtitles_ && i < subtitles_->rendition_count(); ++i) {
    auto snapshot = subtitles_->rendition(i);
    if (!snapshot || !snapshot->playlist)
      return make_hold(HoldKind::master, subtitle_channel(i), configured_target_duration());
  }
  hls::Bytes master = store_.master();
  if (!master || master->empty()) return make_hold(HoldKind::master, 0, configured_target_duration());
  auto served = playlists_.get(playlists_.size() - 1, master, 0, [&] {
    // The master playlist has no version; its content is small and identifies it.
    return std::make_shared<const ServedPlaylist>(master, fmt::format("m-{:016x}", net::content_hash(*master)));
  });
  return serve_playlist_text(req, *served, playlist_cache_control_, 0);
}

Response Router::serve_steering(const RequestHeader& req) const {
  auto served = steering_.current();
  if (!served) return not_found();
  return serve(req, {served->body, kJsonType, served->etag, served->cache_control, false});
}

void Router::set_subtitles(const hls::Store* subtitles) {
  subtitles_ = subtitles;
  subtitle_playlists_ = subtitles ? std::make_unique<PlaylistCache>(2 * subtitles->rendition_count()) : nullptr;
}

net::Outcome Router::serve_rendition(const RequestHeader& req, std::string_view name, std::string_view file,
                               std::string_view query) const {
  const bool playlist = file == "index.m3u8";
  auto missing = [&] {
    // A failed blocking request may be cached as long as a failed hold (rfc8216bis Appendix B).
    if (playlist && asks_to_block(query))
      return live_not_found(failed_blocking_cache_control(configured_target_duration()));
    return live_not_found();
  };
  std::optional<Source> source;
  if (auto index = store_.find(name)) {
    source.emplace(Source{store_, *index, *index, playlists_});
  } else if (auto sub = subtitles_ ? subtitles_->find(name) : std::nullopt) {
    source.emplace(Source{*subtitles_, *sub, subtitle_channel(*sub), *subtitle_playlists_});
  }
  if (!source) return missing();
  const bool video = &source->store == &store_;
  if (monitor_ && video)
    monitor_->viewers().record(req[kPlaybackSessionHeader], store_.names()[source->index], now_monotonic_ms());
  // One snapshot per request: playlist, init and segment then all come from the same publish.
  auto snapshot = source->store.rendition(source->index);
  if (!snapshot) return missing();

  if (playlist) return serve_media_playlist(req, *source, *snapshot, query);
  if (hls::Bytes init = snapshot->find_init(file)) {
    // Named by its content: the name is the tag.
    EtagText etag("{}", file);
    return serve(req, {init, kMediaType, etag.view(), kMediaCacheControl, true, 0});
  }
  const std::string_view extension = snapshot->segment_extension;
  const std::string_view type = extension == "ts" ? kTransportStreamType : extension == "vtt" ? kWebVttType : kMediaType;
  if (auto msn = hls::parse_segment_uri(file, snapshot->instance, extension)) {
    auto it = snapshot->segments.find(*msn);
    if (it == snapshot->segments.end() || !it->second || !it->second->data) return live_not_found();
    const hls::Segment& segment = *it->second;
    EtagText etag("s-{}-{}-{}", snapshot->instance, name, segment.msn);
    return serve(req, {segment.data, type, etag.view(), kMediaCacheControl, true,
                       end_epoch_ms(segment.pdt_epoch_ms, segment.duration_s)});
  }
  // Parts are fMP4 for video, WebVTT for subtitles.
  if (auto part = hls::parse_part_uri(file, snapshot->instance, video ? "m4s" : extension))
    return serve_part(req, *source, *snapshot, part->first, part->second, type);
  // Names of another run of the stream, or no name at all.
  return live_not_found();
}

net::Outcome Router::serve_media_playlist(const RequestHeader& req, const Source& source,
                                          const hls::RenditionSnapshot& snapshot, std::string_view query) const {
  const hls::Store& store = source.store;
  const size_t index = source.index;
  if (!snapshot.playlist) return not_ready("the playlist");
  // Without LL-HLS the directives mean nothing here, as on any plain HLS server.
  const bool low_latency = snapshot.part_target_s > 0;
  const int target = target_duration(snapshot);
  DeliveryDirectives directives;
  if (low_latency) {
    directives = parse_delivery_directives(query);
    // 400s stay uncached (make_error_response): the same URL turns valid as the playlist catches up.
    if (!directives.ok()) return make_error_response(http::status::bad_request, directives.error);
    // A finished playlist never grows, so there is nothing to wait for (rfc8216bis 6.2.5.2).
    if (has_ended(*snapshot.playlist)) {
      directives.msn.reset();
      directives.part.reset();
    }
  }
  if (directives.msn) {
    switch (hls::check_block(snapshot, {*directives.msn, directives.part})) {
      case hls::BlockVerdict::bad_request:
        return make_error_response(http::status::bad_request,
                                   "_HLS_msn/_HLS_part is further ahead of the playlist than the server waits for");
      case hls::BlockVerdict::wait:
        return make_hold(HoldKind::playlist, source.channel, target);
      case hls::BlockVerdict::ready:
        break;
    }
  }

  const bool delta = directives.skip && snapshot.playlist_delta;
  const hls::Bytes& text = delta ? snapshot.playlist_delta : snapshot.playlist;
  // Other renditions advance on their own, so an LL-HLS playlist with their reports
  // changes with every publish of any rendition: the store's generation, read
  // after this snapshot, says when. Otherwise the packager's bytes are all there is.
  const bool with_reports = low_latency && store.rendition_count() > 1;
  const uint64_t generation = with_reports ? store.generation() : 0;
  auto served = source.cache.get(2 * index + (delta ? 1 : 0), text, generation, [&] {
    // From the text itself, so a restarted or second origin tags the same bytes alike
    // and a cache never revalidates one run's playlist against another's.
    std::string tag = fmt::format("p-{}-{:016x}", store.names()[index], net::content_hash(*text));
    std::string reports = with_reports ? hls::rendition_reports(store, index) : std::string();
    if (reports.empty()) return std::make_shared<const ServedPlaylist>(text, tag);
    std::string joined;
    joined.reserve(text->size() + reports.size() + 1);
    joined = *text;
    if (!joined.empty() && joined.back() != '\n') joined += '\n';
    joined += reports;
    tag += fmt::format("-{:016x}", net::content_hash(reports));
    return std::make_shared<const ServedPlaylist>(make_bytes(std::move(joined)), tag);
  });
  // rfc8216bis Appendix B: a blocking response stays right for 6 target durations,
  // and caches key on the whole URL, so one origin request serves every player
  // asking for the same part.
  const int64_t modified = newest_media_epoch_ms(snapshot);
  if (!directives.msn) return serve_playlist_text(req, *served, playlist_cache_control_, modified);
  char blocking_cache_control[40];
  auto written = fmt::format_to_n(blocking_cache_control, sizeof blocking_cache_control, "public, max-age={}",
                                  6 * target);
  return serve_playlist_text(req, *served, std::string_view(blocking_cache_control, written.size), modified);
}

net::Outcome Router::serve_part(const RequestHeader& req, const Source& source, const hls::RenditionSnapshot& snapshot,
                                uint64_t msn, size_t part_index, std::string_view content_type) const {
  if (const hls::Part* part = snapshot.find_part(msn, part_index); part && part->data) {
    EtagText etag("pt-{}-{}-{}-{}", snapshot.instance, source.store.names()[source.index], msn, part_index);
    return serve(req, {part->data, content_type, etag.view(), kMediaCacheControl, true,
                       end_epoch_ms(part->pdt_epoch_ms, part->duration_s)});
  }
  if (snapshot.part_target_s > 0 && is_next_part(snapshot, msn, part_index))
    return make_hold(HoldKind::part, source.channel, target_duration(snapshot));
  return live_not_found();
}

Response Router::serve_playlist_text(const RequestHeader& req, const ServedPlaylist& playlist,
                                     std::string_view cache_control, int64_t modified_epoch_ms) const {
  Response res;
  if (net::accepts_gzip(req[http::field::accept_encoding])) {
    res = serve(req, {playlist.gzip(), kPlaylistType, playlist.gzip_etag(), cache_control, false, modified_epoch_ms,
                      /*changes_in_place=*/true});
    if (res.result() == http::status::ok) res.set(http::field::content_encoding, "gzip");
  } else {
    res = serve(req, {playlist.text(), kPlaylistType, playlist.etag(), cache_control, false, modified_epoch_ms,
                      /*changes_in_place=*/true});
  }
  res.set(http::field::vary, "Accept-Encoding");
  return res;
}

int Router::target_duration(const hls::RenditionSnapshot& snapshot) const {
  if (snapshot.target_duration_s > 0) return snapshot.target_duration_s;
  return configured_target_duration();
}

int Router::configured_target_duration() const {
  return std::max(1, static_cast<int>(std::ceil(hls_.segment_duration_s - 1e-9)));
}

net::Hold Router::make_hold(HoldKind kind, size_t index, int target_duration_s) const {
  net::Hold hold;
  hold.channel = index;
  hold.note = hold_note(kind, target_duration_s);
  hold.timeout = std::chrono::milliseconds(std::llround(options_.hold_timeout_targets * target_duration_s * 1000.0));
  return hold;
}

Response Router::serve_health(const RequestHeader& req, bool detail) const {
  double uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::optional<health::UplinkStatus> uplink;
  if (uplink_status_) uplink = uplink_status_();
  std::optional<health::QaDatabaseStatus> qa;
  if (qa_status_) qa = qa_status_();
  auto report = make_health_report(store_, ingest_.snapshot(), hls_, now_epoch_ms(), std::round(uptime_s * 1000) / 1000,
                                   monitor_ ? monitor_->active() : std::vector<health::ActiveAlert>{},
                                   unauthenticated_ingest_, uplink ? &*uplink : nullptr, qa ? &*qa : nullptr);
  if (!detail) report = public_health_report(report);
  // GStreamer error texts are not guaranteed to be UTF-8; dump() would throw on them.
  std::string body = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string etag = net::make_etag(fmt::format("h-{:016x}", net::content_hash(body)));
  return serve(req, {make_bytes(std::move(body)), kJsonType, etag, "no-store", false, 0});
}

Response Router::serve(const RequestHeader& req, const Resource& resource) {
  Response res{http::status::ok, 11};
  res.set(http::field::cache_control, resource.cache_control);
  res.set(http::field::etag, resource.etag);
  if (resource.modified_epoch_ms > 0)
    res.set(http::field::last_modified, net::format_http_date(resource.modified_epoch_ms / 1000));
  if (resource.ranges) res.set(http::field::accept_ranges, "bytes");

  // If-None-Match, when sent, decides alone (RFC 9110 13.2.2).
  if (auto inm = req[http::field::if_none_match]; !inm.empty()) {
    if (net::if_none_match_matches(inm, resource.etag)) {
      res.result(http::status::not_modified);
      return res;
    }
  } else if (auto ims = req[http::field::if_modified_since];
             !ims.empty() && net::not_modified_since(ims, resource.modified_epoch_ms, resource.changes_in_place)) {
    res.result(http::status::not_modified);
    return res;
  }

  const uint64_t size = resource.data->size();
  if (auto range_header = req[http::field::range]; resource.ranges && !range_header.empty()) {
    // If-Range names the representation the client already holds part of; for any
    // other one the range would splice two different files, so send it whole.
    auto if_range = req[http::field::if_range];
    if (if_range.empty() || if_range == resource.etag) {
      net::RangeRequest range = net::parse_byte_range(range_header, size);
      if (range.kind == net::RangeRequest::unsatisfiable) {
        Response error = make_error_response(http::status::range_not_satisfiable, "range not satisfiable");
        error.set(http::field::content_range, fmt::format("bytes */{}", size));
        error.set(http::field::accept_ranges, "bytes");
        return error;
      }
      if (range.kind == net::RangeRequest::satisfiable) {
        res.result(http::status::partial_content);
        res.set(http::field::content_range, fmt::format("bytes {}-{}/{}", range.range.first, range.range.last, size));
        res.set(http::field::content_type, resource.content_type);
        res.body() = net::BytesBody::value_type(resource.data, range.range.first, range.range.length());
        res.content_length(res.body().size());
        return res;
      }
    }
  }

  res.set(http::field::content_type, resource.content_type);
  res.body() = net::BytesBody::value_type(resource.data);
  res.content_length(res.body().size());
  return res;
}

Response Router::preflight() const {
  Response res{http::status::no_content, 11};
  // Browsers keep preflights by Access-Control-Max-Age; shared caches have no business with them.
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::allow, kAllowedMethods);
  res.set(http::field::access_control_allow_methods, kAllowedMethods);
  res.set(http::field::access_control_allow_headers, fmt::format("Range, {}", kPlaybackSessionHeader));
  res.set(http::field::access_control_max_age, "600");
  return res;
}

}  // namespace relay::delivery
