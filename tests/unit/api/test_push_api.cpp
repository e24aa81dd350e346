#include <catch2/catch.hpp>

#include <string>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "../hls/fmp4_fixture.hpp"
#include "api/push_api.hpp"
#include "api/route_table.hpp"
#include "auth/authority.hpp"
#include "config/config.hpp"
#include "delivery/router.hpp"
#include "delivery/static_files.hpp"
#include "exchange.hpp"
#include "health/ingest_status.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"
#include "hls/push_receiver.hpp"
#include "hls/store.hpp"

namespace http = boost::beast::http;
using namespace relay;

namespace {

constexpr const char* kToken = "push-token-0123456789abcdef";

struct Rig {
  hls::Store store{{"720p"}};
  hls::MasterPlaylist master{{{"720p", 2800, 128, 0.5, 2.0, 30.0}}, store};
  hls::Packager packager{{"720p", 2.0, 6, 0, 64u << 20, 0.5}, 0, store, &master};
  hls::PushReceiver receiver{{&packager}, hls::PushLimits{}};
  auth::Authority authority{config::QaConfig{}};
  api::PushApi api{authority, &receiver, store};
  Rig() { authority.set_push_tokens({kToken}); }
};

net::Response send(const api::PushApi& api, http::verb method, const std::string& target, std::string body,
                   const char* token = kToken) {
  net::Request req{method, target, 11};
  if (token) req.set(http::field::authorization, fmt::format("Bearer {}", token));
  req.body() = std::move(body);
  req.prepare_payload();
  return test::respond(api, req);
}

std::string error_of(const net::Response& res) { return std::string(res.body().view()); }

}  // namespace

TEST_CASE("push api: closed unless the relay is a receiver with tokens; then a token is needed", "[push]") {
  Rig rig;
  hls::Store store{{"720p"}};
  auth::Authority authority{config::QaConfig{}};
  api::PushApi closed(authority, nullptr, store);
  auto res = send(closed, http::verb::put, "/ingest/720p/init.mp4", "x");
  CHECK(res.result() == http::status::unauthorized);
  CHECK_THAT(error_of(res), Catch::Contains("push_not_configured"));
  CHECK(closed.max_body_bytes() == 0);

  res = send(rig.api, http::verb::put, "/ingest/720p/init.mp4", "x", nullptr);
  CHECK(res.result() == http::status::unauthorized);
  CHECK(res[http::field::www_authenticate] == "Bearer");
  res = send(rig.api, http::verb::put, "/ingest/720p/init.mp4", "x", "another-token-0123456789abcdef");
  CHECK(res.result() == http::status::unauthorized);
  CHECK(rig.receiver.totals().objects_rejected == 2);
  CHECK(rig.receiver.totals().objects_accepted == 0);
}

TEST_CASE("push api: unknown rendition 404, bad names and playlists 400, wrong method 405", "[push]") {
  Rig rig;
  CHECK(send(rig.api, http::verb::put, "/ingest/1080p/seg1.m4s", "x").result() == http::status::not_found);
  CHECK(send(rig.api, http::verb::put, "/ingest/720p", "x").result() == http::status::not_found);
  CHECK(send(rig.api, http::verb::put, "/ingest/720p/a%20b.m4s", "x").result() == http::status::bad_request);
  auto res = send(rig.api, http::verb::put, "/ingest/720p/index.m3u8", "garbage");
  CHECK(res.result() == http::status::bad_request);
  CHECK_THAT(error_of(res), Catch::Contains("bad_playlist") && Catch::Contains("#EXTM3U"));
  res = send(rig.api, http::verb::get, "/ingest/720p/seg1.m4s", "");
  CHECK(res.result() == http::status::method_not_allowed);
  CHECK(res[http::field::allow] == "PUT, POST, DELETE");
  CHECK(send(rig.api, http::verb::put, "/ingest/master.m3u8", "#EXTM3U\n").result() == http::status::no_content);
  CHECK(send(rig.api, http::verb::delete_, "/ingest/720p/seg0.m4s", "").result() == http::status::no_content);
}

TEST_CASE("push api: objects then their playlist are republished by the rendition's packager", "[push]") {
  Rig rig;
  CHECK(send(rig.api, http::verb::put, "/ingest/720p/init.mp4", fixture::init_segment()).result() ==
        http::status::no_content);
  std::string playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"init.mp4\"\n";
  for (int s = 0; s < 3; ++s) {
    std::string segment;
    for (int i = 0; i < 4; ++i) {
      const uint64_t frame = uint64_t(s) * 60 + uint64_t(i) * 15;
      segment += fixture::audio_part(frame * 1600, 23) + fixture::video_part(frame, 15, i == 0);
    }
    CHECK(send(rig.api, http::verb::put, fmt::format("/ingest/720p/index{}.m4s", s), segment).result() ==
          http::status::no_content);
    playlist += fmt::format("#EXTINF:2.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:0{}.000+0000\nindex{}.m4s\n",
                            2 * s, s);
    CHECK(send(rig.api, http::verb::put, "/ingest/720p/index.m3u8", playlist).result() == http::status::no_content);
  }
  auto snap = rig.store.rendition(0);
  REQUIRE(snap);
  REQUIRE(snap->playlist);
  CHECK(snap->last_msn == 3);  // each published as soon as its playlist lists it, not at the next IDR
  CHECK(snap->segments.at(1)->pdt_epoch_ms == 1'767'225'600'000);
  CHECK(snap->init);
  auto totals = rig.receiver.totals();
  CHECK(totals.objects_accepted == 7);
  CHECK(totals.newest_pdt_epoch_ms == 1'767'225'606'000);
  CHECK(totals.bytes > 3000);
}

TEST_CASE("route table: /ingest/ goes to the push api, whose body limit only a receiver raises", "[push]") {
  config::Config cfg;
  cfg.edge.web_dir = std::string(RELAY_SOURCE_DIR) + "/web";
  health::IngestStatus ingest("push:");
  Rig rig;
  auto files = delivery::StaticFiles::load(cfg.edge.web_dir, "/nonexistent");
  delivery::Router router(cfg, rig.store, ingest, files, {});
  api::RouteTable plain(cfg.edge, router, nullptr, nullptr);
  api::RouteTable receiving(cfg.edge, router, nullptr, nullptr, api::Port::edge, &rig.api);
  const size_t route = plain.route("/ingest/720p/seg1.m4s");
  CHECK(api::RouteTable::label(route) == api::RouteLabel::ingest);
  CHECK(plain.largest_body_bytes() == 0);
  CHECK(plain.info(route).max_body_bytes == 0);
  CHECK(receiving.largest_body_bytes() == 16u << 20);
  CHECK(receiving.info(route).max_body_bytes == 16u << 20);
  CHECK(receiving.info(receiving.route("/api/qa/rooms")).max_body_bytes == 0);

  net::Request req{http::verb::put, "/ingest/720p/seg1.m4s", 11};
  const net::RequestTarget target = net::parse_request_target(req.target());
  auto outcome = plain.handle(net::Exchange{req, target, "127.0.0.1", route});
  REQUIRE(std::holds_alternative<net::Response>(outcome));
  CHECK(std::get<net::Response>(outcome).result() == http::status::unauthorized);
}
