#include <catch2/catch.hpp>

#include "delivery/health_report.hpp"

using relay::delivery::make_health_report;

namespace {

std::shared_ptr<relay::hls::RenditionSnapshot> snapshot_with_segment(const std::string& name, int64_t published_ms) {
  auto snap = std::make_shared<relay::hls::RenditionSnapshot>();
  snap->name = name;
  snap->version = 1;
  auto seg = std::make_shared<relay::hls::Segment>();
  seg->msn = 7;
  seg->data = relay::hls::make_bytes("x");
  snap->segments[7] = seg;
  snap->last_msn = 7;
  snap->last_segment_epoch_ms = published_ms;
  return snap;
}

}  // namespace

TEST_CASE("health: age limits are 3 segment durations", "[health]") {
  relay::hls::Store store({"a", "b"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::live;
  ingest.since_epoch_ms = 1'700'000'000'000;
  relay::config::HlsConfig hls;
  hls.segment_duration_s = 2.0;
  const int64_t now = 1'700'000'100'000;

  store.publish(0, snapshot_with_segment("a", now - 1000));
  store.publish(1, snapshot_with_segment("b", now - 6000));
  auto report = make_health_report(store, ingest, hls, now, 12.5);
  CHECK(report["status"] == "ok");
  CHECK(report["renditions"][0]["last_segment_age_s"] == 1.0);
  CHECK(report["renditions"][1]["last_segment_age_s"] == 6.0);
  CHECK(report["renditions"][1]["last_msn"] == 7);
  CHECK(report["renditions"][1]["segments"] == 1);
  CHECK(report["uptime_s"] == 12.5);
  CHECK(report["ingest"]["since"] == "2023-11-14T22:13:20.000Z");

  store.publish(1, snapshot_with_segment("b", now - 6001));
  report = make_health_report(store, ingest, hls, now, 12.5);
  CHECK(report["status"] == "degraded");
  REQUIRE(report["reasons"].size() == 1);
  CHECK(report["reasons"][0].get<std::string>().rfind("b:", 0) == 0);
}

TEST_CASE("health: a rendition without segments while others have them is degraded", "[health]") {
  relay::hls::Store store({"a", "b"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::live;
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_with_segment("a", now));
  auto report = make_health_report(store, ingest, {}, now, 0);
  CHECK(report["status"] == "degraded");
  CHECK(report["renditions"][1]["last_segment_age_s"].is_null());
}

TEST_CASE("health: down wins over degraded", "[health]") {
  relay::hls::Store store({"a"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::failed;
  ingest.last_error = "src: gone";
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_with_segment("a", now - 60'000));
  auto report = make_health_report(store, ingest, {}, now, 0);
  CHECK(report["status"] == "down");
  CHECK(report["reasons"].size() == 2);
}

TEST_CASE("health: firing alerts lower the status and are listed with their reasons", "[health]") {
  relay::hls::Store store({"a"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::live;
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_with_segment("a", now - 500));
  auto report = make_health_report(store, ingest, {}, now, 0,
                                   {{"realtime_factor", 1'700'000'000'000, "a: encoding at 0.80 x realtime"}});
  CHECK(report["status"] == "degraded");
  REQUIRE(report["reasons"].size() == 1);
  CHECK(report["reasons"][0] ==
        "alert realtime_factor since 2023-11-14T22:13:20.000Z: a: encoding at 0.80 x realtime");
  REQUIRE(report["alerts"].size() == 1);
  CHECK(report["alerts"][0]["rule"] == "realtime_factor");
  CHECK(report["alerts"][0]["since"] == "2023-11-14T22:13:20.000Z");

  report = make_health_report(store, ingest, {}, now, 0, {{"input_lost", now - 1000, "no input"}});
  CHECK(report["status"] == "down");
  CHECK(make_health_report(store, ingest, {}, now, 0)["alerts"].empty());
}

TEST_CASE("health: codes name each kind of reason once; an unauthenticated ingest degrades", "[health]") {
  relay::hls::Store store({"a", "b"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::backup;
  relay::config::HlsConfig hls;
  hls.segment_duration_s = 2.0;
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_with_segment("a", now - 60000));
  store.publish(1, snapshot_with_segment("b", now - 60000));
  auto report = make_health_report(store, ingest, hls, now, 1, {}, /*unauthenticated_ingest=*/true);
  CHECK(report["status"] == "degraded");
  CHECK(report["reasons"].size() == 4);
  CHECK(report["codes"] == nlohmann::json{"input_backup", "segment_late", "ingest_unauthenticated"});
  CHECK(relay::delivery::public_health_report(report) ==
        nlohmann::json{{"status", "degraded"}, {"codes", report["codes"]}});
}

TEST_CASE("health: the hall uplink's push is reported, and degrades the status while it retries", "[health][uplink]") {
  relay::hls::Store store({"a"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::live;
  relay::config::HlsConfig hls;
  hls.segment_duration_s = 2.0;
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_with_segment("a", now - 1000));

  auto report = make_health_report(store, ingest, hls, now, 1);
  CHECK(report["uplink"]["state"] == "off");
  CHECK(report["status"] == "ok");

  relay::health::UplinkStatus uplink;
  uplink.bytes_pushed = 5000;
  uplink.media_bytes_pushed = 4000;
  report = make_health_report(store, ingest, hls, now, 1, {}, false, &uplink);
  CHECK(report["status"] == "ok");
  CHECK(report["uplink"]["state"] == "pushing");
  CHECK(report["uplink"]["bytes_pushed"] == 5000);

  uplink.state = "retrying";
  uplink.last_error = "PUT a/index.m3u8: answered 503";
  uplink.backlog_s = 4.5;
  uplink.backlog_bytes = 90'000;
  uplink.lag_s = 5;
  uplink.retries = 3;
  report = make_health_report(store, ingest, hls, now, 1, {}, false, &uplink);
  CHECK(report["status"] == "degraded");
  CHECK(report["codes"] == nlohmann::json::array({"uplink_retrying"}));
  CHECK(report["uplink"]["backlog_s"] == 4.5);
  CHECK(report["uplink"]["backlog_bytes"] == 90'000);
  CHECK(report["uplink"]["lag_s"] == 5.0);
  CHECK(report["uplink"]["retries"] == 3);
  CHECK(report["uplink"]["last_error"] == "PUT a/index.m3u8: answered 503");
  // The public report says only that.
  CHECK(relay::delivery::public_health_report(report).dump().find("503") == std::string::npos);
}

TEST_CASE("health: a push receiver shows its uplink, and a lost one as uplink_lost", "[health][push]") {
  relay::hls::Store store({"a"});
  relay::health::IngestSnapshot ingest;
  ingest.state = relay::health::IngestState::live;
  relay::config::HlsConfig hls;
  const int64_t now = 1'700'000'100'000;
  store.publish(0, snapshot_with_segment("a", now - 1000));
  auto report = make_health_report(store, ingest, hls, now, 1);
  CHECK(report["uplink"]["state"] == "off");  // neither a push receiver nor a pusher

  relay::health::UplinkInfo uplink;
  uplink.state = "receiving";
  uplink.last_object_age_s = 0.25;
  uplink.lag_s = 1.5;
  uplink.bytes_received = 123456;
  uplink.objects_accepted = 42;
  ingest.uplink = uplink;
  report = make_health_report(store, ingest, hls, now, 1);
  CHECK(report["status"] == "ok");
  CHECK(report["uplink"]["state"] == "receiving");
  CHECK(report["uplink"]["lag_s"] == 1.5);
  CHECK(report["uplink"]["bytes_received"] == 123456);
  CHECK(report["uplink"]["objects"] == 42);

  ingest.uplink->state = "lost";
  ingest.uplink->last_object_age_s = 4;
  report = make_health_report(store, ingest, hls, now, 1);
  CHECK(report["status"] == "degraded");
  CHECK(report["codes"] == nlohmann::json::array({"uplink_lost"}));
  CHECK(relay::delivery::public_health_report(report)["codes"][0] == "uplink_lost");

  // A relay that receives a push and pushes it on shows both.
  relay::health::UplinkStatus push;
  report = make_health_report(store, ingest, hls, now, 1, {}, false, &push);
  CHECK(report["uplink"]["state"] == "lost");
  CHECK(report["uplink_out"]["state"] == "pushing");
}
