#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <optional>
#include <string>
#include <variant>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "api/route_table.hpp"
#include "delivery/router.hpp"
#include "net/request_target.hpp"
#include "net/etag.hpp"
#include "../net/gunzip.hpp"
#include "ll_snapshot.hpp"

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using relay::delivery::Response;
using relay::delivery::Router;
using relay::delivery::StaticFiles;
using relay::test::gunzip;
using relay::test::make_ll_snapshot;
using relay::test::part_bytes;

namespace {

// A held request as the router's Hold describes it (the note carries the kind
// and the target duration, for expire()).
struct Held {
  Router::HoldKind kind = Router::HoldKind::playlist;
  bool part = false;
  size_t rendition = 0;
  int target_duration_s = 0;
  std::chrono::milliseconds timeout{0};
};

struct Routed {
  std::optional<Response> response;
  Held hold;
  relay::net::Hold raw;
};

// The router behind the route table, as a session sees it: finished responses
// (common fields, CORS, version, keep-alive, HEAD).
Routed handle(const Router& router, const relay::net::Request& req, const relay::config::EdgeConfig& edge = {},
              relay::api::Port port = relay::api::Port::edge) {
  relay::api::RouteTable routes(edge, router, nullptr, nullptr, port);
  const relay::net::RequestTarget target = relay::net::parse_request_target(req.target());
  relay::net::Outcome outcome = routes.handle({req, target, "10.0.0.1", routes.route(req.target())});
  Routed routed;
  if (auto* response = std::get_if<Response>(&outcome)) {
    relay::net::finish(req, *response);
    routed.response = std::move(*response);
  } else {
    REQUIRE(std::holds_alternative<relay::net::Hold>(outcome));
    routed.raw = std::get<relay::net::Hold>(outcome);
    const auto kind = static_cast<Router::HoldKind>(routed.raw.note & 3);
    routed.hold = {kind, kind == Router::HoldKind::part, routed.raw.channel, static_cast<int>(routed.raw.note >> 2),
                   routed.raw.timeout};
  }
  return routed;
}

Response expire(const Router& router, const relay::net::Request& req, const relay::net::Hold& hold) {
  relay::api::RouteTable routes({}, router, nullptr, nullptr);
  const relay::net::RequestTarget target = relay::net::parse_request_target(req.target());
  Response res = routes.expire({req, target, "10.0.0.1", routes.route(req.target())}, hold);
  relay::net::finish(req, res);
  return res;
}

std::string pattern(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

std::shared_ptr<const relay::hls::Segment> make_segment(uint64_t msn, size_t size) {
  auto seg = std::make_shared<relay::hls::Segment>();
  seg->msn = msn;
  seg->duration_s = 2.0;
  seg->pdt_epoch_ms = 1'700'000'000'000 + static_cast<int64_t>(msn) * 2000;
  seg->data = relay::hls::make_bytes(pattern(size));
  return seg;
}

std::shared_ptr<relay::hls::RenditionSnapshot> make_snapshot(const std::string& name, uint64_t version,
                                                             int64_t last_segment_epoch_ms) {
  auto snap = std::make_shared<relay::hls::RenditionSnapshot>();
  snap->name = name;
  snap->version = version;
  snap->instance = relay::test::kInstance;
  snap->init = relay::hls::make_bytes("ftypmoov-" + name);
  snap->init_uri = relay::hls::init_uri(*snap->init);
  snap->playlist = relay::hls::make_bytes("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"" +
                                          snap->init_uri +
                                          "\"\n#EXTINF:2.0,\nseg-t0-1.m4s\n#EXTINF:2.0,\nseg-t0-2.m4s\n");
  snap->segments[1] = make_segment(1, 1000);
  snap->segments[2] = make_segment(2, 1500);
  snap->last_msn = 2;
  snap->last_segment_epoch_ms = last_segment_epoch_ms;
  snap->last_segment_duration_s = 2.0;
  return snap;
}

// A web_dir and node_modules_dir with known contents, independent of the real page.
struct WebFixture {
  fs::path root;
  WebFixture() {
    root = fs::temp_directory_path() / ("relay-edge-web-" + std::to_string(::getpid()));
    fs::create_directories(root / "web" / "img");
    fs::create_directories(root / "node_modules" / "hls.js" / "dist");
    write(root / "web" / "index.html", "<!doctype html><title>t</title>");
    write(root / "web" / "player.js", pattern(300));
    write(root / "web" / "style.css", "body{}");
    write(root / "web" / "img" / "logo.svg", "<svg/>");
    write(root / "node_modules" / "hls.js" / "dist" / "hls.min.js", "var Hls=1;");
  }
  ~WebFixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  static void write(const fs::path& p, const std::string& content) { std::ofstream(p, std::ios::binary) << content; }
};

struct RouterFixture {
  relay::config::Config cfg;
  relay::hls::Store store{{"720p", "360p"}};
  relay::health::IngestStatus ingest{"test:"};
  WebFixture web;
  StaticFiles files = StaticFiles::load(web.root / "web", web.root / "node_modules");
  std::unique_ptr<Router> router;

  RouterFixture() { rebuild(); }
  void rebuild() { router = std::make_unique<Router>(cfg, store, ingest, files); }

  void publish_all(int64_t last_segment_epoch_ms = relay::now_epoch_ms()) {
    store.set_master(relay::hls::make_bytes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p/index.m3u8\n"));
    store.publish(0, make_snapshot("720p", 3, last_segment_epoch_ms));
    store.publish(1, make_snapshot("360p", 3, last_segment_epoch_ms));
  }

  Routed route(http::verb method, std::string target,
               std::initializer_list<std::pair<http::field, std::string>> headers = {}) {
    relay::net::Request req{method, target, 11};
    for (auto& [field, value] : headers) req.set(field, value);
    return handle(*router, req, cfg.edge);
  }
  // A request the router must answer at once.
  Response request(http::verb method, std::string target,
                   std::initializer_list<std::pair<http::field, std::string>> headers = {}) {
    auto routed = route(method, std::move(target), headers);
    REQUIRE(routed.response);
    return std::move(*routed.response);
  }
  Response get(std::string target, std::initializer_list<std::pair<http::field, std::string>> headers = {}) {
    return request(http::verb::get, std::move(target), headers);
  }
};

std::string body(const Response& res) { return std::string(res.body().view()); }
// The init section's one URL, as the fixture's snapshots name it.
std::string init_path(const std::string& rendition) {
  return "/live/" + rendition + "/" + relay::hls::init_uri("ftypmoov-" + rendition);
}
std::string header(const Response& res, http::field f) { return std::string(res[f]); }

}  // namespace

TEST_CASE_METHOD(RouterFixture, "live routes answer 503 with Retry-After before the first publish", "[router]") {
  auto res = get("/live/720p/index.m3u8");
  CHECK(res.result() == http::status::service_unavailable);
  CHECK(header(res, http::field::retry_after) == "1");
  // A cache may absorb a burst of these, but not hold the stream back.
  CHECK(header(res, http::field::cache_control) == "public, max-age=1");
  CHECK_FALSE(body(res).empty());
  for (std::string target : {std::string("/live/720p/seg-t0-1.m4s"), init_path("720p")}) {
    INFO(target);
    auto missing = get(target);
    CHECK(missing.result() == http::status::not_found);
    CHECK(header(missing, http::field::cache_control) == "public, max-age=1");
  }
}

TEST_CASE_METHOD(RouterFixture, "the master playlist waits until every media playlist it names exists", "[router]") {
  auto held = route(http::verb::get, "/live/master.m3u8");
  REQUIRE_FALSE(held.response);
  CHECK(held.hold.kind == Router::HoldKind::master);
  CHECK(held.hold.rendition == 0);
  CHECK(held.hold.timeout == std::chrono::milliseconds(6000));
  relay::net::Request req{http::verb::get, "/live/master.m3u8", 11};
  auto refused = expire(*router, req, held.raw);
  CHECK(refused.result() == http::status::service_unavailable);
  CHECK(header(refused, http::field::retry_after) == "1");
  CHECK(header(refused, http::field::cache_control) == "public, max-age=1");

  // The master and one rendition are there; the other is not: still no master.
  store.set_master(relay::hls::make_bytes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p/index.m3u8\n"));
  store.publish(0, make_snapshot("720p", 3, relay::now_epoch_ms()));
  auto still = route(http::verb::get, "/live/master.m3u8");
  REQUIRE_FALSE(still.response);
  CHECK(still.hold.rendition == 1);
  CHECK(get("/live/360p/index.m3u8").result() == http::status::service_unavailable);

  store.publish(1, make_snapshot("360p", 3, relay::now_epoch_ms()));
  CHECK(get("/live/master.m3u8").result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "live routes serve the store with HLS content types and cache lifetimes", "[router]") {
  publish_all();

  auto master = get("/live/master.m3u8");
  CHECK(master.result() == http::status::ok);
  CHECK(header(master, http::field::content_type) == "application/vnd.apple.mpegurl");
  CHECK(header(master, http::field::cache_control) == "public, max-age=1");
  CHECK(body(master) == *store.master());

  auto playlist = get("/live/720p/index.m3u8");
  CHECK(playlist.result() == http::status::ok);
  CHECK(header(playlist, http::field::content_type) == "application/vnd.apple.mpegurl");
  CHECK(header(playlist, http::field::cache_control) == "public, max-age=1");
  CHECK(body(playlist) == *store.rendition(0)->playlist);
  CHECK(header(playlist, http::field::accept_ranges).empty());

  auto init = get(init_path("360p"));
  CHECK(init.result() == http::status::ok);
  CHECK(header(init, http::field::content_type) == "video/mp4");
  CHECK(header(init, http::field::cache_control) == "public, max-age=31536000, immutable");
  CHECK(body(init) == "ftypmoov-360p");

  auto segment = get("/live/720p/seg-t0-2.m4s");
  CHECK(segment.result() == http::status::ok);
  CHECK(header(segment, http::field::content_type) == "video/mp4");
  CHECK(header(segment, http::field::cache_control) == "public, max-age=31536000, immutable");
  CHECK(header(segment, http::field::content_length) == "1500");
  CHECK(header(segment, http::field::accept_ranges) == "bytes");
  CHECK(body(segment) == pattern(1500));
  // Served from the store's buffer, not a copy.
  CHECK(segment.body().data() == store.rendition(0)->segments.at(2)->data);

  CHECK(header(segment, http::field::server) == "seminar-relay");
  CHECK_FALSE(header(segment, http::field::date).empty());
}

TEST_CASE_METHOD(RouterFixture, "playlist max-age is half a segment, at least one second", "[router]") {
  cfg.hls.segment_duration_s = 6.0;
  rebuild();
  publish_all();
  CHECK(header(get("/live/720p/index.m3u8"), http::field::cache_control) == "public, max-age=3");
  cfg.hls.segment_duration_s = 1.0;
  rebuild();
  CHECK(header(get("/live/master.m3u8"), http::field::cache_control) == "public, max-age=1");
}

TEST_CASE_METHOD(RouterFixture, "unknown renditions, files and sequence numbers are 404", "[router]") {
  publish_all();
  // Live names may exist a moment later: a short lifetime. Others: none.
  for (const char* target : {"/live/1080p/index.m3u8", "/live/720p/seg-t0-9.m4s", "/live/720p/seg-t0-01.m4s",
                             "/live/720p/seg.m4s", "/live/720p/segx.m4s", "/live/720p/other.txt", "/live/720p/",
                             "/live/720p", "/live//index.m3u8", "/live/720p/a/index.m3u8", "/live/720p/init.mp4",
                             "/live/720p/seg1.m4s", "/live/720p/seg-t1-1.m4s", "/live/720p/seg-t0-1.ts",
                             "/live/720p/init-000000000000.mp4"}) {
    INFO(target);
    auto res = get(target);
    CHECK(res.result() == http::status::not_found);
    CHECK(header(res, http::field::cache_control) == "public, max-age=1");
  }
  for (const char* target : {"/nothing", "/static/missing.js", "/static/"}) {
    INFO(target);
    auto res = get(target);
    CHECK(res.result() == http::status::not_found);
    CHECK(header(res, http::field::cache_control) == "no-store");
  }
  // A failed blocking request, like a hold that runs out: 4 × target duration.
  auto blocking = get("/live/1080p/index.m3u8?_HLS_msn=3");
  CHECK(blocking.result() == http::status::not_found);
  CHECK(header(blocking, http::field::cache_control) == "public, max-age=8");
}

TEST_CASE_METHOD(RouterFixture, "targets with traversal or bad encoding are 400", "[router]") {
  for (const char* target : {"/static/../secret", "/static/%2e%2e/secret", "/static/%2E%2E/secret",
                             "/static/..%2fsecret", "/static/..\\secret", "/static/%5c..", "/static/%zz",
                             "/static/%4", "/static/a%00b", "relative", "*"}) {
    INFO(target);
    CHECK(get(target).result() == http::status::bad_request);
  }
  CHECK(get("/" + std::string(3000, 'a')).result() == http::status::bad_request);
  // Dots that are not a whole segment are ordinary names.
  CHECK(get("/static/..hidden").result() == http::status::not_found);
}

TEST_CASE_METHOD(RouterFixture, "query strings are accepted and ignored", "[router]") {
  publish_all();
  auto res = get("/live/720p/index.m3u8?_HLS_msn=2&_HLS_part=0");
  CHECK(res.result() == http::status::ok);
  CHECK(body(res) == *store.rendition(0)->playlist);
}

TEST_CASE_METHOD(RouterFixture, "other methods are 405 with Allow", "[router]") {
  for (auto method : {http::verb::post, http::verb::put, http::verb::delete_, http::verb::patch}) {
    auto res = request(method, "/live/master.m3u8");
    CHECK(res.result() == http::status::method_not_allowed);
    CHECK(header(res, http::field::allow) == "GET, HEAD, OPTIONS");
  }
}

TEST_CASE_METHOD(RouterFixture, "HEAD has the GET headers and Content-Length but no body", "[router]") {
  publish_all();
  auto res = request(http::verb::head, "/live/720p/seg-t0-1.m4s");
  CHECK(res.result() == http::status::ok);
  CHECK(header(res, http::field::content_length) == "1000");
  CHECK(header(res, http::field::content_type) == "video/mp4");
  CHECK(res.body().size() == 0);

  auto ranged = request(http::verb::head, "/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=0-99"}});
  CHECK(ranged.result() == http::status::partial_content);
  CHECK(header(ranged, http::field::content_length) == "100");
  CHECK(ranged.body().size() == 0);

  auto missing = request(http::verb::head, "/nothing");
  CHECK(missing.result() == http::status::not_found);
  CHECK(header(missing, http::field::content_length) != "0");
  CHECK(missing.body().size() == 0);
}

TEST_CASE_METHOD(RouterFixture, "single byte ranges on media and static files", "[router]") {
  publish_all();
  const std::string full = pattern(1000);

  auto first = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=10-19"}});
  CHECK(first.result() == http::status::partial_content);
  CHECK(header(first, http::field::content_range) == "bytes 10-19/1000");
  CHECK(header(first, http::field::content_length) == "10");
  CHECK(header(first, http::field::accept_ranges) == "bytes");
  CHECK(body(first) == full.substr(10, 10));

  auto open_ended = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=990-"}});
  CHECK(header(open_ended, http::field::content_range) == "bytes 990-999/1000");
  CHECK(body(open_ended) == full.substr(990));

  auto suffix = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=-5"}});
  CHECK(header(suffix, http::field::content_range) == "bytes 995-999/1000");
  CHECK(body(suffix) == full.substr(995));

  auto clamped = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=900-5000"}});
  CHECK(header(clamped, http::field::content_range) == "bytes 900-999/1000");

  auto unsatisfiable = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=1000-"}});
  CHECK(unsatisfiable.result() == http::status::range_not_satisfiable);
  CHECK(header(unsatisfiable, http::field::content_range) == "bytes */1000");
  CHECK(header(unsatisfiable, http::field::cache_control) == "no-store");

  auto multi = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=0-9,20-29"}});
  CHECK(multi.result() == http::status::ok);
  CHECK(body(multi) == full);

  auto other_unit = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "items=0-9"}});
  CHECK(other_unit.result() == http::status::ok);

  auto on_static = get("/static/player.js", {{http::field::range, "bytes=0-0"}});
  CHECK(on_static.result() == http::status::partial_content);
  CHECK(body(on_static) == "a");

  // Playlists change between requests; a range of one version spliced to another would be garbage.
  auto on_playlist = get("/live/720p/index.m3u8", {{http::field::range, "bytes=0-3"}});
  CHECK(on_playlist.result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "If-Range with another ETag sends the whole file", "[router]") {
  publish_all();
  auto etag = header(get("/live/720p/seg-t0-1.m4s"), http::field::etag);
  auto same = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=0-9"}, {http::field::if_range, etag}});
  CHECK(same.result() == http::status::partial_content);
  auto other = get("/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=0-9"}, {http::field::if_range, "\"old\""}});
  CHECK(other.result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "ETags and If-None-Match", "[router]") {
  publish_all();
  for (std::string target : {std::string("/"), std::string("/static/player.js"), std::string("/vendor/hls.min.js"),
                             std::string("/live/master.m3u8"), std::string("/live/720p/index.m3u8"), init_path("720p"),
                             std::string("/live/720p/seg-t0-1.m4s")}) {
    INFO(target);
    auto res = get(target);
    REQUIRE(res.result() == http::status::ok);
    std::string etag = header(res, http::field::etag);
    REQUIRE(etag.size() > 2);
    CHECK(etag.front() == '"');

    auto revalidated = get(target, {{http::field::if_none_match, "\"nope\", W/" + etag}});
    CHECK(revalidated.result() == http::status::not_modified);
    CHECK(revalidated.body().size() == 0);
    CHECK(header(revalidated, http::field::content_length).empty());
    CHECK(header(revalidated, http::field::etag) == etag);
    CHECK(header(revalidated, http::field::cache_control) == header(res, http::field::cache_control));

    CHECK(get(target, {{http::field::if_none_match, "\"nope\""}}).result() == http::status::ok);
  }

  // Segments differ in tag; a playlist with other text has another tag.
  CHECK(header(get("/live/720p/seg-t0-1.m4s"), http::field::etag) != header(get("/live/720p/seg-t0-2.m4s"), http::field::etag));
  CHECK(header(get("/live/720p/seg-t0-1.m4s"), http::field::etag) != header(get("/live/360p/seg-t0-1.m4s"), http::field::etag));
  auto before = header(get("/live/720p/index.m3u8"), http::field::etag);
  auto next = make_snapshot("720p", 4, relay::now_epoch_ms());
  next->playlist = relay::hls::make_bytes(*next->playlist + "#EXTINF:2.0,\nseg-t0-3.m4s\n");
  store.publish(0, next);
  CHECK(header(get("/live/720p/index.m3u8"), http::field::etag) != before);
}

