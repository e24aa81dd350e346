#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/schema.hpp"

using namespace relay::config;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const std::filesystem::path kSourceDir = RELAY_SOURCE_DIR;

// The message of the ConfigError that parsing `text` (as "relay.toml") throws.
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, "relay.toml", overrides);
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  FAIL("expected a ConfigError for:\n" << text);
  return {};
}

void check_same(const Config& actual, const Config& expected) {
  CHECK(actual.edge.listen == expected.edge.listen);
  CHECK(actual.edge.threads == expected.edge.threads);
  CHECK(actual.edge.cors_origins == expected.edge.cors_origins);
  CHECK(actual.edge.web_dir == expected.edge.web_dir);
  CHECK(actual.edge.node_modules_dir == expected.edge.node_modules_dir);
  CHECK(actual.edge.read_timeout_s == expected.edge.read_timeout_s);
  CHECK(actual.edge.max_header_bytes == expected.edge.max_header_bytes);
  CHECK(actual.edge.max_body_bytes == expected.edge.max_body_bytes);
  CHECK(actual.edge.header_timeout_s == expected.edge.header_timeout_s);
  CHECK(actual.edge.idle_timeout_s == expected.edge.idle_timeout_s);
  CHECK(actual.edge.max_connections == expected.edge.max_connections);
  CHECK(actual.edge.max_connections_per_ip == expected.edge.max_connections_per_ip);
  CHECK(actual.edge.shutdown_grace_s == expected.edge.shutdown_grace_s);
  CHECK(actual.edge.trusted_proxies == expected.edge.trusted_proxies);
  CHECK(actual.edge.forwarded_header == expected.edge.forwarded_header);
  CHECK(actual.edge.frame_ancestors == expected.edge.frame_ancestors);
  CHECK(actual.edge.websocket_origins == expected.edge.websocket_origins);
  CHECK(actual.edge.plain_http == expected.edge.plain_http);
  CHECK(actual.edge.hsts_max_age_s == expected.edge.hsts_max_age_s);

  CHECK(actual.scale.pathways.size() == expected.scale.pathways.size());
  CHECK(actual.scale.steering_ttl_s == expected.scale.steering_ttl_s);
  CHECK(actual.scale.steering_uri == expected.scale.steering_uri);

  CHECK(actual.ingest.source == expected.ingest.source);
  CHECK(actual.ingest.pipelines_dir == expected.ingest.pipelines_dir);
  CHECK(actual.ingest.width == expected.ingest.width);
  CHECK(actual.ingest.height == expected.ingest.height);
  CHECK(actual.ingest.framerate == expected.ingest.framerate);
  CHECK(actual.ingest.loop == expected.ingest.loop);
  CHECK(actual.ingest.test_pattern == expected.ingest.test_pattern);
  CHECK(actual.ingest.backup_source == expected.ingest.backup_source);
  CHECK(actual.ingest.input_timeout_s == expected.ingest.input_timeout_s);
  CHECK(actual.ingest.slate_after_s == expected.ingest.slate_after_s);
  CHECK(actual.ingest.failback_s == expected.ingest.failback_s);
  CHECK(actual.ingest.reconnect_max_s == expected.ingest.reconnect_max_s);
  CHECK(actual.ingest.slate_image == expected.ingest.slate_image);
  CHECK(actual.ingest.slate_text == expected.ingest.slate_text);
  CHECK(actual.ingest.slate_color == expected.ingest.slate_color);
  CHECK(actual.ingest.srt_latency_ms == expected.ingest.srt_latency_ms);
  CHECK(actual.ingest.srt_passphrase == expected.ingest.srt_passphrase);
  CHECK(actual.ingest.srt_pbkeylen == expected.ingest.srt_pbkeylen);
  CHECK(actual.ingest.srt_streamid == expected.ingest.srt_streamid);
  CHECK(actual.ingest.rtsp_transport == expected.ingest.rtsp_transport);
  CHECK(actual.ingest.rtsp_latency_ms == expected.ingest.rtsp_latency_ms);
  CHECK(actual.ingest.v4l2_format == expected.ingest.v4l2_format);
  CHECK(actual.ingest.v4l2_width == expected.ingest.v4l2_width);
  CHECK(actual.ingest.v4l2_height == expected.ingest.v4l2_height);
  CHECK(actual.ingest.v4l2_framerate == expected.ingest.v4l2_framerate);
  CHECK(actual.ingest.allow_unauthenticated == expected.ingest.allow_unauthenticated);
  CHECK(actual.ingest.push_tokens == expected.ingest.push_tokens);

  CHECK(actual.encoder.preset == expected.encoder.preset);
  CHECK(actual.encoder.tune == expected.encoder.tune);
  CHECK(actual.encoder.vbv_buffer_s == expected.encoder.vbv_buffer_s);
  CHECK(actual.encoder.audio_bitrate_kbps == expected.encoder.audio_bitrate_kbps);
  CHECK(actual.encoder.audio_channels == expected.encoder.audio_channels);
  CHECK(actual.encoder.audio_rate == expected.encoder.audio_rate);
  REQUIRE(actual.encoder.renditions.size() == expected.encoder.renditions.size());
  for (std::size_t i = 0; i < expected.encoder.renditions.size(); ++i) {
    const Rendition& a = actual.encoder.renditions[i];
    const Rendition& e = expected.encoder.renditions[i];
    INFO("rendition " << i);
    CHECK(a.name == e.name);
    CHECK(a.width == e.width);
    CHECK(a.height == e.height);
    CHECK(a.bitrate_kbps == e.bitrate_kbps);
    CHECK(a.profile == e.profile);
  }

  CHECK(actual.hls.segment_duration_s == expected.hls.segment_duration_s);
  CHECK(actual.hls.part_duration_s == expected.hls.part_duration_s);
  CHECK(actual.hls.live_window == expected.hls.live_window);
  CHECK(actual.hls.dvr_window_s == expected.hls.dvr_window_s);
  CHECK(actual.hls.max_memory_mb == expected.hls.max_memory_mb);
  CHECK(actual.hls.low_latency == expected.hls.low_latency);
  CHECK(actual.hls.container == expected.hls.container);

  CHECK(actual.log.level == expected.log.level);

  CHECK(actual.qa.data_dir == expected.qa.data_dir);
  CHECK(actual.qa.synchronous == expected.qa.synchronous);
  CHECK(actual.qa.default_room_title == expected.qa.default_room_title);
  CHECK(actual.qa.max_question_chars == expected.qa.max_question_chars);
  CHECK(actual.qa.max_name_chars == expected.qa.max_name_chars);
  CHECK(actual.qa.questions_per_minute == expected.qa.questions_per_minute);
  CHECK(actual.qa.question_burst == expected.qa.question_burst);
  CHECK(actual.qa.attendees_per_minute == expected.qa.attendees_per_minute);
  CHECK(actual.qa.attendee_burst == expected.qa.attendee_burst);
  CHECK(actual.qa.slow_mode_s == expected.qa.slow_mode_s);
  CHECK(actual.qa.auto_approve == expected.qa.auto_approve);
  CHECK(actual.qa.word_list == expected.qa.word_list);
  CHECK(actual.qa.word_list_file == expected.qa.word_list_file);
  CHECK(actual.qa.moderator_tokens == expected.qa.moderator_tokens);
  CHECK(actual.qa.speaker_tokens == expected.qa.speaker_tokens);
  CHECK(actual.qa.technician_tokens == expected.qa.technician_tokens);
  CHECK(actual.qa.admin_tokens == expected.qa.admin_tokens);
  CHECK(actual.qa.vote_interval_ms == expected.qa.vote_interval_ms);
  CHECK(actual.qa.ws_queue_limit == expected.qa.ws_queue_limit);
  CHECK(actual.qa.ws_resume_events == expected.qa.ws_resume_events);

  CHECK(actual.health.incident_log == expected.health.incident_log);
  CHECK(actual.health.input_lost_hold_s == expected.health.input_lost_hold_s);
  CHECK(actual.health.input_bitrate_min_kbps == expected.health.input_bitrate_min_kbps);
  CHECK(actual.health.input_bitrate_max_kbps == expected.health.input_bitrate_max_kbps);
  CHECK(actual.health.input_bitrate_hold_s == expected.health.input_bitrate_hold_s);
  CHECK(actual.health.input_framerate_min == expected.health.input_framerate_min);
  CHECK(actual.health.input_framerate_hold_s == expected.health.input_framerate_hold_s);
  CHECK(actual.health.input_keyframe_interval_max_s == expected.health.input_keyframe_interval_max_s);
  CHECK(actual.health.input_keyframe_interval_hold_s == expected.health.input_keyframe_interval_hold_s);
  CHECK(actual.health.segment_late_factor == expected.health.segment_late_factor);
  CHECK(actual.health.segment_late_hold_s == expected.health.segment_late_hold_s);
  CHECK(actual.health.realtime_factor_min == expected.health.realtime_factor_min);
  CHECK(actual.health.realtime_window_s == expected.health.realtime_window_s);
  CHECK(actual.health.realtime_hold_s == expected.health.realtime_hold_s);
  CHECK(actual.health.audio_silence_db == expected.health.audio_silence_db);
  CHECK(actual.health.audio_silence_hold_s == expected.health.audio_silence_hold_s);
  CHECK(actual.health.viewer_stalls_per_minute_max == expected.health.viewer_stalls_per_minute_max);
  CHECK(actual.health.viewer_stalls_hold_s == expected.health.viewer_stalls_hold_s);
  CHECK(actual.health.viewer_window_s == expected.health.viewer_window_s);
  CHECK(actual.health.webhook_url == expected.health.webhook_url);
  CHECK(actual.health.webhook_secret == expected.health.webhook_secret);
  CHECK(actual.health.webhook_retries == expected.health.webhook_retries);
  CHECK(actual.health.webhook_timeout_s == expected.health.webhook_timeout_s);
  CHECK(actual.health.allow_insecure_webhooks == expected.health.allow_insecure_webhooks);
  CHECK(actual.health.listen == expected.health.listen);
  CHECK(actual.uplink.url == expected.uplink.url);
  CHECK(actual.uplink.token == expected.uplink.token);
  CHECK(actual.uplink.token_file == expected.uplink.token_file);
  CHECK(actual.uplink.backlog_s == expected.uplink.backlog_s);
  CHECK(actual.uplink.backlog_mb == expected.uplink.backlog_mb);
  CHECK(actual.uplink.timeout_s == expected.uplink.timeout_s);
  CHECK(actual.uplink.allow_insecure == expected.uplink.allow_insecure);
}

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  TempDir() {
    std::random_device random;
    path = std::filesystem::temp_directory_path() / ("relay-config-test-" + std::to_string(random()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("an empty file gives the struct defaults", "[config]") {
  const Config config = parse_config("", "relay.toml");
  check_same(config, Config{});
  CHECK(config.source_file == "relay.toml");
}

TEST_CASE("every key is read into its member", "[config]") {
  const Config config = parse_config(R"(
[edge]
listen = "[::1]:9000"
threads = 8
cors_origins = ["https://a.example", "http://b.example:8000"]
web_dir = "/srv/web"
node_modules_dir = "/srv/node_modules"
read_timeout_s = 2.5
max_header_bytes = 16384
max_body_bytes = 0
header_timeout_s = 4
idle_timeout_s = 60
max_connections = 500
max_connections_per_ip = 20
shutdown_grace_s = 0
trusted_proxies = ["192.0.2.10", "2001:db8:1::/48"]
forwarded_header = "forwarded"

[ingest]
source = "file:///media/talk.mp4"
pipelines_dir = "/srv/pipelines"
width = 1280
height = 720
framerate = 25
loop = false
test_pattern = "smpte"
backup_source = "srt://:9001?mode=listener"
input_timeout_s = 1.5
slate_after_s = 0
failback_s = 12
reconnect_max_s = 30
slate_image = "/srv/slate.png"
slate_text = "Pause"
slate_color = "#FF8000"
srt_latency_ms = 400
srt_passphrase = "correct horse battery"
srt_pbkeylen = 32
srt_streamid = "hall-a"
rtsp_transport = "udp"
rtsp_latency_ms = 50
v4l2_format = "MJPG"
v4l2_width = 1920
v4l2_height = 1080
v4l2_framerate = 60
allow_unauthenticated = true
push_tokens = ["push-token-0123456789abcdef"]

[encoder]
preset = "fast"
tune = ""
vbv_buffer_s = 1
audio_bitrate_kbps = 96
audio_channels = 1
audio_rate = 44100

[[encoder.renditions]]
name = "540p"
width = 960
height = 540
bitrate_kbps = 1800
profile = "main"

[[encoder.renditions]]
name = "low_res-2"
width = 426
height = 240
bitrate_kbps = 400

[hls]
segment_duration_s = 4
part_duration_s = 0.4
live_window = 10
dvr_window_s = 3600
max_memory_mb = 2048
low_latency = false
container = "mpegts"

[log]
level = "debug"

[qa]
data_dir = "/var/lib/relay"
synchronous = "full"
default_room_title = "Fragen"
max_question_chars = 500
max_name_chars = 20
questions_per_minute = 1.5
question_burst = 5
attendees_per_minute = 100
attendee_burst = 200
slow_mode_s = 30
auto_approve = true
word_list = ["spam", "idiot*"]
word_list_file = "/etc/relay/words.txt"
moderator_tokens = ["moderator-0123456789abcdef"]
speaker_tokens = ["speaker-0123456789abcdef", "speaker-2-0123456789abcdef"]
technician_tokens = ["technician-0123456789abcdef"]
admin_tokens = ["admin-0123456789abcdef"]
vote_interval_ms = 500
ws_queue_limit = 64
ws_resume_events = 100

[health]
incident_log = "/var/log/relay/incidents.jsonl"
input_lost_hold_s = 1.5
input_bitrate_min_kbps = 500
input_bitrate_max_kbps = 8000
input_bitrate_hold_s = 20
input_framerate_min = 24
input_framerate_hold_s = 3
input_keyframe_interval_max_s = 4
input_keyframe_interval_hold_s = 8
segment_late_factor = 3
segment_late_hold_s = 1
realtime_factor_min = 0.9
realtime_window_s = 20
realtime_hold_s = 30
audio_silence_db = -50
audio_silence_hold_s = 5
viewer_stalls_per_minute_max = 2.5
viewer_stalls_hold_s = 60
viewer_window_s = 10
webhook_url = "https://hooks.example.org/relay"
webhook_secret = "s3cret"
webhook_retries = 2
webhook_timeout_s = 4
allow_insecure_webhooks = true
listen = "127.0.0.1:9100"
)",
                                     "relay.toml");
  CHECK(config.health.incident_log == "/var/log/relay/incidents.jsonl");
  CHECK(config.health.input_lost_hold_s == 1.5);
  CHECK(config.health.input_bitrate_min_kbps == 500);
  CHECK(config.health.input_bitrate_max_kbps == 8000);
  CHECK(config.health.input_bitrate_hold_s == 20);
  CHECK(config.health.input_framerate_min == 24);
  CHECK(config.health.input_framerate_hold_s == 3);
  CHECK(config.health.input_keyframe_interval_max_s == 4);
  CHECK(config.health.input_keyframe_interval_hold_s == 8);
  CHECK(config.health.segment_late_factor == 3);
  CHECK(config.health.segment_late_hold_s == 1);
  CHECK(config.health.realtime_factor_min == 0.9);
  CHECK(config.health.realtime_window_s == 20);
  CHECK(config.health.realtime_hold_s == 30);
  CHECK(config.health.audio_silence_db == -50);
  CHECK(config.health.audio_silence_hold_s == 5);
  CHECK(config.health.viewer_stalls_per_minute_max == 2.5);
  CHECK(config.health.viewer_stalls_hold_s == 60);
  CHECK(config.health.viewer_window_s == 10);
  CHECK(config.health.webhook_url == "https://hooks.example.org/relay");
  CHECK(config.health.webhook_secret == "s3cret");
  CHECK(config.health.webhook_retries == 2);
  CHECK(config.health.webhook_timeout_s == 4);
  CHECK(config.health.allow_insecure_webhooks);
  CHECK(config.health.listen == "127.0.0.1:9100");
  CHECK(config.qa.data_dir == "/var/lib/relay");
  CHECK(config.qa.synchronous == "full");
  CHECK(config.qa.default_room_title == "Fragen");
  CHECK(config.qa.max_question_chars == 500);
  CHECK(config.qa.max_name_chars == 20);
  CHECK(config.qa.questions_per_minute == 1.5);
  CHECK(config.qa.question_burst == 5);
  CHECK(config.qa.attendees_per_minute == 100.0);
  CHECK(config.qa.attendee_burst == 200);
  CHECK(config.qa.slow_mode_s == 30);
  CHECK(config.qa.auto_approve);
  CHECK(config.qa.word_list == std::vector<std::string>{"spam", "idiot*"});
  CHECK(config.qa.word_list_file == "/etc/relay/words.txt");
  CHECK(config.qa.moderator_tokens == std::vector<std::string>{"moderator-0123456789abcdef"});
  CHECK(config.qa.speaker_tokens.size() == 2);
  CHECK(config.qa.technician_tokens == std::vector<std::string>{"technician-0123456789abcdef"});
  CHECK(config.qa.admin_tokens == std::vector<std::string>{"admin-0123456789abcdef"});
  CHECK(config.qa.vote_interval_ms == 500);
  CHECK(config.qa.ws_queue_limit == 64);
  CHECK(config.qa.ws_resume_events == 100);
  CHECK(config.edge.listen == "[::1]:9000");
  CHECK(config.edge.threads == 8);
  CHECK(config.edge.cors_origins == std::vector<std::string>{"https://a.example", "http://b.example:8000"});
  CHECK(config.edge.web_dir == "/srv/web");
  CHECK(config.edge.node_modules_dir == "/srv/node_modules");
  CHECK(config.edge.read_timeout_s == 2.5);
  CHECK(config.edge.max_header_bytes == 16384);
  CHECK(config.edge.max_body_bytes == 0);
  CHECK(config.edge.header_timeout_s == 4);
  CHECK(config.edge.idle_timeout_s == 60);
  CHECK(config.edge.max_connections == 500);
  CHECK(config.edge.max_connections_per_ip == 20);
  CHECK(config.edge.shutdown_grace_s == 0);
  CHECK(config.edge.trusted_proxies == std::vector<std::string>{"192.0.2.10", "2001:db8:1::/48"});
  CHECK(config.edge.forwarded_header == "forwarded");
  CHECK(config.ingest.source == "file:///media/talk.mp4");
  CHECK(config.ingest.pipelines_dir == "/srv/pipelines");
  CHECK(config.ingest.width == 1280);
  CHECK(config.ingest.height == 720);
  CHECK(config.ingest.framerate == 25);
  CHECK_FALSE(config.ingest.loop);
  CHECK(config.ingest.test_pattern == "smpte");
  CHECK(config.ingest.backup_source == "srt://:9001?mode=listener");
  CHECK(config.ingest.input_timeout_s == 1.5);
  CHECK(config.ingest.slate_after_s == 0);
  CHECK(config.ingest.failback_s == 12);
  CHECK(config.ingest.reconnect_max_s == 30);
  CHECK(config.ingest.slate_image == "/srv/slate.png");
  CHECK(config.ingest.slate_text == "Pause");
  CHECK(config.ingest.slate_color == "#FF8000");
  CHECK(config.ingest.srt_latency_ms == 400);
  CHECK(config.ingest.srt_passphrase == "correct horse battery");
  CHECK(config.ingest.srt_pbkeylen == 32);
  CHECK(config.ingest.srt_streamid == "hall-a");
  CHECK(config.ingest.rtsp_transport == "udp");
  CHECK(config.ingest.rtsp_latency_ms == 50);
  CHECK(config.ingest.v4l2_format == "MJPG");
  CHECK(config.ingest.v4l2_width == 1920);
  CHECK(config.ingest.v4l2_height == 1080);
  CHECK(config.ingest.v4l2_framerate == 60);
  CHECK(config.ingest.allow_unauthenticated);
  CHECK(config.ingest.push_tokens == std::vector<std::string>{"push-token-0123456789abcdef"});
  CHECK(config.encoder.preset == "fast");
  CHECK(config.encoder.tune.empty());
  CHECK(config.encoder.vbv_buffer_s == 1.0);
  CHECK(config.encoder.audio_bitrate_kbps == 96);
  CHECK(config.encoder.audio_channels == 1);
  CHECK(config.encoder.audio_rate == 44100);
  REQUIRE(config.encoder.renditions.size() == 2);
  CHECK(config.encoder.renditions[0].name == "540p");
  CHECK(config.encoder.renditions[0].width == 960);
  CHECK(config.encoder.renditions[0].height == 540);
  CHECK(config.encoder.renditions[0].bitrate_kbps == 1800);
  CHECK(config.encoder.renditions[0].profile == "main");
  CHECK(config.encoder.renditions[1].name == "low_res-2");
  CHECK(config.encoder.renditions[1].profile == "high");
  CHECK(config.hls.segment_duration_s == 4.0);
  CHECK(config.hls.part_duration_s == 0.4);
  CHECK(config.hls.live_window == 10);
  CHECK(config.hls.dvr_window_s == 3600.0);
  CHECK(config.hls.max_memory_mb == 2048);
  CHECK_FALSE(config.hls.low_latency);
  CHECK(config.hls.container == "mpegts");
  CHECK(config.log.level == "debug");
}

TEST_CASE("unknown keys and sections are reported where they are written", "[config][errors]") {
  SECTION("a misspelt key, with the closest known one") {
    const std::string message = error_of("# comment\n\n[edge]\nlisten = \"0.0.0.0:80\"\nthread = 4\n");
    CHECK_THAT(message, StartsWith("relay.toml:5:1: unknown key 'edge.thread'; did you mean 'threads'? "
                                   "known keys in [edge]: listen, threads, cors_origins, web_dir,"));
  }
  SECTION("a key nothing resembles lists the known keys only") {
    const std::string message = error_of("[log]\nverbosity = 3\n");
    CHECK(message == "relay.toml:2:1: unknown key 'log.verbosity'; known keys in [log]: level");
  }
  SECTION("a misspelt section") {
    CHECK_THAT(error_of("[edge]\nthreads = 2\n\n[ingets]\nwidth = 640\n"),
               StartsWith("relay.toml:4:2: unknown section 'ingets'; did you mean [ingest]? known sections: "
                          "edge, ingest, encoder, hls, log"));
  }
  SECTION("a key above every section header") {
    CHECK(error_of("threads = 4\n") ==
          "relay.toml:1:1: unknown section 'threads'; 'threads' is a key of [edge], write it below that header");
  }
  SECTION("a sub-table inside a section") {
    CHECK_THAT(error_of("[edge.tls]\ncert = \"a.pem\"\n"), StartsWith("relay.toml:1:7: unknown key 'edge.tls';"));
  }
  SECTION("the first problem in file order, not in key order") {
    CHECK_THAT(error_of("[hls]\nzzz = 1\naaa = 2\n"), StartsWith("relay.toml:2:1: unknown key 'hls.zzz'"));
  }
}

TEST_CASE("values of the wrong type are reported at the value", "[config][errors]") {
  CHECK(error_of("[edge]\nthreads = \"4\"\n") == "relay.toml:2:11: edge.threads: expected an integer, got a string");
  CHECK(error_of("[edge]\nthreads = 2.5\n") == "relay.toml:2:11: edge.threads: expected an integer, got a float");
  CHECK(error_of("[ingest]\nloop = \"yes\"\n") == "relay.toml:2:8: ingest.loop: expected true or false, got a string");
  CHECK(error_of("[edge]\nread_timeout_s = true\n") ==
        "relay.toml:2:18: edge.read_timeout_s: expected a number, got a boolean");
  CHECK(error_of("[edge]\ncors_origins = \"*\"\n") ==
        "relay.toml:2:16: edge.cors_origins: expected an array, got a string");
  CHECK(error_of("[edge]\ncors_origins = [\"*\", 3]\n") ==
        "relay.toml:2:22: edge.cors_origins[1]: expected a string, got an integer");
  CHECK(error_of("edge = 5\n") == "relay.toml:1:8: edge: expected a table, got an integer");
  CHECK_THAT(error_of("[encoder.renditions]\nname = \"x\"\n"),
             StartsWith("relay.toml:1:1: encoder.renditions: expected an array of tables, got a single table; "
                        "write each rendition under a [[encoder.renditions]] header"));
  CHECK(error_of("[encoder]\nrenditions = [1]\n") ==
        "relay.toml:2:15: encoder.renditions[0]: expected a table, got an integer");
}

TEST_CASE("integers are accepted where a float is wanted", "[config]") {
  const Config config = parse_config("[edge]\nread_timeout_s = 30\n[hls]\ndvr_window_s = 60\n", "relay.toml");
  CHECK(config.edge.read_timeout_s == 30.0);
  CHECK(config.hls.dvr_window_s == 60.0);
}

TEST_CASE("TOML syntax errors carry the file position", "[config][errors]") {
  CHECK_THAT(error_of("[edge]\nthreads = 2\nlisten = \n"), StartsWith("relay.toml:3:"));
  CHECK_THAT(error_of("[edge]\nthreads = 2\nthreads = 3\n"), StartsWith("relay.toml:3:"));
}

TEST_CASE("out-of-range values say what is accepted", "[config][errors]") {
  CHECK(error_of("[edge]\nthreads = 0\n") == "relay.toml:2:11: edge.threads: 0 is out of range, expected 1..256");
  CHECK(error_of("\n\n[hls]\n# the live playlist\nlive_window = 2\n") ==
        "relay.toml:5:15: hls.live_window: 2 is out of range, expected 3..100");
  CHECK(error_of("[edge]\nread_timeout_s = 0.1\n") ==
        "relay.toml:2:18: edge.read_timeout_s: 0.1 is out of range, expected 0.5..600");
  CHECK(error_of("[edge]\nread_timeout_s = nan\n") ==
        "relay.toml:2:18: edge.read_timeout_s: nan is out of range, expected 0.5..600");
  CHECK(error_of("[edge]\nthreads = 99999999999\n") ==
        "relay.toml:2:11: edge.threads: 99999999999 is out of range, expected 1..256");

  // Each row: a section body and the start of the expected problem, after "relay.toml:2:N: ".
  const auto [text, problem] = GENERATE(table<std::string, std::string>({
      {"[edge]\nlisten = \"localhost\"", "edge.listen: 'localhost' has no port"},
      {"[edge]\nlisten = \"::1:8080\"", "edge.listen: '::1:8080' is an IPv6 address without [brackets]"},
      {"[edge]\nlisten = \"[::1]8080\"", "edge.listen: '[::1]8080' has no port after the IPv6 address"},
      {"[edge]\nlisten = \":8080\"", "edge.listen: ':8080' has no host"},
      {"[edge]\nlisten = \"host:65536\"", "edge.listen: 'host:65536' has no valid port (0..65535)"},
      {"[edge]\nlisten = \"host:80a\"", "edge.listen: 'host:80a' has no valid port"},
      {"[edge]\ncors_origins = [\"ftp://x\"]", "edge.cors_origins[0]: 'ftp://x' is not an origin"},
      {"[edge]\nframe_ancestors = [\"https://a.example/player\"]",
       "edge.frame_ancestors[0]: 'https://a.example/player' is not an origin"},
      {"[edge]\nframe_ancestors = [\"https://a.example; script-src *\"]",
       "edge.frame_ancestors[0]: 'https://a.example; script-src *' is not an origin"},
      {"[edge]\nframe_ancestors = [\"'none'\", \"'self'\"]",
       "edge.frame_ancestors: 'none' cannot be combined with other entries"},
      {"[edge]\nwebsocket_origins = [\"*\"]", "edge.websocket_origins[0]: '*' is not an origin"},
      {"[edge]\nwebsocket_origins = [\"'self'\"]", "edge.websocket_origins[0]: ''self'' is not an origin"},
      {"[edge]\nplain_http = \"off\"", "edge.plain_http: 'off' is not accepted, expected one of: redirect, serve"},
      {"[edge]\nhsts_max_age_s = -1", "edge.hsts_max_age_s: -1 is out of range, expected 0..63072000"},
      {"[edge]\nmax_header_bytes = 512", "edge.max_header_bytes: 512 is out of range, expected 1024..1048576"},
      {"[edge]\nmax_body_bytes = -1", "edge.max_body_bytes: -1 is out of range, expected 0..67108864"},
      {"[edge]\nweb_dir = \"\"", "edge.web_dir: must not be empty"},
      {"[ingest]\nsource = \"srt://:9000?mode=listen\"",
       "ingest.source: 'srt://:9000?mode=listen' has mode 'listen', expected listener, caller or rendezvous"},
      {"[ingest]\nsource = \"srt://:9000?latncy=20\"", "ingest.source: 'srt://:9000?latncy=***' has an unknown SRT option 'latncy'"},
      {"[ingest]\nsource = \"srt://host\"", "ingest.source: 'srt://host' needs a port"},
      {"[ingest]\nsource = \"srt://:99999?mode=listener\"", "ingest.source: 'srt://:99999?mode=listener' has no valid port ('99999', expected 1..65535)"},
      {"[ingest]\nsource = \"srt://:9000?mode=caller\"", "ingest.source: 'srt://:9000?mode=caller' is in caller mode but names no host"},
      {"[ingest]\nsource = \"srt://:9000?passphrase=short\"", "ingest.source: 'srt://:9000?passphrase=***' has a passphrase that is not 10..79 characters"},
      {"[ingest]\nsource = \"rtsp:///stream\"", "ingest.source: 'rtsp:///stream' names no host to pull from"},
      {"[ingest]\nsource = \"rtmp://x\"", "ingest.source: 'rtmp://x' needs an application and stream path"},
      {"[ingest]\nsource = \"v4l2://video0\"", "ingest.source: 'v4l2://video0' needs a device path after v4l2://"},
      {"[ingest]\nsource = \"v4l2:///tmp/x\"", "ingest.source: 'v4l2:///tmp/x' names no device under /dev/"},
      {"[ingest]\nsource = \"http://cam/x\"", "ingest.source: 'http://cam/x' is not a source this build understands; "
                                              "accepted: \"test:\", \"file:///absolute/path\", \"srt://"},
      {"[ingest]\nsource = \"file://talk.mp4\"", "ingest.source: 'file://talk.mp4' needs an absolute path"},
      {"[ingest]\nsource = \"/media/talk.mp4\"", "ingest.source: '/media/talk.mp4' is not a source this build"},
      {"[ingest]\nbackup_source = \"udp://x\"", "ingest.backup_source: 'udp://x' is not a source"},
      {"[ingest]\nslate_color = \"blue\"", "ingest.slate_color: 'blue' is not a colour, expected \"#RRGGBB\""},
      {"[ingest]\nsrt_passphrase = \"secret\"", "ingest.srt_passphrase: is 6 characters long; SRT needs 10..79"},
      {"[ingest]\nsrt_pbkeylen = 8", "ingest.srt_pbkeylen: 8 is not accepted, expected one of: 16, 24, 32"},
      {"[ingest]\nrtsp_transport = \"http\"", "ingest.rtsp_transport: 'http' is not accepted, expected one of: tcp, udp"},
      {"[ingest]\ninput_timeout_s = 0", "ingest.input_timeout_s: 0 is out of range, expected 0.1..10"},
      {"[ingest]\nv4l2_format = \"RGB\"", "ingest.v4l2_format: 'RGB' is not accepted"},
      {"[ingest]\nwidth = 1921", "ingest.width: 1921 must be even"},
      {"[ingest]\nheight = 4322", "ingest.height: 4322 is out of range, expected 16..4320"},
      {"[ingest]\nframerate = 121", "ingest.framerate: 121 is out of range, expected 1..120"},
      {"[ingest]\ntest_pattern = \"balls\"",
       "ingest.test_pattern: 'balls' is not accepted, expected one of: smpte, snow, black,"},
      {"[encoder]\npreset = \"fastest\"",
       "encoder.preset: 'fastest' is not accepted, expected one of: ultrafast, superfast, veryfast,"},
      {"[encoder]\ntune = \"latency\"", "encoder.tune: 'latency' is not accepted, expected one of: \"\", zerolatency,"},
      {"[encoder]\nvbv_buffer_s = 20", "encoder.vbv_buffer_s: 20 is out of range, expected 0.1..10"},
      {"[encoder]\naudio_bitrate_kbps = 16", "encoder.audio_bitrate_kbps: 16 is out of range, expected 32..512"},
      {"[encoder]\naudio_channels = 6", "encoder.audio_channels: 6 is out of range, expected 1..2"},
      {"[encoder]\naudio_rate = 22050", "encoder.audio_rate: 22050 is not accepted, expected one of: 44100, 48000"},
      {"[hls]\nsegment_duration_s = 12", "hls.segment_duration_s: 12 is out of range, expected 0.5..10"},
      {"[hls]\npart_duration_s = 0.05", "hls.part_duration_s: 0.05 is out of range"},
      {"[hls]\ndvr_window_s = 90000", "hls.dvr_window_s: 90000 is out of range, expected 0..86400"},
      {"[hls]\nmax_memory_mb = 8", "hls.max_memory_mb: 8 is out of range, expected 16..65536"},
      {"[log]\nlevel = \"verbose\"",
       "log.level: 'verbose' is not accepted, expected one of: trace, debug, info, warn, error"},
  }));
  INFO(text);
  const std::string message = error_of(text + "\n");
  CHECK_THAT(message, StartsWith("relay.toml:2:"));
  CHECK_THAT(message, Contains(": " + problem));
}

TEST_CASE("valid edge cases are accepted", "[config]") {
  CHECK(parse_config("[edge]\nlisten = \"0.0.0.0:0\"\n", "relay.toml").edge.listen == "0.0.0.0:0");
  CHECK(parse_config("[edge]\nlisten = \"[::]:65535\"\n", "relay.toml").edge.listen == "[::]:65535");
  CHECK(parse_config("[edge]\ncors_origins = []\n", "relay.toml").edge.cors_origins.empty());
  CHECK(parse_config("[hls]\nsegment_duration_s = 2\npart_duration_s = 2\n", "relay.toml").hls.part_duration_s == 2.0);
  CHECK(parse_config("[hls]\nsegment_duration_s = 0.7\npart_duration_s = 0.1\n[ingest]\nframerate = 10\n",
                     "relay.toml")
            .hls.part_duration_s == Approx(0.1));
  // A third of a second, written rounded, is taken as exactly a sixth of 2 s.
  CHECK(parse_config("[hls]\nsegment_duration_s = 2\npart_duration_s = 0.333\n", "relay.toml").hls.part_duration_s ==
        Approx(2.0 / 6).epsilon(1e-12));
}

TEST_CASE("a rendition list replaces the default ladder and is checked entry by entry", "[config][renditions]") {
  const std::string top = "[[encoder.renditions]]\nname = \"720p\"\nwidth = 1280\nheight = 720\nbitrate_kbps = 2800\n";

  SECTION("one entry replaces all three defaults") {
    const Config config = parse_config(top, "relay.toml");
    REQUIRE(config.encoder.renditions.size() == 1);
    CHECK(config.encoder.renditions[0].name == "720p");
    CHECK(config.encoder.renditions[0].profile == "high");
  }
  SECTION("a missing required key is reported at the entry") {
    CHECK(error_of(top + "\n[[encoder.renditions]]\nname = \"360p\"\nwidth = 640\nheight = 360\n") ==
          "relay.toml:7:1: encoder.renditions[1]: missing key 'bitrate_kbps'");
  }
  SECTION("an unknown key suggests the right one") {
    CHECK_THAT(error_of(top + "framerate = 30\nprofil = \"main\"\n"),
               StartsWith("relay.toml:6:1: unknown key 'encoder.renditions[0].framerate'; known keys in "
                          "[[encoder.renditions]]: name, width, height, bitrate_kbps, profile"));
    CHECK_THAT(error_of(top + "profil = \"main\"\n"),
               StartsWith("relay.toml:6:1: unknown key 'encoder.renditions[0].profil'; did you mean 'profile'?"));
  }
  SECTION("bad values") {
    CHECK(error_of(top + "profile = \"extended\"\n") ==
          "relay.toml:6:11: encoder.renditions[0].profile: 'extended' is not accepted, expected one of: baseline, "
          "main, high");
    CHECK_THAT(error_of("[[encoder.renditions]]\nname = \"720P\"\n"),
               StartsWith("relay.toml:2:8: encoder.renditions[0].name: '720P' is not a valid name"));
    CHECK_THAT(error_of("[[encoder.renditions]]\nname = \"" + std::string(33, 'a') + "\"\n"),
               Contains("encoder.renditions[0].name: 'aaaa"));
    CHECK(error_of("[[encoder.renditions]]\nwidth = 853\n") ==
          "relay.toml:2:9: encoder.renditions[0].width: 853 must be even (4:2:0 video)");
    CHECK_THAT(error_of("[[encoder.renditions]]\nbitrate_kbps = 60000\n"),
               StartsWith("relay.toml:2:16: encoder.renditions[0].bitrate_kbps: 60000 is out of range, expected "
                          "100..50000"));
  }
  SECTION("names must be unique") {
    CHECK(error_of(top + "\n[[encoder.renditions]]\nname = \"720p\"\nwidth = 640\nheight = 360\nbitrate_kbps = 600\n") ==
          "relay.toml:8:8: encoder.renditions[1].name: '720p' is already the name of encoder.renditions[0]; "
          "names must be unique");
  }
  SECTION("highest bitrate first") {
    CHECK(error_of(top + "\n[[encoder.renditions]]\nname = \"1080p\"\nwidth = 1920\nheight = 1080\nbitrate_kbps = 5000\n") ==
          "relay.toml:11:16: encoder.renditions[1].bitrate_kbps: 5000 is higher than encoder.renditions[0] (2800); "
          "list renditions highest bitrate first");
  }
  SECTION("between 1 and 8 entries") {
    CHECK(error_of("[encoder]\nrenditions = []\n") ==
          "relay.toml:2:14: encoder.renditions: 0 renditions, expected 1..8");
    std::string nine;
    for (int i = 0; i < 9; ++i) {
      nine += "[[encoder.renditions]]\nname = \"r" + std::to_string(i) +
              "\"\nwidth = 640\nheight = 360\nbitrate_kbps = " + std::to_string(5000 - i * 100) + "\n";
    }
    CHECK_THAT(error_of(nine), StartsWith("relay.toml:1:1: encoder.renditions: 9 renditions, expected 1..8"));
  }
}

TEST_CASE("checks across keys name the key and point at a line that set it", "[config][cross]") {
  SECTION("parts must divide the segment") {
    CHECK(error_of("[hls]\nsegment_duration_s = 2\npart_duration_s = 0.3\n") ==
          "relay.toml:3:19: hls.part_duration_s: 0.3 does not divide hls.segment_duration_s (2): a segment must be "
          "a whole number of parts (within 5 ms)");
  }
  SECTION("a part no longer than the segment") {
    CHECK(error_of("[hls]\nsegment_duration_s = 1\npart_duration_s = 1.5\n") ==
          "relay.toml:3:19: hls.part_duration_s: 1.5 is longer than hls.segment_duration_s (1)");
  }
  SECTION("the reported key's default falls back to the line of the other key") {
    CHECK_THAT(error_of("[hls]\nsegment_duration_s = 0.75\n"),
               StartsWith("relay.toml:2:22: hls.part_duration_s: 0.5 does not divide hls.segment_duration_s (0.75)"));
  }
  SECTION("a segment is a whole number of frames") {
    CHECK(error_of("[ingest]\nframerate = 25\n[hls]\nsegment_duration_s = 0.5\npart_duration_s = 0.5\n") ==
          "relay.toml:4:22: hls.segment_duration_s: 0.5 s at ingest.framerate 25 is 12.5 frames; a segment is one "
          "GOP and must be a whole number of frames");
    CHECK_THAT(error_of("[ingest]\nframerate = 25\n", {"hls.segment_duration_s=0.5", "hls.part_duration_s=0.25"}),
               StartsWith("--set hls.segment_duration_s=0.5: hls.segment_duration_s: 0.5 s at ingest.framerate 25"));
  }
  SECTION("a part is a whole number of frames") {
    CHECK(error_of("[ingest]\nframerate = 25\n[hls]\nsegment_duration_s = 2\npart_duration_s = 0.5\n") ==
          "relay.toml:5:19: hls.part_duration_s: 0.5 s at ingest.framerate 25 is 12.50 frames; a part must be a "
          "whole number of frames");
  }
  SECTION("DVR window covers at least the live playlist") {
    CHECK(error_of("[hls]\nlive_window = 6\ndvr_window_s = 10\n") ==
          "relay.toml:3:16: hls.dvr_window_s: 10 is shorter than the live playlist (hls.live_window 6 x "
          "hls.segment_duration_s 2 = 12 s); use 0 to turn DVR off, or at least 12");
    CHECK(parse_config("[hls]\ndvr_window_s = 12\n", "relay.toml").hls.dvr_window_s == 12.0);
  }
  SECTION("a key set on the command line points at its --set argument") {
    CHECK_THAT(error_of("", {"ingest.framerate=25", "hls.segment_duration_s=0.5", "hls.part_duration_s=0.5"}),
               StartsWith("--set hls.segment_duration_s=0.5: hls.segment_duration_s: 0.5 s at"));
  }
}

TEST_CASE("--set overrides take TOML values, or bare text as a string", "[config][overrides]") {
  const std::string file = "[edge]\nthreads = 2\n[log]\nlevel = \"info\"\n";
  const Config config = parse_config(file, "relay.toml",
                                     {
                                         "edge.threads=4",
                                         "edge.read_timeout_s=2.5",
                                         "hls.segment_duration_s=4",
                                         "ingest.loop=false",
                                         "ingest.source=file:///tmp/a=b.mp4",
                                         "log.level=debug",
                                         "edge.listen=[::1]:0",
                                         R"(edge.cors_origins=["https://a.example", "https://b.example"])",
                                         "encoder.tune=",
                                         "encoder.preset=\"fast\"",
                                         "encoder.preset=faster",
                                     });
  CHECK(config.edge.threads == 4);
  CHECK(config.edge.read_timeout_s == 2.5);
  CHECK(config.hls.segment_duration_s == 4.0);
  CHECK_FALSE(config.ingest.loop);
  CHECK(config.ingest.source == "file:///tmp/a=b.mp4");
  CHECK(config.log.level == "debug");
  CHECK(config.edge.listen == "[::1]:0");
  CHECK(config.edge.cors_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
  CHECK(config.encoder.tune.empty());
  CHECK(config.encoder.preset == "faster");
}

TEST_CASE("--set replaces the rendition ladder with an inline array of tables", "[config][overrides]") {
  const Config config = parse_config(
      "", "relay.toml",
      {R"(encoder.renditions=[{name="360p",width=640,height=360,bitrate_kbps=600,profile="main"}])"});
  REQUIRE(config.encoder.renditions.size() == 1);
  CHECK(config.encoder.renditions[0].name == "360p");
  CHECK(config.encoder.renditions[0].width == 640);
  CHECK(config.encoder.renditions[0].height == 360);
  CHECK(config.encoder.renditions[0].bitrate_kbps == 600);
  CHECK(config.encoder.renditions[0].profile == "main");

  const std::string bad = R"(encoder.renditions=[{name="a",width=641,height=360,bitrate_kbps=600}])";
  CHECK(error_of("", {bad}) == "--set " + bad + ": encoder.renditions[0].width: 641 must be even (4:2:0 video)");
}

TEST_CASE("--set errors quote the argument", "[config][overrides][errors]") {
  CHECK_THAT(error_of("", {"edge.thread=4"}),
             StartsWith("--set edge.thread=4: unknown key 'edge.thread'; did you mean 'threads'? known keys in "
                        "[edge]: listen, threads,"));
  CHECK_THAT(error_of("", {"edg.threads=4"}), StartsWith("--set edg.threads=4: unknown section 'edg'; did you mean [edge]?"));
  CHECK(error_of("", {"foo.bar=1"}) == "--set foo.bar=1: unknown section 'foo'; known sections: edge, ingest, encoder, hls, log, qa, health, scale, uplink, captions, recording, vod");
  CHECK(error_of("", {"edge.threads=four"}) == "--set edge.threads=four: edge.threads: expected an integer, got a string");
  CHECK(error_of("", {"edge.threads=0"}) == "--set edge.threads=0: edge.threads: 0 is out of range, expected 1..256");
  CHECK_THAT(error_of("", {"ingest.source=srt://:9000?mode=lstener"}),
             StartsWith("--set ingest.source=srt://:9000?mode=lstener: ingest.source: 'srt://:9000?mode=lstener' has "
                        "mode 'lstener'"));
  CHECK(error_of("[ingest]\nsource = \"srt://:9000\"\nbackup_source = \"srt://:9000\"\n") ==
        "relay.toml:3:17: ingest.backup_source: 'srt://:9000' is the same as ingest.source; a backup must be "
        "another input");
  CHECK(error_of("[ingest]\nsource = \"srt://:9000\"\nbackup_source = \"srt://:9000?mode=listener&latency=50\"\n") ==
        "relay.toml:3:17: ingest.backup_source: listens on SRT port 9000 like ingest.source; give the backup its "
        "own port");
  for (const std::string uri : {"srt://127.0.0.1:9000?mode=listener", "srt://[::1]:9000?mode=caller&latency=200",
                                "srt://encoder.local:9000", "rtsp://user:pw@192.168.1.20:554/stream1?channel=1",
                                "rtmp://127.0.0.1:1935/live/hall", "v4l2:///dev/video0"}) {
    INFO(uri);
    CHECK(parse_config("", "relay.toml", {"ingest.source=" + uri}).ingest.source == uri);
  }
  for (const std::string malformed : {"edge.threads", "threads=4", ".threads=4", "edge.=4", "=4"}) {
    CHECK(error_of("", {malformed}) ==
          "--set " + malformed + ": expected section.key=value, such as --set edge.threads=4");
  }
}

TEST_CASE("relative paths resolve against the base directory", "[config][paths]") {
  const Config config = parse_config("[edge]\nweb_dir = \"www\"\nnode_modules_dir = \"/opt/js\"\n"
                                     "[ingest]\npipelines_dir = \"../pipelines\"\n",
                                     "relay.toml", {}, "/etc/relay");
  CHECK(config.edge.web_dir == "/etc/relay/www");
  CHECK(config.edge.node_modules_dir == "/opt/js");
  CHECK(config.ingest.pipelines_dir == "/etc/pipelines");

  const Config defaults = parse_config("", "relay.toml", {"edge.web_dir=site"}, "/etc/relay");
  CHECK(defaults.edge.web_dir == "/etc/relay/site");
  CHECK(defaults.edge.node_modules_dir == "/etc/relay/node_modules");
  CHECK(defaults.ingest.pipelines_dir == "/etc/relay/pipelines");
}

TEST_CASE("load_config reads a file and resolves paths next to it", "[config][file]") {
  TempDir dir;
  const auto file = dir.write("relay.toml", "[edge]\nweb_dir = \"www\"\n");
  const Config config = load_config(file, {"edge.threads=3"});
  CHECK(config.source_file == file);
  CHECK(config.edge.threads == 3);
  CHECK(config.edge.web_dir == dir.path / "www");

  const auto bad = dir.write("bad.toml", "\n[edge]\nthreads = 0\n");
  try {
    load_config(bad);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& error) {
    CHECK(std::string(error.what()) == bad.string() + ":3:11: edge.threads: 0 is out of range, expected 1..256");
  }
}

TEST_CASE("load_config reports a file it cannot read", "[config][file]") {
  TempDir dir;
  const auto missing = dir.path / "missing.toml";
  CHECK_THROWS_WITH(load_config(missing),
                    "cannot read config file '" + missing.string() + "': No such file or directory");
  CHECK_THROWS_WITH(load_config(dir.path), "cannot read config file '" + dir.path.string() + "': Is a directory");
}

TEST_CASE("the shipped config/relay.toml loads and equals the struct defaults", "[config][shipped]") {
  const Config config = load_config(kSourceDir / "config" / "relay.toml");
  Config expected;
  expected.edge.web_dir = (kSourceDir / "web").lexically_normal();
  expected.edge.node_modules_dir = (kSourceDir / "node_modules").lexically_normal();
  expected.ingest.pipelines_dir = (kSourceDir / "pipelines").lexically_normal();
  expected.qa.data_dir = (kSourceDir / "data").lexically_normal();
  check_same(config, expected);
}

TEST_CASE("the shipped config/relay.toml documents every key", "[config][shipped]") {
  std::ifstream file(kSourceDir / "config" / "relay.toml");
  REQUIRE(file);
  // Each "table.key" assigned in the file, and whether a comment leads up to it.
  std::map<std::string, bool> documented;
  std::vector<std::string> comments;
  std::string table;
  std::string previous;
  const std::regex header(R"(^\[\[?([a-z_.]+)\]\]?$)");
  const std::regex assignment(R"(^([a-z0-9_]+)\s*=)");
  for (std::string line; std::getline(file, line);) {
    std::smatch match;
    const bool after_comment = previous.starts_with('#');
    if (std::regex_search(line, match, header)) {
      table = match[1];
      documented.try_emplace(table, after_comment);
    } else if (std::regex_search(line, match, assignment)) {
      documented.try_emplace(table + "." + match[1].str(), after_comment);
    } else if (line.starts_with('#')) {
      comments.push_back(line);
    }
    if (!line.empty()) previous = line;
  }

  for (const Section& section : sections()) {
    for (const auto& field : section.fields) {
      // The ladder counts through its [[encoder.renditions]] header, not "renditions = [...]".
      const std::string key = std::string(section.name) + "." + std::string(field.name);
      INFO(key);
      REQUIRE(documented.contains(key));
      CHECK(documented.at(key));
    }
  }
  for (const auto& field : rendition_fields()) {
    const std::string key = "encoder.renditions." + std::string(field.name);
    INFO(key);
    CHECK(documented.contains(key));
    const std::regex described("^#\\s+" + std::string(field.name) + "\\s");
    CHECK(std::any_of(comments.begin(), comments.end(),
                      [&](const std::string& comment) { return std::regex_search(comment, described); }));
  }
}

TEST_CASE("[qa] role tokens are checked without echoing them; data_dir resolves", "[config][qa]") {
  const std::string short_token = error_of("[qa]\nmoderator_tokens = [\"secret\"]\n");
  CHECK_THAT(short_token, StartsWith("relay.toml:2:21: qa.moderator_tokens[0]: a token must be 16..256 printable"));
  CHECK(short_token.find("secret") == std::string::npos);
  CHECK_THAT(error_of("[qa]\nadmin_tokens = [\"has a space in it, long enough\"]\n"),
             Contains("qa.admin_tokens[0]: a token must be"));
  CHECK_THAT(error_of("[qa]\nsynchronous = \"off\"\n"), Contains("qa.synchronous: 'off' is not accepted"));
  CHECK_THAT(error_of("[qa]\nvote_interval_ms = 100\n"), Contains("expected 250..10000"));
  CHECK(parse_config("[qa]\ndata_dir = \"state\"\n", "relay.toml", {}, "/etc/relay").qa.data_dir == "/etc/relay/state");
  CHECK(parse_config("", "relay.toml", {"qa.data_dir=/tmp/qa"}, "/etc/relay").qa.data_dir == "/tmp/qa");
}

TEST_CASE("[health] checks the webhook address and the bitrate range", "[config][health]") {
  CHECK_THAT(error_of("[health]\nwebhook_url = \"ftp://x\"\n"),
             StartsWith("relay.toml:2:15: health.webhook_url: 'ftp://x' is not a web address"));
  CHECK_THAT(error_of("[health]\ninput_bitrate_min_kbps = 900\ninput_bitrate_max_kbps = 800\n"),
             Contains("health.input_bitrate_min_kbps: 900 is not below health.input_bitrate_max_kbps (800)"));
  CHECK(parse_config("[health]\nincident_log = \"log/i.jsonl\"\n", "relay.toml", {}, "/etc/relay")
            .health.incident_log == "/etc/relay/log/i.jsonl");
  CHECK(parse_config("", "relay.toml", {}, "/etc/relay").health.incident_log.empty());
}

TEST_CASE("[edge] trusted_proxies takes addresses and networks, forwarded_header one of two", "[config][edge]") {
  const Config config = parse_config(
      "[edge]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"2001:db8::/32\", \"::1\"]\n"
      "forwarded_header = \"forwarded\"\n",
      "relay.toml");
  CHECK(config.edge.trusted_proxies == std::vector<std::string>{"127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::1"});
  CHECK(config.edge.forwarded_header == "forwarded");
  CHECK(parse_config("", "relay.toml").edge.trusted_proxies.empty());
  CHECK_THAT(error_of("[edge]\ntrusted_proxies = [\"127.0.0.1\", \"proxy.example.org\"]\n"),
             StartsWith("relay.toml:2:33: edge.trusted_proxies[1]: 'proxy.example.org' is not an address or network"));
  CHECK_THAT(error_of("[edge]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"), Contains("is not an address or network"));
  CHECK_THAT(error_of("[edge]\nforwarded_header = \"x-real-ip\"\n"), Contains("edge.forwarded_header: 'x-real-ip'"));
}

TEST_CASE("[health] an http:// webhook needs allow_insecure_webhooks", "[config][health]") {
  const std::string refused = error_of("[health]\nwebhook_secret = \"k\"\nwebhook_url = \"http://10.0.0.5/hook?key=q\"\n");
  CHECK_THAT(refused, StartsWith("relay.toml:3:15: health.webhook_url: an http:// address sends alerts"));
  CHECK_THAT(refused, Contains("health.allow_insecure_webhooks = true"));
  CHECK(refused.find("key=q") == std::string::npos);
  CHECK_THAT(error_of("", {"health.webhook_url=http://127.0.0.1:9/hook"}), Contains("allow_insecure_webhooks"));
  CHECK(parse_config("[health]\nwebhook_url = \"http://127.0.0.1:9/hook\"\nallow_insecure_webhooks = true\n",
                     "relay.toml").health.allow_insecure_webhooks);
  CHECK(parse_config("[health]\nwebhook_url = \"https://hooks.example.org/relay\"\n", "relay.toml")
            .health.webhook_url == "https://hooks.example.org/relay");
}

TEST_CASE("an SRT listener others can reach needs a passphrase or allow_unauthenticated", "[config][srt]") {
  // Refused, for the primary and the backup, with the line and what to do.
  const std::string open_primary = error_of("[ingest]\nsource = \"srt://:9000?mode=listener\"\n");
  CHECK_THAT(open_primary, StartsWith("relay.toml:2:10: ingest.source: listens for SRT senders on port 9000 of "
                                      "every address without a passphrase"));
  CHECK_THAT(open_primary, Contains("ingest.allow_unauthenticated = true"));
  CHECK_THAT(open_primary, Contains("srt://127.0.0.1:9000?mode=listener"));
  CHECK_THAT(error_of("[ingest]\nbackup_source = \"srt://0.0.0.0:9001?mode=listener\"\n"),
             StartsWith("relay.toml:2:17: ingest.backup_source: listens for SRT senders on port 9001 of 0.0.0.0"));
  CHECK_THAT(error_of("", {"ingest.source=srt://[::]:9000?mode=listener"}),
             StartsWith("--set ingest.source=srt://[::]:9000?mode=listener: ingest.source: listens for SRT"));
  CHECK_THAT(error_of("[ingest]\nsource = \"srt://:9000?mode=listener&localaddress=192.168.1.2\"\n"),
             Contains("without a passphrase"));

  // Accepted: a passphrase (key or URI), loopback, callers, or the operator's explicit choice.
  auto accepted = [](const std::vector<std::string>& overrides) {
    INFO(overrides.front());
    CHECK_NOTHROW(parse_config("", "relay.toml", overrides));
  };
  accepted({"ingest.source=srt://:9000?mode=listener", "ingest.srt_passphrase=correct horse battery"});
  accepted({"ingest.source=srt://:9000?mode=listener&passphrase=correct-horse-battery"});
  accepted({"ingest.source=srt://127.0.0.1:9000?mode=listener"});
  accepted({"ingest.source=srt://[::1]:9000?mode=listener"});
  accepted({"ingest.source=srt://:9000?mode=listener&localaddress=127.0.0.1"});
  accepted({"ingest.source=srt://encoder.local:9000"});
  accepted({"ingest.source=rtsp://camera.local/stream1"});
  accepted({"ingest.source=srt://:9000?mode=listener", "ingest.allow_unauthenticated=true"});
  accepted({"ingest.backup_source=srt://:9001?mode=listener", "ingest.allow_unauthenticated=true"});
}

TEST_CASE("config errors never quote a password, passphrase, stream key or webhook key", "[config][secrets]") {
  for (const auto& [overrides, secret] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"ingest.source=rtsp://user:pa%2Fss@cam:99999/x"}, "pa%2Fss"},
           {{"ingest.source=rtsp://user:pa/ss@cam/x", "edge.threads=0"}, "pa/ss"},
           {{"ingest.source=rtsp://TOKEN0123456789@cam:0/x"}, "TOKEN0123456789"},
           {{"ingest.source=srt://:9000?passphrase=short"}, "short"},
           {{"ingest.source=srt://:9000?mode=listen&passphrase=long-enough-secret"}, "long-enough-secret"},
           {{"ingest.srt_passphrase=tooshort"}, "tooshort"},
           {{"ingest.backup_source=rtmp://h/live/STREAMKEY?x", "ingest.source=rtmp://h/live/STREAMKEY?x"}, "STREAMKEY"},
           {{"health.webhook_url=ftp://h/hook?key=WEBHOOKSECRET"}, "WEBHOOKSECRET"},
           {{"qa.technician_tokens=[\"short-token\"]"}, "short-token"},
       }) {
    const std::string message = error_of("", overrides);
    INFO(message);
    CHECK(message.find(secret) == std::string::npos);
  }
  // A valid URI with a password is read whole; only what is shown is redacted.
  CHECK(parse_config("", "relay.toml", {"ingest.source=rtsp://user:pa/ss@cam/x"}).ingest.source ==
        "rtsp://user:pa/ss@cam/x");
}

