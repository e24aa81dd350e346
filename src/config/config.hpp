#pragma once
// Typed configuration with every default in one place. config/relay.toml documents
// each key; load_config() fills these structs and rejects anything it does not know.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/wall_time.hpp"

namespace relay::config {

struct EdgeConfig {
  std::string listen = "0.0.0.0:8080";  // "host:port"; "[::1]:8080" for IPv6
  int threads = 2;                      // Asio worker threads, 1..256
  std::vector<std::string> cors_origins = {"*"};  // Access-Control-Allow-Origin for GET
  std::filesystem::path web_dir = "web";           // attendee page and assets
  std::filesystem::path node_modules_dir = "node_modules";  // hls.js is served from here
  double read_timeout_s = 15.0;      // one whole request from its first byte; write deadline base, 0.5..600
  double header_timeout_s = 10.0;    // a request's header from its first byte (slowloris), 0.5..600
  double idle_timeout_s = 30.0;      // keep-alive wait for the next request, 1..3600
  int max_header_bytes = 8 * 1024;   // 1 KiB..1 MiB
  int max_body_bytes = 64 * 1024;    // 0..64 MiB
  int max_connections = 10000;       // open connections in all, 1..1000000; over it: 503
  int max_connections_per_ip = 256;  // open connections from one client address, 1..1000000
  double shutdown_grace_s = 5.0;     // SIGTERM: in-flight responses may finish this long, 0..300
  // HTTPS (HTTP/2 and HTTP/1.1 by ALPN) on a second port; "" = none.
  std::string tls_listen;
  std::filesystem::path tls_cert_file;  // PEM certificate chain, leaf first
  std::filesystem::path tls_key_file;   // PEM private key
  // Reverse proxies or CDN nodes (addresses or CIDR networks) whose forwarded_header
  // names the client; empty = the TCP peer is the client, headers ignored.
  std::vector<std::string> trusted_proxies;
  std::string forwarded_header = "x-forwarded-for";  // x-forwarded-for | forwarded (RFC 7239)
  // Sites that may show the pages in a frame (CSP frame-ancestors): "'self'", "'none'" or origins.
  std::vector<std::string> frame_ancestors = {"'self'"};
  // Other origins whose pages may open the WebSocket; [] = the relay's own origin only.
  std::vector<std::string> websocket_origins;
  // With tls_listen set, what edge.listen does: "redirect" (308 to HTTPS) or "serve".
  std::string plain_http = "redirect";
  int hsts_max_age_s = 31536000;  // Strict-Transport-Security on HTTPS responses, 0 = none, 0..63072000
};

struct IngestConfig {
  std::string source = "test:";       // test:, file:///path, srt://, rtsp://, rtmp://, v4l2:///dev/videoN
  std::filesystem::path pipelines_dir = "pipelines";
  int width = 1920;                   // size of the test source picture
  int height = 1080;
  int framerate = 30;                 // frames per second the ladder runs at, 1..120
  bool loop = true;                   // file:// sources start again at the end
  std::string test_pattern = "ball";  // videotestsrc pattern for test:

  // A second input taken when the primary is lost; same URI forms; "" = none.
  std::string backup_source;
  double input_timeout_s = 0.5;   // no new frame for this long = input lost, 0.1..10
  double slate_after_s = 2.0;     // the last frame stays this long before the slate, 0..60
  double failback_s = 5.0;        // the primary must be up this long before leaving the backup, 0..600
  double reconnect_max_s = 10.0;  // longest wait between reconnects of a failing input, 0.5..300
  std::filesystem::path slate_image;  // PNG or JPEG shown on input loss; empty = plain colour
  std::string slate_text = "We'll be right back \u00b7 Wir sind gleich zur\u00fcck";
  std::string slate_color = "#1d3557";  // slate background, "#RRGGBB"

