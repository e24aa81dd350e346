#include <catch2/catch.hpp>

#include "config/source_uri.hpp"

using namespace relay::config;

TEST_CASE("source URIs split into what the pipeline builder needs", "[config]") {
  auto u = parse_source_uri("srt://:9000?mode=listener&latency=200");
  CHECK(u.kind == SourceKind::srt);
  CHECK(u.host.empty());
  CHECK(u.port == 9000);
  CHECK(u.query.at("latency") == "200");
  CHECK(u.srt_listener());
  CHECK_FALSE(u.pulls());

  u = parse_source_uri("srt://:9000");
  CHECK(u.srt_listener());
  u = parse_source_uri("srt://[::1]:9001");
  CHECK(u.host == "::1");
  CHECK(u.port == 9001);
  CHECK_FALSE(u.srt_listener());
  CHECK(u.pulls());

  u = parse_source_uri("rtsp://admin:pw@cam.local:8554/live?channel=1");
  CHECK(u.kind == SourceKind::rtsp);
  CHECK(u.host == "cam.local");
  CHECK(u.port == 8554);
  CHECK(u.path == "/live?channel=1");
  CHECK(u.pulls());

  u = parse_source_uri("rtmp://127.0.0.1/live/hall");
  CHECK(u.kind == SourceKind::rtmp);
  CHECK(u.port == 0);
  CHECK(u.path == "/live/hall");

  u = parse_source_uri("v4l2:///dev/video1");
  CHECK(u.kind == SourceKind::v4l2);
  CHECK(u.path == "/dev/video1");
  CHECK_FALSE(u.pulls());

  u = parse_source_uri("file:///srv/a b.mp4");
  CHECK(u.kind == SourceKind::file);
  CHECK(u.path == "/srv/a b.mp4");

  CHECK(parse_source_uri("test:").kind == SourceKind::test);
  u = parse_source_uri("push:");
  CHECK(u.kind == SourceKind::push);
  CHECK(u.push());
  CHECK_FALSE(u.pulls());
  CHECK_FALSE(parse_source_uri("test:").push());
}

TEST_CASE("bad source URIs say what is wrong and what is accepted", "[config]") {
  using Catch::Contains;
  CHECK_THROWS_WITH(parse_source_uri("srt://:0"), Contains("has no valid port ('0', expected 1..65535)"));
  CHECK_THROWS_WITH(parse_source_uri("srt://[::1:9000"), Contains("without its closing ']'"));
  CHECK_THROWS_WITH(parse_source_uri("srt://:9000?latency"), Contains("query item 'latency' without a value"));
  CHECK_THROWS_WITH(parse_source_uri("srt://:9000?mode=rendezvous"), Contains("names no host"));
  CHECK_THROWS_WITH(parse_source_uri("rtsp://"), Contains("names no host to pull from"));
  CHECK_THROWS_WITH(parse_source_uri("test"), Contains("accepted: \"test:\""));
  CHECK_THROWS_WITH(parse_source_uri(""), Contains("is not a source this build understands"));
}

TEST_CASE("a password may hold an unencoded '/' or '@'", "[config]") {
  auto u = parse_source_uri("rtsp://admin:pa/ss@wo@rd@cam.local:8554/live");
  CHECK(u.host == "cam.local");
  CHECK(u.port == 8554);
  CHECK(u.path == "/live");
  CHECK(u.text == "rtsp://admin:pa/ss@wo@rd@cam.local:8554/live");
}

TEST_CASE("an SRT listener is exposed unless bound to loopback or given a passphrase", "[config][srt]") {
  CHECK(parse_source_uri("srt://:9000?mode=listener").exposed_srt_listener());
  CHECK(parse_source_uri("srt://:9000").exposed_srt_listener());
  CHECK(parse_source_uri("srt://0.0.0.0:9000?mode=listener").exposed_srt_listener());
  CHECK(parse_source_uri("srt://[::]:9000?mode=listener").exposed_srt_listener());
  CHECK(parse_source_uri("srt://10.1.2.3:9000?mode=listener").exposed_srt_listener());
  CHECK(parse_source_uri("srt://127.0.0.1:9000?mode=listener&localaddress=0.0.0.0").exposed_srt_listener());
  CHECK_FALSE(parse_source_uri("srt://127.0.0.1:9000?mode=listener").exposed_srt_listener());
  CHECK_FALSE(parse_source_uri("srt://[::1]:9000?mode=listener").exposed_srt_listener());
  CHECK_FALSE(parse_source_uri("srt://:9000?mode=listener&localaddress=127.0.0.1").exposed_srt_listener());
  CHECK_FALSE(parse_source_uri("srt://:9000?mode=listener&passphrase=0123456789ab").exposed_srt_listener());
  CHECK_FALSE(parse_source_uri("srt://encoder.local:9000").exposed_srt_listener());
  CHECK_FALSE(parse_source_uri("test:").exposed_srt_listener());

  IngestConfig ingest;
  ingest.source = "srt://127.0.0.1:9000?mode=listener";
  CHECK_FALSE(accepts_unauthenticated_senders(ingest));
  ingest.backup_source = "srt://:9001?mode=listener";
  CHECK(accepts_unauthenticated_senders(ingest));
  ingest.srt_passphrase = "correct horse battery";
  CHECK_FALSE(accepts_unauthenticated_senders(ingest));
}
