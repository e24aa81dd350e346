#include <catch2/catch.hpp>

#include "common/redact.hpp"

using relay::text::redact_secrets;

namespace {
bool hides(const std::string& text, const std::string& secret) {
  return redact_secrets(text).find(secret) == std::string::npos;
}
}  // namespace

TEST_CASE("redact: an RTSP password, plain, with / or @, percent-encoded or not", "[redact]") {
  CHECK(redact_secrets("rtsp://admin:hunter2@cam.local:554/stream1") == "rtsp://***@cam.local:554/stream1");
  CHECK(redact_secrets("rtsp://admin:pa%2Fss%40word@10.0.0.9/live") == "rtsp://***@10.0.0.9/live");
  CHECK(redact_secrets("rtsp://admin:pa/ss@word@10.0.0.9/live") == "rtsp://***@10.0.0.9/live");
  CHECK(hides("rtsp://u:s3cr3t/x@h/p", "s3cr3t"));
  CHECK(hides("rtsp://u:s3cr3t/x@h/p", "/x"));
}

TEST_CASE("redact: a token given as the user name", "[redact]") {
  CHECK(redact_secrets("rtsp://TOKEN0123456789@camera.example/ch1") == "rtsp://***@camera.example/ch1");
  CHECK(redact_secrets("srt://KEY99@host:9000") == "srt://***@host:9000");
}

TEST_CASE("redact: SRT passphrase and stream id in the query; harmless options stay", "[redact]") {
  CHECK(redact_secrets("srt://:9000?mode=listener&passphrase=correct-horse-battery&latency=200") ==
        "srt://:9000?mode=listener&passphrase=***&latency=200");
  CHECK(redact_secrets("srt://host:9000?streamid=#!::r=live,m=publish&mode=caller") ==
        "srt://host:9000?streamid=***&mode=caller");
}

TEST_CASE("redact: the RTMP stream key, the last path element", "[redact]") {
  CHECK(redact_secrets("rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl") == "rtmp://a.rtmp.youtube.com/live2/***");
  CHECK(redact_secrets("rtmps://host:443/app/key123?x=1") == "rtmps://host:443/app/***?x=***");
  CHECK(redact_secrets("rtmp://host") == "rtmp://host");
}

TEST_CASE("redact: a webhook URL's query", "[redact]") {
  CHECK(redact_secrets("https://hooks.example/alert?key=SECRET&x=1") == "https://hooks.example/alert?key=***&x=***");
  CHECK(redact_secrets("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook");
}

TEST_CASE("redact: URIs inside text, such as a pipeline or a GStreamer error", "[redact]") {
  const std::string pipeline =
      "rtspsrc location=\"rtsp://user:pa/ss@127.0.0.1:1/x\" protocols=tcp ! decodebin ! srtsrc "
      "uri=\"srt://:9000?mode=listener\" passphrase=\"long enough \\\"phrase\\\"\" pbkeylen=16";
  const std::string out = redact_secrets(pipeline);
  CHECK(out.find("pa/ss") == std::string::npos);
  CHECK(out.find("long enough") == std::string::npos);
  CHECK(out.find("\\\"phrase") == std::string::npos);
  CHECK(out.find("rtsp://***@127.0.0.1:1/x") != std::string::npos);
  CHECK(out.find("pbkeylen=16") != std::string::npos);
  CHECK(out.find("passphrase=\"***\"") != std::string::npos);
  CHECK(redact_secrets("Could not open resource rtsp://u:p@h/s for reading: 'rtmp://h/app/KEY' failed") ==
        "Could not open resource rtsp://***@h/s for reading: 'rtmp://h/app/***' failed");
  CHECK(redact_secrets("uri=\"srt://h:1?passphrase=with\\\"quote-inside&mode=caller\" x") ==
        "uri=\"srt://h:1?passphrase=***&mode=caller\" x");
  CHECK(redact_secrets("srtsrc streamid=abcdef passphrase=0123456789ab") == "srtsrc streamid=*** passphrase=***");
}

TEST_CASE("redact: text without secrets is unchanged", "[redact]") {
  for (const char* plain : {"", "test:", "file:///srv/talk.mp4", "file:///media/a@b.mp4", "v4l2:///dev/video0", "listening on 0.0.0.0:8080",
                            "srt://:9000?mode=listener", "odd :// text", "://"})
    CHECK(redact_secrets(plain) == plain);
}
