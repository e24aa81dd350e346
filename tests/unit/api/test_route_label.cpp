#include <catch2/catch.hpp>

#include "api/route_label.hpp"

using namespace relay::api;

TEST_CASE("request targets map to a small set of route labels", "[route_label]") {
  CHECK(classify_route("/") == RouteLabel::page);
  CHECK(classify_route("/tech?x=1") == RouteLabel::page);
  CHECK(classify_route("/static/player.js") == RouteLabel::static_file);
  CHECK(classify_route("/vendor/hls.min.js") == RouteLabel::static_file);
  CHECK(classify_route("/live/master.m3u8") == RouteLabel::master);
  CHECK(classify_route("/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=1") == RouteLabel::playlist);
  CHECK(classify_route("/live/720p/init.mp4") == RouteLabel::init);
  CHECK(classify_route("/live/720p/seg42.m4s") == RouteLabel::segment);
  CHECK(classify_route("/live/720p/seg42.ts") == RouteLabel::segment);
  CHECK(classify_route("/live/720p/part42.3.m4s") == RouteLabel::part);
  CHECK(classify_route("/live/720p/other.txt") == RouteLabel::other);
  CHECK(classify_route("/api/health") == RouteLabel::health);
  CHECK(classify_route("/metrics") == RouteLabel::metrics);
  CHECK(classify_route("/api/incidents?token=x") == RouteLabel::incidents);
  CHECK(classify_route("/api/qoe") == RouteLabel::qoe);
  CHECK(classify_route("/api/qa/rooms") == RouteLabel::qa);
  CHECK(classify_route("/ingest/720p/seg42.m4s") == RouteLabel::ingest);
  CHECK(classify_route("/ingest/master.m3u8") == RouteLabel::ingest);
  CHECK(classify_route("/nope") == RouteLabel::other);
  CHECK(classify_route("") == RouteLabel::other);
  CHECK(std::string(to_string(RouteLabel::playlist)) == "media_playlist");
}