TEST_CASE_METHOD(RouterFixture, "entity tags and Last-Modified are the same from a restarted origin", "[router]") {
  publish_all();
  std::vector<std::string> targets = {"/live/master.m3u8", "/live/720p/index.m3u8", init_path("720p"),
                                      "/live/720p/seg-t0-1.m4s"};
  std::vector<std::pair<std::string, std::string>> first;
  for (const auto& target : targets) {
    auto res = get(target);
    first.emplace_back(header(res, http::field::etag), header(res, http::field::last_modified));
  }
  rebuild();
  for (size_t i = 0; i < targets.size(); ++i) {
    INFO(targets[i]);
    auto res = get(targets[i]);
    CHECK(header(res, http::field::etag) == first[i].first);
    CHECK(header(res, http::field::last_modified) == first[i].second);
  }
  // The same msn of another run of the stream is another object with another tag.
  auto other_run = make_snapshot("720p", 3, relay::now_epoch_ms());
  other_run->instance = "t1";
  store.publish(0, other_run);
  CHECK(header(get("/live/720p/seg-t1-1.m4s"), http::field::etag) != first[3].first);
}

TEST_CASE_METHOD(RouterFixture, "static files, the page and hls.js", "[router]") {
  auto index = get("/");
  CHECK(index.result() == http::status::ok);
  CHECK(header(index, http::field::content_type) == "text/html; charset=utf-8");
  CHECK(header(index, http::field::cache_control) == "public, max-age=300");
  CHECK(body(index) == "<!doctype html><title>t</title>");

  auto js = get("/static/player.js");
  CHECK(header(js, http::field::content_type) == "text/javascript; charset=utf-8");
  CHECK(header(get("/static/style.css"), http::field::content_type) == "text/css; charset=utf-8");
  CHECK(header(get("/static/img/logo.svg"), http::field::content_type) == "image/svg+xml");

  auto vendor = get("/vendor/hls.min.js");
  CHECK(vendor.result() == http::status::ok);
  CHECK(header(vendor, http::field::content_type) == "text/javascript; charset=utf-8");
  CHECK(header(vendor, http::field::cache_control) == "public, max-age=300");
  CHECK(body(vendor) == "var Hls=1;");

  // Only that one file of node_modules is reachable.
  CHECK(get("/vendor/hls.js").result() == http::status::not_found);
}