TEST_CASE("[scale] pathways: two or more, unique ids of the spec's characters, absolute http(s) base URLs",
          "[config][scale]") {
  const std::string two = "[scale]\npathways = [{id=\"cache-a\", base_url=\"https://a.example.org\"},\n"
                          "            {id=\"cache_B.2\", base_url=\"http://127.0.0.1:8081/seminar/\"}]\n";
  SECTION("read in order; a base URL gains its final slash") {
    const Config config = parse_config(two + "steering_ttl_s = 5\nsteering_uri = \"https://o.example.org/live/steering.json\"\n",
                                       "relay.toml");
    REQUIRE(config.scale.pathways.size() == 2);
    CHECK(config.scale.pathways[0].id == "cache-a");
    CHECK(config.scale.pathways[0].base_url == "https://a.example.org/");
    CHECK(config.scale.pathways[1].id == "cache_B.2");
    CHECK(config.scale.pathways[1].base_url == "http://127.0.0.1:8081/seminar/");
    CHECK(config.scale.steering_ttl_s == 5);
    CHECK(pathway_origins(config.scale) ==
          std::vector<std::string>{"https://a.example.org", "http://127.0.0.1:8081", "https://o.example.org"});
  }
  SECTION("none by default; [] is none too") {
    CHECK(parse_config("", "relay.toml").scale.pathways.empty());
    CHECK(parse_config("[scale]\npathways = []\n", "relay.toml").scale.pathways.empty());
    CHECK(pathway_origins(parse_config("", "relay.toml").scale).empty());
  }
  SECTION("one pathway is not steering") {
    CHECK(error_of("[scale]\npathways = [{id=\"a\", base_url=\"https://a.example.org/\"}]\n") ==
          "relay.toml:2:12: scale.pathways: 1 pathway(s); content steering needs 2..16, or [] for none");
  }
  SECTION("ids are unique and of A-Z a-z 0-9 . - _") {
    CHECK(error_of("[scale]\npathways = [{id=\"a\", base_url=\"https://a.example.org/\"},\n"
                   "  {id=\"a\", base_url=\"https://b.example.org/\"}]\n") ==
          "relay.toml:3:7: scale.pathways[1].id: 'a' is already the id of scale.pathways[0]; ids must be unique");
    CHECK(error_of("[scale]\npathways = [{id=\"cache a\", base_url=\"https://a.example.org/\"},\n"
                   "  {id=\"b\", base_url=\"https://b.example.org/\"}]\n") ==
          "relay.toml:2:17: scale.pathways[0].id: 'cache a' is not a pathway id; use 1..64 of A-Z a-z 0-9 . - _");
  }
  SECTION("base URLs are absolute http(s) addresses without a query") {
    for (const std::string bad : {"a.example.org/", "/live/", "ftp://a.example.org/", "https://a.example.org/?x=1",
                                  "https:///path", "https://a.example.org/\\\"x"}) {
      INFO(bad);
      CHECK_THAT(error_of("[scale]\npathways = [{id=\"a\", base_url=\"" + bad +
                          "\"},\n  {id=\"b\", base_url=\"https://b.example.org/\"}]\n"),
                 StartsWith("relay.toml:2:31: scale.pathways[0].base_url: '"));
    }
  }
  SECTION("a pathway has exactly id and base_url") {
    CHECK(error_of("[scale]\npathways = [{id=\"a\"}, {id=\"b\", base_url=\"https://b.example.org/\"}]\n") ==
          "relay.toml:2:13: scale.pathways[0]: missing key 'base_url'");
    CHECK_THAT(error_of("[scale]\npathways = [{id=\"a\", url=\"https://a.example.org/\"},\n"
                        "  {id=\"b\", base_url=\"https://b.example.org/\"}]\n"),
               StartsWith("relay.toml:2:22: unknown key 'scale.pathways[0].url'; known keys in a pathway: id, base_url"));
    CHECK_THAT(error_of("[scale]\npathways = [\"https://a.example.org/\", \"https://b.example.org/\"]\n"),
               StartsWith("relay.toml:2:13: scale.pathways[0]: expected a table"));
  }
  SECTION("TTL and the steering address") {
    CHECK_THAT(error_of("[scale]\nsteering_ttl_s = 0\n"),
               StartsWith("relay.toml:2:18: scale.steering_ttl_s: 0 is out of range, expected 1..300"));
    CHECK_THAT(error_of("[scale]\nsteering_uri = \"steering.json?x=1\"\n"),
               StartsWith("relay.toml:2:16: scale.steering_uri: 'steering.json?x=1' is not a steering manifest"));
    CHECK_THAT(error_of("[scale]\nsteering_uri = \"ftp://o.example.org/s.json\"\n"),
               StartsWith("relay.toml:2:16: scale.steering_uri: "));
    CHECK(parse_config("[scale]\nsteering_uri = \"/live/steering.json\"\n", "relay.toml").scale.steering_uri ==
          "/live/steering.json");
  }
  SECTION("--set takes the inline array the browser test uses") {
    const Config config = parse_config(
        "", "relay.toml",
        {"scale.pathways=[{id=\"a\",base_url=\"http://127.0.0.1:1/\"},{id=\"b\",base_url=\"http://127.0.0.1:2/\"}]"});
    CHECK(config.scale.pathways.size() == 2);
  }
}

