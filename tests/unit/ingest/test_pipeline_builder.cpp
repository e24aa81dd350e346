#include <catch2/catch.hpp>

#include <regex>

#include "common/redact.hpp"
#include "ingest/pipeline_builder.hpp"

using namespace relay;

namespace {
config::Config shipped_defaults() {
  config::Config cfg;
  cfg.ingest.pipelines_dir = std::string(RELAY_SOURCE_DIR) + "/pipelines";
  return cfg;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("fill_template replaces placeholders, drops comments and rejects unknown ones") {
  CHECK(ingest::fill_template("# comment\na={x} ! b={y}\n", {{"x", "1"}, {"y", "two"}}, "t") == "a=1 ! b=two\n");
  CHECK_THROWS_WITH(ingest::fill_template("a={nope}", {}, "tmpl"), Catch::Contains("tmpl: unknown placeholder {nope}"));
  CHECK_THROWS_WITH(ingest::fill_template("a={open", {}, "tmpl"), Catch::Contains("unclosed"));
}

TEST_CASE("the test source is 1080p30 with a burned-in wall clock and a tone, normalised to the top rung") {
  auto cfg = shipped_defaults();
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK_THAT(t.primary, Catch::Contains("videotestsrc name=input is-live=true pattern=ball"));
  CHECK_THAT(t.primary, Catch::Contains("width=1920,height=1080,framerate=30/1"));
  CHECK_THAT(t.primary, Catch::Contains("clockoverlay"));
  CHECK_THAT(t.primary, Catch::Contains("audiotestsrc is-live=true"));
  CHECK_THAT(t.primary, Catch::Contains("format=I420,width=1280,height=720,framerate=30/1"));
  CHECK(count(t.primary, "channel=ch-primary ") == 2);
  CHECK(t.backup.empty());
  CHECK(t.primary.find('{') == std::string::npos);
}

TEST_CASE("a file source decodes the URI, percent-encoded, and syncs to the clock") {
  auto cfg = shipped_defaults();
  cfg.ingest.source = "file:///media/talk 1.mp4";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK_THAT(t.primary, Catch::Contains("uridecodebin uri=\"file:///media/talk%201.mp4\""));
  CHECK(count(t.primary, " sync=true") == 2);
  // The video sink prerolls, so the flushing seek that loops the file gives the
  // source a new base time (async=false left every frame after a loop late and
  // dropped); the audio sink does not, so a file without sound still starts.
  CHECK_THAT(t.primary, Catch::Contains("intervideosink name=source_video_sink channel=ch-primary sync=true async=true"));
  CHECK_THAT(t.primary, Catch::Contains("interaudiosink channel=ch-primary sync=true async=false"));
}

TEST_CASE("the ladder has one aligned encoder, muxer and appsink per rendition") {
  auto cfg = shipped_defaults();
  auto t = ingest::build_pipelines(cfg, "ch");
  for (auto name : {"720p", "480p", "360p"}) {
    CHECK(t.ladder.find(std::string("x264enc name=encoder_") + name) != std::string::npos);
    CHECK(t.ladder.find(std::string("mp4mux name=mux_") + name + " fragment-duration=500") != std::string::npos);
    CHECK(t.ladder.find(std::string("appsink name=sink_") + name) != std::string::npos);
  }
  // Fixed GOP of one segment, no scene cuts, no B-frames: keyframes line up.
  CHECK(count(t.ladder, "key-int-max=60 bframes=0") == 3);
  CHECK(count(t.ladder, "scenecut=0") == 3);
  CHECK_THAT(t.ladder, Catch::Contains("bitrate=2800 vbv-buf-capacity=500"));
  CHECK_THAT(t.ladder, Catch::Contains("bitrate=600 vbv-buf-capacity=500"));
  // Only the lower rungs scale; the top one is the normalised input size.
  CHECK(count(t.ladder, "videoscale") == 2);
  CHECK_THAT(t.ladder, Catch::Contains("video/x-h264,profile=high"));
  CHECK_THAT(t.ladder, Catch::Contains("avenc_aac bitrate=128000"));
  CHECK(t.ladder.find('{') == std::string::npos);
}

TEST_CASE("GOP and fragment follow the segment and part durations") {
  auto cfg = shipped_defaults();
  cfg.hls.segment_duration_s = 1.0;
  cfg.hls.part_duration_s = 0.25;
  cfg.ingest.framerate = 25;
  cfg.encoder.tune = "";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK_THAT(t.ladder, Catch::Contains("key-int-max=25"));
  CHECK_THAT(t.ladder, Catch::Contains("fragment-duration=250"));
  CHECK(t.ladder.find("tune=") == std::string::npos);
}

TEST_CASE("unsupported source schemes and missing templates are clear errors") {
  auto cfg = shipped_defaults();
  cfg.ingest.source = "gopher://x";
  CHECK_THROWS_WITH(ingest::build_pipelines(cfg, "ch"), Catch::Contains("'gopher://x' is not a source this build understands"));
  cfg = shipped_defaults();
  cfg.ingest.pipelines_dir = "/nonexistent";
  CHECK_THROWS_WITH(ingest::build_pipelines(cfg, "ch"), Catch::Contains("cannot read pipeline template"));
}

namespace {
std::string source_for(config::Config cfg, const std::string& uri) {
  cfg.ingest.source = uri;
  auto text = ingest::build_pipelines(cfg, "ch").primary;
  CHECK(text.find('{') == std::string::npos);
  // Every kind ends in the same normalising branches the relay links the decoder to.
  CHECK_THAT(text, Catch::Contains("queue name=video_in"));
  // Live inputs hand each picture over as soon as it is decoded.
  CHECK_THAT(text, Catch::Contains("intervideosink name=source_video_sink channel=ch-primary sync=false async=true"));
  if (text.find("audio_in") != std::string::npos)
    CHECK_THAT(text, Catch::Contains("interaudiosink channel=ch-primary sync=false async=false"));
  return text;
}
}  // namespace

TEST_CASE("an SRT listener takes latency and encryption from config unless the URI sets them") {
  auto cfg = shipped_defaults();
  auto text = source_for(cfg, "srt://:9000?mode=listener");
  CHECK_THAT(text, Catch::Contains("srtsrc name=input uri=\"srt://:9000?mode=listener\" latency=120 wait-for-connection=true"));
  CHECK_THAT(text, !Catch::Contains("passphrase"));
  CHECK_THAT(text, Catch::Contains("decodebin name=decode"));
  CHECK_THAT(text, Catch::Contains("queue name=audio_in"));

  cfg.ingest.srt_latency_ms = 400;
  cfg.ingest.srt_passphrase = "a passphrase \"quoted\"";
  cfg.ingest.srt_pbkeylen = 32;
  cfg.ingest.srt_streamid = "hall-a";
  // uri= comes first: srtsrc resets its options when the URI is set.
  text = source_for(cfg, "srt://:9000?mode=listener");
  CHECK_THAT(text, Catch::Contains("uri=\"srt://:9000?mode=listener\" latency=400 passphrase=\"a passphrase \\\"quoted\\\"\" "
                                   "pbkeylen=32 authentication=true wait-for-connection=true"));
  // A listener checks the stream id itself (authentication=true makes srtsrc ask);
  // it does not send one.
  CHECK_THAT(text, !Catch::Contains("streamid"));
  // The URI's own options win over the config's.
  text = source_for(cfg, "srt://:9000?mode=listener&latency=200&passphrase=from-the-uri-123");
  CHECK_THAT(text, Catch::Contains("uri=\"srt://:9000?mode=listener&latency=200&passphrase=from-the-uri-123\" "
                                   "authentication=true wait-for-connection=true"));
  text = source_for(cfg, "srt://encoder.local:9000");
  CHECK_THAT(text, Catch::Contains("uri=\"srt://encoder.local:9000\" latency=400 passphrase="));
  CHECK_THAT(text, Catch::Contains("streamid=\"hall-a\" wait-for-connection=true"));
}

TEST_CASE("an RTSP camera is pulled over the configured transport with its jitter buffer") {
  auto cfg = shipped_defaults();
  auto text = source_for(cfg, "rtsp://user:pw@10.0.0.5:554/stream1");
  CHECK_THAT(text, Catch::Contains("rtspsrc name=input location=\"rtsp://user:pw@10.0.0.5:554/stream1\" protocols=tcp latency=200"));
  cfg.ingest.rtsp_transport = "udp";
  cfg.ingest.rtsp_latency_ms = 50;
  text = source_for(cfg, "rtsp://cam/live");
  CHECK_THAT(text, Catch::Contains("protocols=udp latency=50"));
  // rtspsrc's pads come and go with the camera's streams; the relay adds decoders.
  CHECK(text.find("decodebin") == std::string::npos);
}

TEST_CASE("an RTMP stream is pulled live with rtmpsrc and decoded") {
  auto text = source_for(shipped_defaults(), "rtmp://127.0.0.1:1935/live/hall");
  CHECK_THAT(text, Catch::Contains("rtmpsrc name=input location=\"rtmp://127.0.0.1:1935/live/hall live=1\" timeout=5"));
  CHECK_THAT(text, Catch::Contains("decodebin name=decode"));
}

TEST_CASE("a v4l2 device asks for the configured format, size and rate, or takes the device's") {
  auto cfg = shipped_defaults();
  auto text = source_for(cfg, "v4l2:///dev/video2");
  CHECK_THAT(text, Catch::Contains("v4l2src name=input device=\"/dev/video2\" do-timestamp=true\n  ! queue"));
  CHECK(text.find("audio_in") == std::string::npos);
  cfg.ingest.v4l2_format = "YUY2";
  cfg.ingest.v4l2_width = 1920;
  cfg.ingest.v4l2_height = 1080;
  cfg.ingest.v4l2_framerate = 50;
  text = source_for(cfg, "v4l2:///dev/video0");
  CHECK_THAT(text, Catch::Contains("! video/x-raw,format=YUY2,width=1920,height=1080,framerate=50/1 ! queue"));
  cfg.ingest.v4l2_format = "MJPG";
  cfg.ingest.v4l2_framerate = 0;
  text = source_for(cfg, "v4l2:///dev/video0");
  CHECK_THAT(text, Catch::Contains("! image/jpeg,width=1920,height=1080 ! queue"));
}

TEST_CASE("a backup input gets its own pipeline and channel, and its own selector pad") {
  auto cfg = shipped_defaults();
  cfg.ingest.source = "srt://:9000?mode=listener";
  cfg.ingest.backup_source = "rtsp://cam/backup";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK_THAT(t.primary, Catch::Contains("channel=ch-primary"));
  CHECK_THAT(t.backup, Catch::Contains("rtspsrc name=input"));
  CHECK(count(t.backup, "channel=ch-backup ") == 2);
  CHECK_THAT(t.ladder, Catch::Contains("intervideosrc channel=ch-primary"));
  CHECK_THAT(t.ladder, Catch::Contains("intervideosrc channel=ch-backup"));
  CHECK(count(t.ladder, "video_select.sink_") == 3);
  CHECK(count(t.ladder, "audio_select.sink_") == 3);
  // The slate comes after the inputs.
  CHECK_THAT(t.ladder, Catch::Contains("imagefreeze is-live=true\n  ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1,"
                      "pixel-aspect-ratio=1/1\n  ! queue max-size-buffers=2 ! video_select.sink_2"));
  CHECK_THAT(t.ladder, Catch::Contains("audiotestsrc is-live=true wave=silence"));
}

TEST_CASE("the slate is the configured colour or image with the configured text") {
  auto cfg = shipped_defaults();
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK_THAT(t.ladder, Catch::Contains("videotestsrc pattern=solid-color foreground-color=0xff1d3557 num-buffers=1"));
  CHECK_THAT(t.ladder, Catch::Contains("textoverlay text=\"We'll be right back \u00b7 Wir sind gleich zur\u00fcck\""));
  CHECK(count(t.ladder, "video_select.sink_") == 2);
  // A lost input repeats its last picture until the slate is on air, never black.
  CHECK_THAT(t.ladder, Catch::Contains("intervideosrc channel=ch-primary timeout=4500000000"));
  cfg.ingest.slate_image = "/srv/slate 1.png";
  cfg.ingest.slate_text = "";
  t = ingest::build_pipelines(cfg, "ch");
  CHECK_THAT(t.ladder, Catch::Contains("filesrc location=\"/srv/slate 1.png\" ! decodebin ! videoconvert ! videoscale add-borders=true"));
  CHECK_THAT(t.ladder, Catch::Contains("textoverlay text=\"\""));
}

TEST_CASE("the source pipeline, as logged at debug level, shows no password, passphrase or stream key") {
  auto cfg = shipped_defaults();
  cfg.ingest.srt_passphrase = "phrase with \"quotes\" 42";
  auto shown = [&](const std::string& uri) {
    const std::string text = ingest::build_source_pipeline(cfg, config::parse_source_uri(uri), "ch");
    return std::pair{text, text::redact_secrets(text)};
  };
  auto [srt, srt_shown] = shown("srt://:9000?mode=listener");
  CHECK_THAT(srt, Catch::Contains("with \\\"quotes"));
  CHECK(srt_shown.find("quotes") == std::string::npos);
  CHECK_THAT(srt_shown, Catch::Contains("srt://:9000?mode=listener"));
  auto [rtsp, rtsp_shown] = shown("rtsp://user:pa%2Fss@127.0.0.1:1/x");
  CHECK_THAT(rtsp, Catch::Contains("pa%2Fss"));
  CHECK(rtsp_shown.find("pa%2Fss") == std::string::npos);
  auto [rtmp, rtmp_shown] = shown("rtmp://127.0.0.1/live/streamkey123");
  CHECK_THAT(rtmp, Catch::Contains("streamkey123"));
  CHECK(rtmp_shown.find("streamkey123") == std::string::npos);
}

TEST_CASE("container = mpegts muxes each rung with mpegtsmux, same encoders") {
  auto cfg = shipped_defaults();
  cfg.hls.container = "mpegts";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK(count(t.ladder, "mpegtsmux name=mux_") == 3);
  CHECK(t.ladder.find("mp4mux") == std::string::npos);
  CHECK(count(t.ladder, "key-int-max=60 bframes=0") == 3);
  CHECK_THAT(t.ladder, Catch::Contains("mux_720p.sink_65"));
}

TEST_CASE("[[audio]] tracks: an own inter channel each, the floor as a rendition, the video without sound") {
  auto cfg = shipped_defaults();
  cfg.audio = {{"English", "en", "srt://:9001?mode=listener", 64, "audio-1"},
               {"Italiano", "it", "test:", 0, "audio-2"},
               {"Deutsch", "de", "channel:2", 0, "audio-3"}};
  auto ladder = ingest::build_ladder_pipeline(cfg, "ch", 1);
  // Each track from its own channel (channel: from the floor before its encoder), encoded at its bitrate.
  CHECK_THAT(ladder, Catch::Contains("interaudiosrc channel=ch-audio-1"));
  CHECK_THAT(ladder, Catch::Contains("interaudiosrc channel=ch-audio-2"));
  CHECK(count(ladder, "interaudiosrc channel=ch-audio-") == 2);
  CHECK_THAT(ladder, Catch::Contains(
                         "floor_raw. ! queue ! audioconvert mix-matrix=\"<<(float)0.0,(float)1.0>,<(float)0.0,(float)1.0>>\""));
  CHECK_THAT(ladder, Catch::Contains("avenc_aac bitrate=64000 ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw"));
  CHECK(count(ladder, "appsink name=audio_sink_") == 4);  // three tracks and the floor
  CHECK_THAT(ladder, Catch::Contains("appsink name=audio_sink_floor"));
  CHECK(count(ladder, ".audio_0") == 0);  // no rung muxes sound
  CHECK(ladder.find('{') == std::string::npos);

  auto srt = ingest::build_audio_source_pipeline(cfg, 0, "ch");
  CHECK_THAT(srt, Catch::Contains("srtsrc name=input uri=\"srt://:9001?mode=listener\" latency=120"));
  CHECK_THAT(srt, Catch::Contains("interaudiosink channel=ch-audio-1"));
  auto tone = ingest::build_audio_source_pipeline(cfg, 1, "ch");
  CHECK_THAT(tone, Catch::Contains("audiotestsrc name=input is-live=true wave=sine freq=880"));
  CHECK_THROWS_AS(ingest::build_audio_source_pipeline(cfg, 2, "ch"), ingest::PipelineError);

  // Without tracks every rung muxes the floor sound as before.
  cfg.audio.clear();
  CHECK(count(ingest::build_ladder_pipeline(cfg, "ch", 1), "audio. ! queue ! mux_") == 3);
}