TEST_CASE_METHOD(RouterFixture, "a missing hls.js is a 404, not a startup failure", "[router]") {
  files = StaticFiles::load(web.root / "web", web.root / "no-node-modules");
  rebuild();
  CHECK(get("/vendor/hls.min.js").result() == http::status::not_found);
  CHECK(get("/").result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "CORS with the default wildcard", "[router][cors]") {
  publish_all();
  auto with_origin = get("/live/master.m3u8", {{http::field::origin, "https://example.org"}});
  CHECK(header(with_origin, http::field::access_control_allow_origin) == "*");
  CHECK(header(with_origin, http::field::vary).find("Origin") == std::string::npos);
  auto without_origin = get("/live/master.m3u8");
  CHECK(header(without_origin, http::field::access_control_allow_origin).empty());
}

TEST_CASE_METHOD(RouterFixture, "CORS with a list of origins", "[router][cors]") {
  cfg.edge.cors_origins = {"https://seminar.example.org", "https://other.example.org"};
  rebuild();
  publish_all();
  auto allowed = get("/live/720p/seg-t0-1.m4s", {{http::field::origin, "https://seminar.example.org"}});
  CHECK(header(allowed, http::field::access_control_allow_origin) == "https://seminar.example.org");
  CHECK(header(allowed, http::field::vary) == "Origin");

  auto refused = get("/live/720p/seg-t0-1.m4s", {{http::field::origin, "https://evil.example.com"}});
  CHECK(refused.result() == http::status::ok);
  CHECK(header(refused, http::field::access_control_allow_origin).empty());
}

TEST_CASE_METHOD(RouterFixture, "CORS with no origins configured", "[router][cors]") {
  cfg.edge.cors_origins = {};
  rebuild();
  auto res = get("/", {{http::field::origin, "https://example.org"}});
  CHECK(header(res, http::field::access_control_allow_origin).empty());
  CHECK(header(res, http::field::vary).empty());
}

TEST_CASE_METHOD(RouterFixture, "OPTIONS preflight", "[router][cors]") {
  auto res = request(http::verb::options, "/live/720p/seg-t0-1.m4s",
                     {{http::field::origin, "https://example.org"},
                      {http::field::access_control_request_method, "GET"},
                      {http::field::access_control_request_headers, "range"}});
  CHECK(res.result() == http::status::no_content);
  CHECK(header(res, http::field::access_control_allow_origin) == "*");
  CHECK(header(res, http::field::access_control_allow_methods) == "GET, HEAD, OPTIONS");
  CHECK(header(res, http::field::access_control_allow_headers) == "Range, X-Playback-Session-Id");
  CHECK(header(res, http::field::access_control_max_age) == "600");
  CHECK(res.body().size() == 0);

  cfg.edge.cors_origins = {"https://seminar.example.org"};
  rebuild();
  auto refused = request(http::verb::options, "/", {{http::field::origin, "https://evil.example.com"}});
  CHECK(refused.result() == http::status::no_content);
  CHECK(header(refused, http::field::access_control_allow_origin).empty());
}

TEST_CASE_METHOD(RouterFixture, "/live/steering.json: the steering manifest with pathways, 404 without",
                 "[router][steering]") {
  CHECK(get("/live/steering.json").result() == http::status::not_found);

  cfg.scale.pathways = {{"cache-a", "http://127.0.0.1:1/"}, {"cache-b", "http://127.0.0.1:2/"}};
  cfg.scale.steering_ttl_s = 6;
  rebuild();
  auto res = get("/live/steering.json?_HLS_pathway=cache-a&_HLS_throughput=800000",
                 {{http::field::origin, "https://example.org"}});
  CHECK(res.result() == http::status::ok);
  CHECK(header(res, http::field::content_type) == "application/json");
  CHECK(header(res, http::field::cache_control) == "public, max-age=3");
  CHECK(header(res, http::field::access_control_allow_origin) == "*");
  auto manifest = nlohmann::json::parse(body(res));
  CHECK(manifest["TTL"] == 6);
  CHECK(manifest["PATHWAY-PRIORITY"] == nlohmann::json::array({"cache-a", "cache-b"}));
  auto again = get("/live/steering.json", {{http::field::if_none_match, header(res, http::field::etag)}});
  CHECK(again.result() == http::status::not_modified);
}

TEST_CASE_METHOD(RouterFixture, "keep-alive follows the request", "[router]") {
  auto keep = get("/");
  CHECK(keep.keep_alive());
  auto close = get("/", {{http::field::connection, "close"}});
  CHECK_FALSE(close.keep_alive());

  relay::net::Request old{http::verb::get, "/", 10};
  CHECK_FALSE(handle(*router, old).response->keep_alive());
  old.set(http::field::connection, "keep-alive");
  CHECK(handle(*router, old).response->keep_alive());
}

TEST_CASE_METHOD(RouterFixture, "/api/health", "[router][health]") {
  using nlohmann::json;
  // The whole report, as the operator's port (health.listen) or a technician sees it.
  auto report = [&] {
    relay::net::Request req{http::verb::get, "/api/health", 11};
    auto routed = handle(*router, req, cfg.edge, relay::api::Port::operator_port);
    REQUIRE(routed.response);
    Response res = std::move(*routed.response);
    REQUIRE(res.result() == http::status::ok);
    CHECK(header(res, http::field::content_type) == "application/json");
    CHECK(header(res, http::field::cache_control) == "no-store");
    return json::parse(body(res));
  };

  SECTION("down before any segment") {
    auto h = report();
    CHECK(h["status"] == "down");
    CHECK(h["reasons"].size() == 1);
    CHECK(h["ingest"]["state"] == "starting");
    CHECK(h["ingest"]["source"] == "test:");
    CHECK(h["renditions"].size() == 2);
    CHECK(h["renditions"][0]["name"] == "720p");
    CHECK(h["renditions"][0]["last_segment_age_s"].is_null());
    CHECK(h["uptime_s"].is_number());
  }
  SECTION("ok with fresh segments") {
    ingest.set_state(relay::health::IngestState::live);
    publish_all();
    auto h = report();
    CHECK(h["status"] == "ok");
    CHECK(h["reasons"].empty());
    CHECK(h["ingest"]["state"] == "live");
    CHECK(h["ingest"]["since"].get<std::string>().back() == 'Z');
    CHECK(h["renditions"][1]["last_msn"] == 2);
    CHECK(h["renditions"][1]["segments"] == 2);
    CHECK(h["renditions"][1]["last_segment_age_s"].get<double>() < 5.0);
  }
  SECTION("degraded when a rendition is older than 3 segment durations") {
    ingest.set_state(relay::health::IngestState::live);
    publish_all();
    store.publish(1, make_snapshot("360p", 4, relay::now_epoch_ms() - 7000));
    auto h = report();
    CHECK(h["status"] == "degraded");
    CHECK(h["reasons"].size() == 1);
    CHECK(h["renditions"][1]["last_segment_age_s"].get<double>() > 6.0);
  }
  SECTION("down when the ingest failed") {
    publish_all();
    ingest.record_error("srtsrc0", "connection refused");
    ingest.set_state(relay::health::IngestState::failed);
    auto h = report();
    CHECK(h["status"] == "down");
    CHECK(h["ingest"]["last_error"] == "srtsrc0: connection refused");
    CHECK(h["ingest"]["bus_errors"] == 1);
  }
  SECTION("down when the ingest ended") {
    publish_all();
    ingest.set_state(relay::health::IngestState::ended);
    CHECK(report()["status"] == "down");
  }
  SECTION("the public port shows the status and the reasons' codes, nothing else") {
    publish_all();
    ingest.record_error("rtspsrc0", "cannot reach the camera");
    ingest.set_state(relay::health::IngestState::failed);
    auto res = get("/api/health");
    REQUIRE(res.result() == http::status::ok);
    const json h = json::parse(body(res));
    CHECK(h == json{{"status", "down"}, {"codes", json::array({"ingest_failed"})}});
    CHECK(body(res).find("camera") == std::string::npos);
    CHECK(report()["codes"] == json::array({"ingest_failed"}));
    // The operator's port serves nothing but the technician's routes.
    relay::net::Request page{http::verb::get, "/", 11};
    auto routed = handle(*router, page, cfg.edge, relay::api::Port::operator_port);
    REQUIRE(routed.response);
    CHECK(routed.response->result() == http::status::not_found);
  }
}

namespace {

// Two LL renditions: 720p has segments 1..3 and segment 4 open with two parts
// (hint: part-t0-4.2); 360p is one part behind.
struct LowLatencyFixture : RouterFixture {
  LowLatencyFixture() { publish_ll(); }
  void publish_ll(uint64_t version = 10) {
    store.set_master(relay::hls::make_bytes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p/index.m3u8\n"));
    store.publish(0, make_ll_snapshot("720p", version, 3, 2));
    store.publish(1, make_ll_snapshot("360p", version, 3, 1));
  }
  std::string playlist_720p() const { return *store.rendition(0)->playlist; }
  const std::string report_360p = "#EXT-X-RENDITION-REPORT:URI=\"../360p/index.m3u8\",LAST-MSN=4,LAST-PART=0\n";
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

TEST_CASE_METHOD(LowLatencyFixture, "LL playlists end with a report of every other rendition", "[router][ll]") {
  auto res = get("/live/720p/index.m3u8");
  REQUIRE(res.result() == http::status::ok);
  CHECK(body(res) == playlist_720p() + report_360p);
  CHECK(body(res).find("../720p/") == std::string::npos);
  CHECK(header(res, http::field::cache_control) == "public, max-age=1");
  CHECK(header(res, http::field::vary) == "Accept-Encoding");

  // Computed per response: another rendition's publish changes the body and the tag.
  auto etag = header(res, http::field::etag);
  store.publish(1, make_ll_snapshot("360p", 11, 3, 2));
  auto after = get("/live/720p/index.m3u8");
  CHECK(ends_with(body(after), "LAST-MSN=4,LAST-PART=1\n"));
  CHECK(header(after, http::field::etag) != etag);
}

TEST_CASE_METHOD(LowLatencyFixture, "a blocking reload for what exists is answered at once, cacheable 6 targets",
                 "[router][ll]") {
  // _HLS_part past the last part of a complete segment means part 0 of the next one.
  for (const char* query : {"_HLS_msn=3", "_HLS_msn=1", "_HLS_msn=4&_HLS_part=1", "_HLS_msn=4&_HLS_part=0",
                            "_HLS_msn=2&_HLS_part=9", "_HLS_msn=3&_HLS_part=4", "_HLS_msn=3&_HLS_part=3&cache=buster"}) {
    INFO(query);
    auto res = get(std::string("/live/720p/index.m3u8?") + query);
    CHECK(res.result() == http::status::ok);
    CHECK(body(res) == playlist_720p() + report_360p);
    CHECK(header(res, http::field::cache_control) == "public, max-age=12");
  }
}

TEST_CASE_METHOD(LowLatencyFixture, "a blocking reload for the next part or segment is held", "[router][ll]") {
  for (const char* query : {"_HLS_msn=4&_HLS_part=2", "_HLS_msn=4", "_HLS_msn=5", "_HLS_msn=5&_HLS_part=0",
                            "_HLS_msn=4&_HLS_part=2&_HLS_skip=YES"}) {
    INFO(query);
    auto routed = route(http::verb::get, std::string("/live/720p/index.m3u8?") + query);
    REQUIRE_FALSE(routed.response);
    CHECK(!routed.hold.part);
    CHECK(routed.hold.rendition == 0);
    CHECK(routed.hold.target_duration_s == 2);
    CHECK(routed.hold.timeout == std::chrono::milliseconds(6000));
  }
  auto other = route(http::verb::get, "/live/360p/index.m3u8?_HLS_msn=4&_HLS_part=1");
  REQUIRE_FALSE(other.response);
  CHECK(other.hold.rendition == 1);

  // Asked again after the publish that brings the part: answered, and the part is listed.
  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
  auto released = route(http::verb::get, "/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=2");
  REQUIRE(released.response);
  CHECK(released.response->result() == http::status::ok);
  CHECK(body(*released.response).find("URI=\"part-t0-4.2.m4s\"\n") != std::string::npos);
  CHECK(header(*released.response, http::field::cache_control) == "public, max-age=12");
  CHECK_FALSE(route(http::verb::get, "/live/720p/index.m3u8?_HLS_msn=4").response);
}

TEST_CASE_METHOD(LowLatencyFixture, "the hold timeout follows the target duration and the options", "[router][ll]") {
  router = std::make_unique<Router>(cfg, store, ingest, files, relay::delivery::RouterOptions{0.05});
  auto routed = route(http::verb::get, "/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=2");
  REQUIRE_FALSE(routed.response);
  CHECK(routed.hold.timeout == std::chrono::milliseconds(100));
}

TEST_CASE_METHOD(LowLatencyFixture, "a held request that times out gets 503; a playlist's is cacheable 4 targets",
                 "[router][ll]") {
  relay::net::Request req{http::verb::get, "/live/720p/index.m3u8?_HLS_msn=5", 11};
  auto routed = handle(*router, req);
  REQUIRE_FALSE(routed.response);
  auto res = expire(*router, req, routed.raw);
  CHECK(res.result() == http::status::service_unavailable);
  CHECK(header(res, http::field::cache_control) == "public, max-age=8");
  CHECK(header(res, http::field::server) == "seminar-relay");
  CHECK(res.keep_alive());
  CHECK_FALSE(body(res).empty());

  relay::net::Request part_req{http::verb::get, "/live/720p/part-t0-4.2.m4s", 11};
  auto part = handle(*router, part_req);
  REQUIRE_FALSE(part.response);
  auto part_res = expire(*router, part_req, part.raw);
  CHECK(part_res.result() == http::status::service_unavailable);
  // A cached 503 under a part's URL would hide the part once it exists.
  CHECK(header(part_res, http::field::cache_control) == "no-store");
}

TEST_CASE_METHOD(LowLatencyFixture, "blocking directives beyond the limits or malformed are 400 at once",
                 "[router][ll]") {
  for (const char* query : {"_HLS_msn=6", "_HLS_msn=600", "_HLS_part=1", "_HLS_msn=x", "_HLS_msn=-4",
                            "_HLS_msn=4&_HLS_part=20", "_HLS_msn=5&_HLS_part=9", "_HLS_skip=NO",
                            "_HLS_msn=4&_HLS_msn=4"}) {
    INFO(query);
    auto res = get(std::string("/live/720p/index.m3u8?") + query);
    CHECK(res.result() == http::status::bad_request);
    CHECK(header(res, http::field::cache_control) == "no-store");
    CHECK(header(res, http::field::content_type) == "text/plain; charset=utf-8");
    CHECK_FALSE(body(res).empty());
  }
}

TEST_CASE_METHOD(LowLatencyFixture, "a segment with more parts than PART-TARGET suggests still allows the next",
                 "[router][ll]") {
  // Fragments shorter than PART-TARGET: six parts so far in a 2 s segment of 0.5 s parts.
  store.publish(0, make_ll_snapshot("720p", 11, 3, 6));
  auto routed = route(http::verb::get, "/live/720p/index.m3u8?_HLS_msn=5&_HLS_part=0");
  CHECK_FALSE(routed.response);
}

TEST_CASE_METHOD(RouterFixture, "without LL-HLS the directives are ignored, even malformed ones", "[router][ll]") {
  publish_all();
  for (const char* query : {"_HLS_msn=99", "_HLS_part=1", "_HLS_msn=abc", "_HLS_skip=YES"}) {
    INFO(query);
    auto res = get(std::string("/live/720p/index.m3u8?") + query);
    CHECK(res.result() == http::status::ok);
    CHECK(body(res) == *store.rendition(0)->playlist);
    CHECK(header(res, http::field::cache_control) == "public, max-age=1");
  }
}

TEST_CASE_METHOD(LowLatencyFixture, "_HLS_skip answers the delta playlist when there is one", "[router][ll]") {
  const std::string delta = *store.rendition(0)->playlist_delta;
  REQUIRE(delta.find("#EXT-X-SKIP:SKIPPED-SEGMENTS=1") != std::string::npos);
  for (const char* query : {"_HLS_skip=YES", "_HLS_skip=v2"}) {
    INFO(query);
    auto res = get(std::string("/live/720p/index.m3u8?") + query);
    CHECK(body(res) == delta + report_360p);
    CHECK(header(res, http::field::cache_control) == "public, max-age=1");
  }
  auto blocking = get("/live/720p/index.m3u8?_HLS_msn=3&_HLS_skip=YES");
  CHECK(body(blocking) == delta + report_360p);
  CHECK(header(blocking, http::field::cache_control) == "public, max-age=12");
  CHECK(header(blocking, http::field::etag) != header(get("/live/720p/index.m3u8?_HLS_msn=3"), http::field::etag));

  // Nothing to skip yet: the whole playlist.
  store.publish(0, make_ll_snapshot("720p", 11, 1, 2));
  REQUIRE_FALSE(store.rendition(0)->playlist_delta);
  CHECK(body(get("/live/720p/index.m3u8?_HLS_skip=YES")) == playlist_720p() + report_360p);
}

TEST_CASE_METHOD(LowLatencyFixture, "a finished playlist answers blocking requests at once", "[router][ll]") {
  auto ended = make_ll_snapshot("720p", 11, 3, 0);
  ended->playlist = relay::hls::make_bytes(*ended->playlist + "#EXT-X-ENDLIST\n");
  store.publish(0, ended);
  auto res = get("/live/720p/index.m3u8?_HLS_msn=5&_HLS_part=0");
  CHECK(res.result() == http::status::ok);
  CHECK(ends_with(body(res), "#EXT-X-ENDLIST\n" + report_360p));
}

TEST_CASE_METHOD(LowLatencyFixture, "playlists are gzip-encoded for clients that accept it", "[router][ll][gzip]") {
  const std::string identity = body(get("/live/720p/index.m3u8"));
  const std::string identity_etag = header(get("/live/720p/index.m3u8"), http::field::etag);

  auto gz = get("/live/720p/index.m3u8", {{http::field::accept_encoding, "gzip, deflate, br"}});
  REQUIRE(gz.result() == http::status::ok);
  CHECK(header(gz, http::field::content_encoding) == "gzip");
  CHECK(header(gz, http::field::vary) == "Accept-Encoding");
  CHECK(header(gz, http::field::content_type) == "application/vnd.apple.mpegurl");
  CHECK(header(gz, http::field::content_length) == std::to_string(body(gz).size()));
  CHECK(gunzip(body(gz)) == identity);
  const std::string gz_etag = header(gz, http::field::etag);
  CHECK(gz_etag != identity_etag);

  auto revalidated = get("/live/720p/index.m3u8",
                         {{http::field::accept_encoding, "gzip"}, {http::field::if_none_match, gz_etag}});
  CHECK(revalidated.result() == http::status::not_modified);
  CHECK(header(revalidated, http::field::content_encoding).empty());

  auto head = request(http::verb::head, "/live/720p/index.m3u8", {{http::field::accept_encoding, "gzip"}});
  CHECK(header(head, http::field::content_length) == std::to_string(body(gz).size()));
  CHECK(head.body().size() == 0);

  auto blocking = get("/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=1", {{http::field::accept_encoding, "gzip"}});
  CHECK(header(blocking, http::field::content_encoding) == "gzip");
  CHECK(gunzip(body(blocking)) == identity);

  auto master = get("/live/master.m3u8", {{http::field::accept_encoding, "gzip"}});
  CHECK(header(master, http::field::content_encoding) == "gzip");
  CHECK(gunzip(body(master)) == *store.master());
  CHECK(header(get("/live/master.m3u8"), http::field::vary) == "Accept-Encoding");

  auto refused = get("/live/720p/index.m3u8", {{http::field::accept_encoding, "gzip;q=0, identity"}});
  CHECK(header(refused, http::field::content_encoding).empty());
  CHECK(body(refused) == identity);

  // Media is already compressed: never gzip'd.
  auto part = get("/live/720p/part-t0-4.0.m4s", {{http::field::accept_encoding, "gzip"}});
  CHECK(header(part, http::field::content_encoding).empty());
  CHECK(header(part, http::field::vary).empty());
}

TEST_CASE_METHOD(LowLatencyFixture, "Vary names both Accept-Encoding and Origin with a CORS list", "[router][gzip][cors]") {
  cfg.edge.cors_origins = {"https://seminar.example.org"};
  rebuild();
  CHECK(header(get("/live/720p/index.m3u8"), http::field::vary) == "Accept-Encoding, Origin");
  CHECK(header(get("/live/720p/part-t0-4.0.m4s"), http::field::vary) == "Origin");
}

TEST_CASE_METHOD(LowLatencyFixture, "parts are served like segments", "[router][ll]") {
  auto part = get("/live/720p/part-t0-4.1.m4s");
  REQUIRE(part.result() == http::status::ok);
  CHECK(header(part, http::field::content_type) == "video/mp4");
  CHECK(header(part, http::field::cache_control) == "public, max-age=31536000, immutable");
  CHECK(header(part, http::field::accept_ranges) == "bytes");
  CHECK(body(part) == part_bytes("720p", 4, 1));
  // Served from the store's buffer, not a copy.
  CHECK(part.body().data() == store.rendition(0)->open_parts[1].data);

  auto from_complete = get("/live/360p/part-t0-2.3.m4s");
  CHECK(from_complete.result() == http::status::ok);
  CHECK(body(from_complete) == part_bytes("360p", 2, 3));

  auto ranged = get("/live/720p/part-t0-4.1.m4s", {{http::field::range, "bytes=0-8"}});
  CHECK(ranged.result() == http::status::partial_content);
  CHECK(body(ranged) == "moof+mdat");

  auto etag = header(part, http::field::etag);
  CHECK(get("/live/720p/part-t0-4.1.m4s", {{http::field::if_none_match, etag}}).result() == http::status::not_modified);
  CHECK(header(get("/live/720p/part-t0-4.0.m4s"), http::field::etag) != etag);
  CHECK(header(get("/live/360p/part-t0-4.0.m4s"), http::field::etag) !=
        header(get("/live/720p/part-t0-4.0.m4s"), http::field::etag));
}

TEST_CASE_METHOD(LowLatencyFixture, "the hinted part is held; other unknown parts are 404 at once", "[router][ll]") {
  for (const char* target : {"/live/720p/part-t0-4.2.m4s", "/live/720p/part-t0-5.0.m4s", "/live/360p/part-t0-4.1.m4s"}) {
    INFO(target);
    auto routed = route(http::verb::get, target);
    REQUIRE_FALSE(routed.response);
    CHECK(routed.hold.part);
    CHECK(routed.hold.timeout == std::chrono::milliseconds(6000));
  }
  CHECK_FALSE(route(http::verb::head, "/live/720p/part-t0-4.2.m4s").response);

  for (const char* target : {"/live/720p/part-t0-4.3.m4s", "/live/720p/part-t0-5.1.m4s", "/live/720p/part-t0-6.0.m4s",
                             "/live/720p/part-t0-3.4.m4s", "/live/720p/part-t0-0.0.m4s", "/live/720p/part-t0-04.1.m4s",
                             "/live/720p/part-t0-4.01.m4s", "/live/720p/part4.m4s", "/live/720p/part-t0-4.1.mp4",
                             "/live/720p/part.1.m4s", "/live/720p/part4..m4s", "/live/720p/part4.-1.m4s",
                             "/live/720p/seg-t0-4.m4s"}) {
    INFO(target);
    auto res = get(target);
    CHECK(res.result() == http::status::not_found);
  }
}

TEST_CASE_METHOD(LowLatencyFixture, "a held part is answered once published, or 404 once it cannot come",
                 "[router][ll]") {
  relay::net::Request hinted{http::verb::get, "/live/720p/part-t0-4.2.m4s", 11};
  relay::net::Request next_segment{http::verb::get, "/live/720p/part-t0-5.0.m4s", 11};
  REQUIRE_FALSE(handle(*router, hinted).response);
  REQUIRE_FALSE(handle(*router, next_segment).response);

  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
  auto served = handle(*router, hinted);
  REQUIRE(served.response);
  CHECK(served.response->result() == http::status::ok);
  CHECK(body(*served.response) == part_bytes("720p", 4, 2));
  CHECK_FALSE(handle(*router, next_segment).response);

  // Segment 4 closes with two parts: a player holding part-t0-4.2 of that timeline
  // will never get it; part-t0-5.0 is now the hint.
  store.publish(0, make_ll_snapshot("720p", 12, 4, 0, 2));
  CHECK(handle(*router, hinted).response->result() == http::status::not_found);
  CHECK_FALSE(handle(*router, next_segment).response);
  store.publish(0, make_ll_snapshot("720p", 13, 4, 1, 2));
  CHECK(handle(*router, next_segment).response->result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "without LL-HLS nothing is held", "[router][ll]") {
  publish_all();
  CHECK(get("/live/720p/part-t0-3.0.m4s").result() == http::status::not_found);
  CHECK(get("/live/720p/index.m3u8?_HLS_msn=3").result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "rendition requests with X-Playback-Session-Id count viewers per rendition",
                 "[router][viewers]") {
  const fs::path dir = web.root / "qa";
  cfg.qa.data_dir = dir;
  relay::health::Monitor monitor(cfg, relay::now_epoch_ms());
  Router viewing(cfg, store, ingest, files, {}, &monitor);
  publish_all();
  auto ask = [&](std::string target, std::string session) {
    relay::net::Request req{http::verb::get, target, 11};
    if (!session.empty()) req.set("X-Playback-Session-Id", session);
    auto routed = handle(viewing, req);
    REQUIRE(routed.response);
    return routed.response->result();
  };
  CHECK(ask("/live/720p/index.m3u8", "3F2504E0-4F89-11D3-9A0C-0305E82C3301") == http::status::ok);
  CHECK(ask("/live/720p/seg-t0-2.m4s", "3F2504E0-4F89-11D3-9A0C-0305E82C3301") == http::status::ok);
  CHECK(ask(init_path("360p"), "0123456789abcdef01234567") == http::status::ok);
  // A segment already gone still shows the player is there.
  CHECK(ask("/live/360p/seg-t0-99.m4s", "second-player-on-360p") == http::status::not_found);
  // Not counted: no header, a bad id, the master playlist (no rendition), an unknown rendition.
  CHECK(ask("/live/720p/index.m3u8", "") == http::status::ok);
  CHECK(ask("/live/720p/index.m3u8", "not a valid id") == http::status::ok);
  CHECK(ask("/live/master.m3u8", "master-only-player") == http::status::ok);
  CHECK(ask("/live/1080p/index.m3u8", "unknown-rendition-player") == http::status::not_found);

  auto count = monitor.viewers().count(relay::now_monotonic_ms());
  CHECK(count.total == 3);
  CHECK(count.by_rendition == std::map<std::string, size_t>{{"720p", 1}, {"360p", 2}});
}

// Every answer of the edge says how long a shared cache may keep it (RFC 8216bis
// Appendix B for HLS; nothing for the API); a response without one would be
// cached by a CDN's heuristics.
TEST_CASE_METHOD(LowLatencyFixture, "every response carries the Cache-Control meant for it", "[router][cache]") {
  constexpr const char* kMedia = "public, max-age=31536000, immutable";
  struct Row {
    http::verb method;
    std::string target;
    std::vector<std::pair<http::field, std::string>> headers;
    http::status status;
    std::string cache_control;
  };
  const std::string init = init_path("720p");
  const std::vector<Row> rows = {
      {http::verb::get, "/", {}, http::status::ok, "public, max-age=300"},
      {http::verb::get, "/static/player.js", {}, http::status::ok, "public, max-age=300"},
      {http::verb::get, "/vendor/hls.min.js", {}, http::status::ok, "public, max-age=300"},
      {http::verb::get, "/static/missing.js", {}, http::status::not_found, "no-store"},
      {http::verb::get, "/live/master.m3u8", {}, http::status::ok, "public, max-age=1"},
      {http::verb::get, "/live/720p/index.m3u8", {}, http::status::ok, "public, max-age=1"},
      {http::verb::get, "/live/720p/index.m3u8?_HLS_msn=3", {}, http::status::ok, "public, max-age=12"},
      {http::verb::get, "/live/720p/index.m3u8?_HLS_msn=9", {}, http::status::bad_request, "no-store"},
      {http::verb::get, "/live/720p/index.m3u8?_HLS_part=1", {}, http::status::bad_request, "no-store"},
      {http::verb::get, "/live/1080p/index.m3u8?_HLS_msn=3", {}, http::status::not_found, "public, max-age=8"},
      {http::verb::get, init, {}, http::status::ok, kMedia},
      {http::verb::get, init, {{http::field::range, "bytes=0-3"}}, http::status::partial_content, kMedia},
      {http::verb::get, init, {{http::field::range, "bytes=900-"}}, http::status::range_not_satisfiable, "no-store"},
      {http::verb::get, "/live/720p/seg-t0-2.m4s", {}, http::status::ok, kMedia},
      {http::verb::head, "/live/720p/seg-t0-2.m4s", {}, http::status::ok, kMedia},
      {http::verb::get, "/live/720p/part-t0-4.1.m4s", {}, http::status::ok, kMedia},
      {http::verb::get, "/live/720p/part-t0-2.0.m4s", {}, http::status::ok, kMedia},
      {http::verb::get, "/live/720p/part-t0-4.7.m4s", {}, http::status::not_found, "public, max-age=1"},
      {http::verb::get, "/live/720p/seg-t0-40.m4s", {}, http::status::not_found, "public, max-age=1"},
      {http::verb::get, "/live/720p/seg-old1-2.m4s", {}, http::status::not_found, "public, max-age=1"},
      {http::verb::get, "/live/720p/init.mp4", {}, http::status::not_found, "public, max-age=1"},
      {http::verb::get, "/api/health", {}, http::status::ok, "no-store"},
      {http::verb::get, "/api/qa/rooms", {}, http::status::not_found, "no-store"},
      {http::verb::get, "/api/qoe", {}, http::status::not_found, "no-store"},
      {http::verb::post, "/live/master.m3u8", {}, http::status::method_not_allowed, "no-store"},
      {http::verb::options, "/live/720p/seg-t0-2.m4s", {}, http::status::no_content, "no-store"},
      {http::verb::get, "/static/../secret", {}, http::status::bad_request, "no-store"},
  };
  for (const auto& row : rows) {
    INFO(std::string(http::to_string(row.method)) << " " << row.target);
    relay::net::Request req{row.method, row.target, 11};
    for (const auto& [field, value] : row.headers) req.set(field, value);
    auto routed = handle(*router, req, cfg.edge);
    REQUIRE(routed.response);
    CHECK(routed.response->result() == row.status);
    CHECK(header(*routed.response, http::field::cache_control) == row.cache_control);
    // A revalidation keeps the lifetime of what it revalidates.
    if (row.status == http::status::ok && row.method == http::verb::get) {
      req.set(http::field::if_none_match, header(*routed.response, http::field::etag));
      auto again = handle(*router, req, cfg.edge);
      REQUIRE(again.response);
      CHECK(again.response->result() == http::status::not_modified);
      CHECK(header(*again.response, http::field::cache_control) == row.cache_control);
    }
  }

  // Held requests, answered when their time runs out.
  struct HeldRow {
    std::string target;
    Router::HoldKind kind;
    std::string cache_control;
  };
  const std::vector<HeldRow> held_rows = {
      {"/live/720p/index.m3u8?_HLS_msn=5", Router::HoldKind::playlist, "public, max-age=8"},
      {"/live/720p/part-t0-4.2.m4s", Router::HoldKind::part, "no-store"},
  };
  for (const auto& row : held_rows) {
    INFO(row.target);
    auto routed = route(http::verb::get, row.target);
    REQUIRE_FALSE(routed.response);
    CHECK(routed.hold.kind == row.kind);
    relay::net::Request req{http::verb::get, row.target, 11};
    auto expired = expire(*router, req, routed.raw);
    CHECK(expired.result() == http::status::service_unavailable);
    CHECK(header(expired, http::field::cache_control) == row.cache_control);
  }
}

TEST_CASE_METHOD(LowLatencyFixture, "Last-Modified is the capture time of the media and If-Modified-Since is answered",
                 "[router][cache]") {
  // Segment 2 of the hand-made snapshots starts at 1'700'000'004'000 and lasts 2 s.
  auto segment = get("/live/720p/seg-t0-2.m4s");
  CHECK(header(segment, http::field::last_modified) == relay::net::format_http_date(1'700'000'006));
  // Part 4.1 starts at ...008'500 and lasts 0.5 s; it is also the playlist's newest.
  auto part = get("/live/720p/part-t0-4.1.m4s");
  CHECK(header(part, http::field::last_modified) == relay::net::format_http_date(1'700'000'009));
  CHECK(header(get("/live/720p/index.m3u8"), http::field::last_modified) ==
        relay::net::format_http_date(1'700'000'009));

  auto since = [&](const std::string& target, int64_t epoch_s, std::string etag = "") {
    relay::net::Request req{http::verb::get, target, 11};
    req.set(http::field::if_modified_since, relay::net::format_http_date(epoch_s));
    if (!etag.empty()) req.set(http::field::if_none_match, etag);
    auto routed = handle(*router, req, cfg.edge);
    REQUIRE(routed.response);
    return routed.response->result();
  };
  CHECK(since("/live/720p/seg-t0-2.m4s", 1'700'000'006) == http::status::not_modified);
  CHECK(since("/live/720p/seg-t0-2.m4s", 1'700'000'005) == http::status::ok);
  // If-None-Match decides when both are sent.
  CHECK(since("/live/720p/seg-t0-2.m4s", 1'700'000'006, "\"other\"") == http::status::ok);
  // A playlist changes within a second: unchanged only when its newest media is older than the whole second named.
  CHECK(since("/live/720p/index.m3u8", 1'700'000'009) == http::status::ok);
  CHECK(since("/live/720p/index.m3u8", 1'700'000'010) == http::status::not_modified);
  // Not a date: the whole answer.
  relay::net::Request garbled{http::verb::get, "/live/720p/seg-t0-2.m4s", 11};
  garbled.set(http::field::if_modified_since, "yesterday");
  CHECK(handle(*router, garbled, cfg.edge).response->result() == http::status::ok);
}

TEST_CASE_METHOD(RouterFixture, "subtitle renditions are served beside the video, as WebVTT, with their own holds",
                 "[router][captions]") {
  relay::hls::Store subtitles{{"subs-de"}};
  router->set_subtitles(&subtitles);
  publish_all();
  // The master names the subtitle playlist too: it waits for it, on the subtitle's channel.
  auto waiting = route(http::verb::get, "/live/master.m3u8");
  REQUIRE_FALSE(waiting.response);
  CHECK(waiting.hold.kind == Router::HoldKind::master);
  CHECK(waiting.raw.channel == router->subtitle_channel(0));
  CHECK(router->subtitle_channel(0) == 2);

  auto snap = make_ll_snapshot("subs-de", 1, 3, 2);
  snap->segment_extension = "vtt";
  subtitles.publish(0, snap);
  CHECK(get("/live/master.m3u8").result() == http::status::ok);

  auto segment = get("/live/subs-de/seg-t0-2.vtt");
  CHECK(segment.result() == http::status::ok);
  CHECK(header(segment, http::field::content_type) == "text/vtt; charset=utf-8");
  CHECK(header(segment, http::field::cache_control) == "public, max-age=31536000, immutable");
  auto part = get("/live/subs-de/part-t0-4.1.vtt");
  CHECK(part.result() == http::status::ok);
  CHECK(header(part, http::field::content_type) == "text/vtt; charset=utf-8");
  CHECK(body(part) == part_bytes("subs-de", 4, 1));
  // Video names are not subtitle names.
  CHECK(get("/live/subs-de/part-t0-4.1.m4s").result() == http::status::not_found);
  CHECK(get("/live/subs-de/seg-t0-2.m4s").result() == http::status::not_found);
  // Blocking reload and the hinted part wait on the subtitle's channel, not a video one.
  auto blocked = route(http::verb::get, "/live/subs-de/index.m3u8?_HLS_msn=4&_HLS_part=2");
  REQUIRE_FALSE(blocked.response);
  CHECK(blocked.hold.kind == Router::HoldKind::playlist);
  CHECK(blocked.raw.channel == 2);
  auto hinted = route(http::verb::get, "/live/subs-de/part-t0-4.2.vtt");
  REQUIRE_FALSE(hinted.response);
  CHECK(hinted.hold.part);
  CHECK(hinted.raw.channel == 2);
  CHECK(get("/live/subs-de/index.m3u8?_HLS_msn=4&_HLS_part=1").result() == http::status::ok);
}