TEST_CASE("the uplink's keys are read into their members", "[config][uplink]") {
  const Config config = parse_config(R"(
[uplink]
url = "https://cloud.example/ingest"
token = "s3cret-uplink"
backlog_s = 12
backlog_mb = 8
timeout_s = 3
allow_insecure = true
)",
                                     "relay.toml");
  CHECK(config.uplink.url == "https://cloud.example/ingest");
  CHECK(config.uplink.token == "s3cret-uplink");
  CHECK(config.uplink.backlog_s == 12);
  CHECK(config.uplink.backlog_mb == 8);
  CHECK(config.uplink.timeout_s == 3);
  CHECK(config.uplink.allow_insecure);
  CHECK(parse_config("", "relay.toml").uplink.url.empty());
}

TEST_CASE("an uplink over http:// is refused unless it stays on this machine or is allowed", "[config][uplink]") {
  CHECK(error_of("[uplink]\nurl = \"http://cloud.example/ingest\"\ntoken = \"t\"\n") ==
        "relay.toml:2:7: uplink.url: an http:// address to a host other than loopback carries the stream and the "
        "uplink token unencrypted; use https://, or set uplink.allow_insecure = true (e.g. over a VPN)");
  CHECK_NOTHROW(parse_config("[uplink]\nurl = \"http://127.0.0.1:8080/ingest\"\ntoken = \"t\"\n", "relay.toml"));
  CHECK_NOTHROW(parse_config("[uplink]\nurl = \"http://[::1]:8080/ingest\"\ntoken = \"t\"\n", "relay.toml"));
  CHECK_NOTHROW(parse_config("[uplink]\nurl = \"http://localhost/ingest\"\ntoken = \"t\"\n", "relay.toml"));
  // A user name that looks like loopback does not make the host one.
  CHECK_THROWS(parse_config("[uplink]\nurl = \"http://127.0.0.1@cloud.example/\"\ntoken = \"t\"\n", "relay.toml"));
  CHECK_NOTHROW(parse_config(
      "[uplink]\nurl = \"http://cloud.example/ingest\"\ntoken = \"t\"\nallow_insecure = true\n", "relay.toml"));
  CHECK_THAT(error_of("[uplink]\nurl = \"ftp://cloud.example/\"\n"), Catch::Contains("is not a web address"));
}