  int srt_latency_ms = 120;        // SRT receive latency, 20..8000
  std::string srt_passphrase;      // AES key phrase, 10..79 characters; "" = unencrypted
  int srt_pbkeylen = 16;           // 16 | 24 | 32 bytes (AES-128/192/256)
  std::string srt_streamid;        // listener: the only stream id accepted; caller: the id sent
  std::string rtsp_transport = "tcp";  // tcp | udp
  int rtsp_latency_ms = 200;       // RTSP jitter buffer, 0..5000
  std::string v4l2_format;         // "" any, or YUY2 | NV12 | I420 | MJPG
  int v4l2_width = 0;              // 0 = the device's choice
  int v4l2_height = 0;
  int v4l2_framerate = 0;
  // An SRT listener other hosts can reach without a passphrase is refused at
  // start unless this is true (then logged loudly and reported as degraded).
  bool allow_unauthenticated = false;
  // source = "push:": bearer tokens a pusher (a hall relay's uplink, ffmpeg
  // -method PUT) must send on PUT /ingest/...; never logged. Empty: nobody may push.
  std::vector<std::string> push_tokens;
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
  // The programme sound muxed into every video rendition, as the master
  // playlist's audio menu names it once [[audio]] tracks exist (EXT-X-MEDIA).
  std::string floor_audio_name = "Floor";
  std::string floor_audio_language;  // BCP 47, e.g. "de"; empty: not stated
  std::vector<Rendition> renditions = {
      {"720p", 1280, 720, 2800, "high"},
      {"480p", 854, 480, 1200, "main"},
      {"360p", 640, 360, 600, "main"},
  };
};

// One [[audio]] entry: an interpreter's (or any extra) sound, published as an
// AAC audio-only rendition beside the video (docs/operations.md, "Interpreter audio").
struct AudioTrackConfig {
  std::string name;      // what the player's audio menu shows, e.g. "English (interpretation)"
  std::string language;  // BCP 47, e.g. "en"
  // srt://..., rtsp://..., alsa://hw:1,0, channel:N (1-based, of the main input's
  // sound), test: or test:FREQ (a tone, for trying it out).
  std::string source;
  int bitrate_kbps = 0;  // 0: encoder.audio_bitrate_kbps
  std::string rendition;  // its URL path element, "audio-1", "audio-2", ... (set by the loader)
};

struct HlsConfig {
  double segment_duration_s = 2.0;  // also the GOP length, 0.5..10
  double part_duration_s = 0.5;     // fMP4 fragment length inside a segment, <= segment
  int live_window = 6;              // segments in the live playlist, >= 3
  double dvr_window_s = 300.0;      // extra seconds kept and listed for seeking back; 0 = off
  int max_memory_mb = 768;          // hard cap on media held in memory (room for the DVR window)
  bool low_latency = true;          // LL-HLS: parts, preload hints, blocking reload
  std::string container = "fmp4";   // fmp4 | mpegts (old players; no LL-HLS)
};

struct LogConfig {
  std::string level = "info";  // trace | debug | info | warn | error
};

// The audience Q&A ([qa] in config/relay.toml).
struct QaConfig {
  std::filesystem::path data_dir = "data";  // holds qa.sqlite3
  // "sqlite" (qa.sqlite3 in data_dir, one relay) or a postgresql:// URI without
  // a password (several relays share it). Never logged as given.
  std::string database = "sqlite";
  std::filesystem::path database_password_file;  // first line is the password; or PGPASSWORD / ~/.pgpass
  std::string database_password;                 // read from database_password_file; never logged
  std::string synchronous = "normal";       // normal | full (SQLite; full also survives a power cut)
  std::string default_room_title = "Q&A";   // the room a fresh install starts with
  int max_question_chars = 300;             // code points, 1..10000
  int max_name_chars = 40;                  // display names, 1..200
  double questions_per_minute = 2;          // per attendee, refill of the token bucket
  int question_burst = 3;                   // per attendee, questions at once
  double attendees_per_minute = 10;         // new attendee tokens per client address
  int attendee_burst = 30;
  int slow_mode_s = 0;                      // default for new rooms; 0 = off
  bool auto_approve = false;                // default for new rooms
  std::vector<std::string> word_list;       // hits are held for review
  std::filesystem::path word_list_file;     // more entries, one per line; empty = none
  // Bearer tokens per role; never logged. Empty: nobody has that role.
  std::vector<std::string> moderator_tokens;
  std::vector<std::string> speaker_tokens;
  std::vector<std::string> technician_tokens;
  std::vector<std::string> admin_tokens;
  std::vector<std::string> captioner_tokens;  // live captions ([captions]); admins may caption too
  int vote_interval_ms = 250;   // vote counts go out at most this often per room
  int ws_queue_limit = 256;     // messages waiting for one WebSocket client before it is closed
  int ws_resume_events = 2048;  // events per room kept for clients resuming with since=
  double identities_per_minute_global = 600;  // new attendee tokens per minute from all networks together
  int max_questions_per_room = 2000;          // then asking there answers 409 room_full
  int max_attendees = 20000;                  // attendee tokens in the database; then 429 too_many_attendees
  int retention_days = 30;                    // questions, votes, attendees older than this are deleted; 0 = kept
};

// Stream health for technicians ([health] in config/relay.toml): alert rules,
// the incident log and the webhook they are sent to.
struct HealthConfig {
  std::filesystem::path incident_log;  // JSON lines; empty = incidents.jsonl in qa.data_dir
  double input_lost_hold_s = 3;         // input lost (waiting, lost, slate) this long fires
  double input_bitrate_min_kbps = 100;  // input bitrate outside min..max this long fires
  double input_bitrate_max_kbps = 20000;
  double input_bitrate_hold_s = 10;
  double input_framerate_min = 20;      // input frame rate below this long fires; 0 = off
  double input_framerate_hold_s = 5;
  double input_keyframe_interval_max_s = 5;  // input keyframes further apart than this fires; 0 = off
  double input_keyframe_interval_hold_s = 10;
  double segment_late_factor = 2;       // newest segment older than factor x segment duration fires
  double segment_late_hold_s = 0;
  double realtime_factor_min = 0.95;    // media seconds produced per wall second, over the window
  double realtime_window_s = 10;
  double realtime_hold_s = 10;
  double audio_silence_db = -60;        // programme sound below this RMS level (dBFS) counts as silent
  double audio_silence_hold_s = 10;
  double viewer_stalls_per_minute_max = 1;  // stalls per viewer-minute the players report; 0 = off
  double viewer_stalls_hold_s = 30;
  double viewer_window_s = 30;          // a playback session counts as a viewer this long after its last request
  std::string webhook_url;              // "" = no webhooks; https:// (http:// only with allow_insecure_webhooks)
  std::string webhook_secret;           // HMAC-SHA256 key for X-Relay-Signature; "" = unsigned
  int webhook_retries = 5;              // attempts after the first, with doubling backoff
  double webhook_timeout_s = 10;        // per attempt
  bool allow_insecure_webhooks = false; // http:// webhook URLs (unencrypted, e.g. a receiver on loopback)
  // "host:port" of the operator's private port: /metrics, /api/health (in
  // full), /api/incidents and /api/tech/* without a token, nothing else; "" = none.
  std::string listen;
};

// One cache path players may take to the live media (HLS content steering).
struct Pathway {
  std::string id;        // PATHWAY-ID: 1..64 of A-Z a-z 0-9 . - _
  std::string base_url;  // absolute http(s) URL of the site through this path, ending in '/'
};

struct ScaleConfig {
  // Two or more cache paths named in the master playlist; [] = one path, the
  // master as it was (relative URIs, no EXT-X-CONTENT-STEERING).
  std::vector<Pathway> pathways;
  int steering_ttl_s = 10;                     // TTL of the steering manifest, 1..300
  std::string steering_uri = "steering.json";  // SERVER-URI, relative to the master or absolute http(s)
};

// The hall uplink ([uplink] in config/relay.toml): this relay pushes its ladder
// (init sections, parts or segments, playlists) by HTTP PUT to a relay in the cloud.
struct UplinkConfig {
  std::string url;                   // base URL, e.g. "https://cloud.example/ingest"; "" = off
  std::string token;                 // bearer token the receiver expects (or read from token_file)
  std::filesystem::path token_file;  // a file holding the token; empty = none
  double backlog_s = 30;             // media seconds kept per rendition while the cloud is unreachable
  int backlog_mb = 64;               // and at most this many MiB for all renditions
  double timeout_s = 5;              // one PUT without progress this long fails and is retried
  bool allow_insecure = false;       // http:// to a host other than loopback
};

// Live captions ([captions] in config/relay.toml): WebVTT subtitle renditions
// written by captioners (/captioner, POST /api/captions/<lang>).
struct CaptionLanguage {
  std::string code;  // BCP 47 tag, e.g. "de"; LANGUAGE in the master playlist and /api/captions/<code>
  std::string name;  // NAME players list, e.g. "Deutsch"
};
struct CaptionsConfig {
  std::vector<CaptionLanguage> languages;  // empty: no captions (no subtitle renditions)
  double offset_s = 0;                     // cues start this long before their line arrived (0..10)
  int max_chars = 500;                     // longest line, in code points
};

// One [[programme.talks]] entry (docs/programme.md). Times keep the offset they
// were written with; the loader checks that slots do not overlap.
struct TalkConfig {
  std::string id;                     // URL path element and iCalendar UID part: a-z, 0-9, '-'
  std::string title;
  std::vector<std::string> speakers;  // may be empty
  wall_time::WallTime start;
  wall_time::WallTime end;
  std::string language;  // BCP 47; empty: not stated
  std::string abstract;  // may be empty
};
struct ProgrammeConfig {
  std::vector<TalkConfig> talks;  // in planned order (sorted by start by the loader); none by default
};

// On-demand viewing of the recordings ([vod], docs/vod.md). Off by default:
// publishing recordings is the organiser's choice; when on, an event code
// (attendee-level) unless the organiser makes them public.
enum class VodAccess { public_access, event_code };
struct VodConfig {
  bool enabled = false;
  VodAccess access = VodAccess::event_code;
  std::string event_code;   // secret: never logged; at least 6 characters when access = "event_code"
  std::string cookie_key;   // secret signing the session cookies; empty: random at each start
  int session_hours = 24;   // how long a session cookie lasts
};

// [recording] (docs/recording.md): every rendition to disk, per event, with a journal.
struct RecordingConfig {
  bool enabled = false;                          // record from start-up; a technician can start it anyway
  std::filesystem::path dir = "recordings";      // resolved against the config file's folder
  std::string event;                             // folder name; empty: the UTC day "YYYY-MM-DD" of the start
  int warn_free_mb = 2048;                       // below: the recording_disk_low alert
  int stop_free_mb = 512;                        // below: the recording stops (the stream goes on)
  int retention_days = 30;                       // events whose last entry is older go; 0 keeps them
};

struct Config {
  EdgeConfig edge;
  IngestConfig ingest;
  EncoderConfig encoder;
  HlsConfig hls;
  LogConfig log;
  QaConfig qa;
  HealthConfig health;
  ScaleConfig scale;
  UplinkConfig uplink;
  CaptionsConfig captions;
  std::vector<AudioTrackConfig> audio;  // [[audio]]; none by default
  ProgrammeConfig programme;            // [[programme.talks]]
  VodConfig vod;
  RecordingConfig recording;
  std::filesystem::path source_file;  // the file it was loaded from, for messages
};

// The origins ("https://host[:port]") players fetch from besides the relay's
// own: each pathway's, and the steering manifest's when steering_uri is absolute.
std::vector<std::string> pathway_origins(const ScaleConfig& scale);

// A config problem, with where it is: "relay.toml:12:9: edge.threads: ...".
// The message is redacted (text::redact_secrets) as it is made, since it
// quotes values and --set arguments, which may hold passwords and keys.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message);
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
