#pragma once
// Typed configuration with every default in one place. config/relay.toml documents
// each key; load_config() fills these structs and rejects anything it does not know.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace relay::config {

struct EdgeConfig {
  std::string listen = "0.0.0.0:8080";  // "host:port"; "[::1]:8080" for IPv6
  int threads = 2;                      // Asio worker threads, 1..256
  std::vector<std::string> cors_origins = {"*"};  // Access-Control-Allow-Origin for GET
  std::filesystem::path web_dir = "web";           // attendee page and assets
  std::filesystem::path node_modules_dir = "node_modules";  // hls.js is served from here
  double read_timeout_s = 15.0;      // per request header/body read, 0.5..600
  int max_header_bytes = 8 * 1024;   // 1 KiB..1 MiB
  int max_body_bytes = 64 * 1024;    // 0..64 MiB
};

struct IngestConfig {
  std::string source = "test:";       // test:, file:///path
  std::filesystem::path pipelines_dir = "pipelines";
  int width = 1920;                   // size of the test source picture
  int height = 1080;
  int framerate = 30;                 // frames per second the ladder runs at, 1..120
  bool loop = true;                   // file:// sources start again at the end
  std::string test_pattern = "ball";  // videotestsrc pattern for test:
};

struct Rendition {
  std::string name;   // URL path element, [a-z0-9_-]
  int width = 0;
  int height = 0;
  int bitrate_kbps = 0;  // H.264 target (and VBV maximum) bitrate
  std::string profile = "high";  // baseline | main | high
};

struct EncoderConfig {
  std::string preset = "veryfast";  // x264 speed preset
  std::string tune = "zerolatency";
  double vbv_buffer_s = 0.5;        // VBV buffer as seconds of the bitrate, bounds peak bitrate
  int audio_bitrate_kbps = 128;
  int audio_channels = 2;
  int audio_rate = 48000;
  std::vector<Rendition> renditions = {
      {"720p", 1280, 720, 2800, "high"},
      {"480p", 854, 480, 1200, "main"},
      {"360p", 640, 360, 600, "main"},
  };
};

struct HlsConfig {
  double segment_duration_s = 2.0;  // also the GOP length, 0.5..10
  double part_duration_s = 0.5;     // fMP4 fragment length inside a segment, <= segment
  int live_window = 6;              // segments in the live playlist, >= 3
  double dvr_window_s = 0.0;        // extra seconds kept and listed for seeking back; 0 = off
  int max_memory_mb = 512;          // hard cap on media held in memory
  bool low_latency = true;          // LL-HLS: parts, preload hints, blocking reload
  std::string container = "fmp4";   // fmp4 | mpegts (old players; no LL-HLS)
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error
};

struct Config {
  EdgeConfig edge;
  IngestConfig ingest;
  EncoderConfig encoder;
  HlsConfig hls;
  LogConfig log;
  std::filesystem::path source_file;  // the file it was loaded from, for messages
};

// A config problem, with where it is: "relay.toml:12:9: edge.threads: ...".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the TOML file, applies "section.key=value" overrides (values in TOML
// syntax; a bare word is taken as a string), validates everything and resolves
// relative paths against the config file's directory. Throws ConfigError.
Config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});

// Same, from text (for tests); relative paths resolve against base_dir.
Config parse_config(const std::string& text, const std::string& source_name,
                    const std::vector<std::string>& overrides = {},
                    const std::filesystem::path& base_dir = ".");

}  // namespace relay::config