TEST_CASE("an uplink needs exactly one of token and token_file", "[config][uplink]") {
  CHECK(error_of("[uplink]\nurl = \"https://cloud.example/ingest\"\n") ==
        "relay.toml:2:7: uplink.url: the cloud relay takes pushes only with its ingest token: set uplink.token or "
        "uplink.token_file");
  const std::string both = error_of("[uplink]\ntoken = \"abc\"\ntoken_file = \"/x\"\n");
  CHECK(both == "relay.toml:3:14: uplink.token_file: set uplink.token or uplink.token_file, not both");
  CHECK(both.find("abc") == std::string::npos);
}

TEST_CASE("the uplink token is read from token_file, and its errors never show it", "[config][uplink]") {
  TempDir dir;
  const auto file = dir.path / "uplink.token";
  {
    std::ofstream out(file);
    out << "  tok-from-file \nsecond line\n";
  }
  const Config config = parse_config("[uplink]\nurl = \"https://cloud.example/ingest\"\ntoken_file = \"uplink.token\"\n",
                                     "relay.toml", {}, dir.path);
  CHECK(config.uplink.token == "tok-from-file");
  CHECK(config.uplink.token_file == file);
  {
    std::ofstream out(file);
    out << "\n";
  }
  CHECK_THAT(error_of("[uplink]\ntoken_file = \"" + file.string() + "\"\n"),
             Catch::Contains("uplink.token_file: '" + file.string() + "' holds nothing on its first line"));
  CHECK_THAT(error_of("[uplink]\ntoken_file = \"" + (dir.path / "missing").string() + "\"\n"),
             Catch::Contains("uplink.token_file: cannot read the token file"));
}

TEST_CASE("a push: relay needs push tokens, no backup and fMP4; tokens are not echoed", "[config][push]") {
  CHECK_THAT(error_of("[ingest]\nsource = \"push:\"\n"),
             StartsWith("relay.toml:2:10: ingest.push_tokens: ingest.source = \"push:\" takes the ladder by HTTP PUT"));
  const std::vector<std::string> tokens = {"ingest.source=push:", "ingest.push_tokens=[\"push-token-0123456789abcdef\"]"};
  CHECK(parse_config("", "relay.toml", tokens).ingest.push_tokens.size() == 1);
  auto with = [&](std::string extra) {
    auto overrides = tokens;
    overrides.push_back(std::move(extra));
    return error_of("", overrides);
  };
  CHECK_THAT(with("ingest.backup_source=test:"), Contains("takes no backup source"));
  CHECK_THAT(with("hls.container=mpegts"), Contains("hls.container = \"fmp4\""));
  CHECK_THAT(error_of("", {"ingest.backup_source=push:"}), Contains("push: can only be ingest.source"));
  const std::string short_token = error_of("[ingest]\npush_tokens = [\"short-secret\"]\n");
  CHECK_THAT(short_token, Contains("16..256 printable"));
  CHECK(short_token.find("short-secret") == std::string::npos);
}

TEST_CASE("qa.database: sqlite or a postgresql URI without a password", "[config][qa]") {
  CHECK(parse_config("", "relay.toml").qa.database == "sqlite");
  CHECK(parse_config("[qa]\ndatabase = \"postgresql://relay@127.0.0.1:5432/qa\"\n", "relay.toml").qa.database ==
        "postgresql://relay@127.0.0.1:5432/qa");
  CHECK(parse_config("[qa]\ndatabase = \"postgres:///qa?host=/run/postgresql\"\n", "relay.toml").qa.database ==
        "postgres:///qa?host=/run/postgresql");
  CHECK_THAT(error_of("[qa]\ndatabase = \"mysql://db/qa\"\n"), Catch::Contains("neither \"sqlite\" nor a postgresql://"));
  for (const char* uri : {"postgresql://relay:s3cret@db/qa", "postgresql://db/qa?password=s3cret",
                          "postgresql://relay@db/qa?sslmode=require&password=s3cret"}) {
    INFO(uri);
    const std::string error = error_of(std::string("[qa]\ndatabase = \"") + uri + "\"\n");
    CHECK_THAT(error, Catch::Contains("holds a password"));
    CHECK(error.find("s3cret") == std::string::npos);
  }
  CHECK_THAT(error_of("[qa]\ndatabase_password_file = \"/x\"\n"), Catch::Contains("is for a postgresql://"));
}

TEST_CASE("the PostgreSQL password is read from qa.database_password_file", "[config][qa]") {
  TempDir dir;
  {
    std::ofstream out(dir.path / "db.password");
    out << "pw-from-file\n";
  }
  const Config config = parse_config(
      "[qa]\ndatabase = \"postgresql://relay@127.0.0.1/qa\"\ndatabase_password_file = \"db.password\"\n", "relay.toml",
      {}, dir.path);
  CHECK(config.qa.database_password == "pw-from-file");
  CHECK_THAT(error_of("[qa]\ndatabase = \"postgresql://relay@127.0.0.1/qa\"\ndatabase_password_file = \"" +
                      (dir.path / "missing").string() + "\"\n"),
             Catch::Contains("qa.database_password_file: cannot read"));
}
