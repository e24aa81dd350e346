#include "config/schema.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/ip_network.hpp"
#include "common/redact.hpp"
#include "config/source_uri.hpp"

namespace relay::config {
namespace {

std::string read_listen(const ValueReader& value) {
  std::string listen = value.string();
  auto reject = [&](std::string_view why) {
    value.fail(fmt::format("'{}' {}, expected \"host:port\" such as \"0.0.0.0:8080\" or \"[::]:8080\"",
                           listen, why));
  };
  std::string_view host;
  std::string_view port;
  if (listen.starts_with('[')) {
    const auto close = listen.find("]:");
    if (close == std::string::npos) reject("has no port after the IPv6 address");
    host = std::string_view(listen).substr(1, close - 1);
    port = std::string_view(listen).substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) reject("has no port");
    host = std::string_view(listen).substr(0, colon);
    port = std::string_view(listen).substr(colon + 1);
    if (host.find(':') != std::string_view::npos) reject("is an IPv6 address without [brackets]");
  }
  if (host.empty()) reject("has no host");
  // Port 0 asks the kernel for any free port, which tests rely on.
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number > 65535) {
    reject("has no valid port (0..65535)");
  }
  return listen;
}

std::vector<std::string> read_cors_origins(const ValueReader& value) {
  std::vector<std::string> origins = value.strings();
  for (std::size_t i = 0; i < origins.size(); ++i) {
    const std::string& origin = origins[i];
    if (origin != "*" && !origin.starts_with("http://") && !origin.starts_with("https://")) {
      value.element(i).fail(fmt::format(
          "'{}' is not an origin, expected \"*\" or one starting with http:// or https://", origin));
    }
  }
  return origins;
}

std::vector<std::string> read_trusted_proxies(const ValueReader& value) {
  std::vector<std::string> networks = value.strings();
  for (std::size_t i = 0; i < networks.size(); ++i) {
    if (!IpNetwork::parse(networks[i])) {
      value.element(i).fail(fmt::format("'{}' is not an address or network, expected one such as \"127.0.0.1\", "
                                        "\"10.0.0.0/8\" or \"2001:db8::/32\"",
                                        networks[i]));
    }
  }
  return networks;
}

// "https://host" or "http://host:port", as a browser writes an Origin: no path,
// and nothing that could end a header field or a CSP directive.
bool is_origin(std::string_view text) {
  std::string_view host;
  if (text.starts_with("https://")) host = text.substr(8);
  else if (text.starts_with("http://")) host = text.substr(7);
  else return false;
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
}

std::vector<std::string> read_origins(const ValueReader& value, bool keywords) {
  std::vector<std::string> origins = value.strings();
  for (std::size_t i = 0; i < origins.size(); ++i) {
    const std::string& origin = origins[i];
    if (keywords && (origin == "'self'" || origin == "'none'")) continue;
    if (!is_origin(origin)) {
      value.element(i).fail(fmt::format("'{}' is not an origin, expected one like \"https://events.example.org\" or "
                                        "\"http://host:8080\" (scheme and host, no path){}",
                                        origin, keywords ? ", or \"'self'\" or \"'none'\"" : ""));
    }
  }
  return origins;
}

std::vector<std::string> read_frame_ancestors(const ValueReader& value) {
  std::vector<std::string> origins = read_origins(value, true);
  if (origins.size() > 1 && std::find(origins.begin(), origins.end(), "'none'") != origins.end())
    value.fail("'none' cannot be combined with other entries");
  return origins;
}

std::string read_source(const ValueReader& value, bool may_be_empty = false) {
  std::string source = value.string();
  if (may_be_empty && source.empty()) return source;
  try {
    parse_source_uri(source);
  } catch (const SourceUriError& e) {
    value.fail(e.what());
  }
  return source;
}

// "#RRGGBB", the form a technician copies from any colour picker.
std::string read_color(const ValueReader& value) {
  std::string color = value.string();
  const bool valid = color.size() == 7 && color[0] == '#' &&
                     std::all_of(color.begin() + 1, color.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!valid) value.fail(fmt::format("'{}' is not a colour, expected \"#RRGGBB\" such as \"#1d3557\"", color));
  return color;
}

std::string read_passphrase(const ValueReader& value) {
  std::string phrase = value.string();
  if (!phrase.empty() && (phrase.size() < 10 || phrase.size() > 79))
    value.fail(fmt::format("is {} characters long; SRT needs 10..79, or \"\" for no encryption", phrase.size()));
  return phrase;
}

// 4:2:0 video, which every H.264 profile here uses, needs even picture sizes.
int read_even(const ValueReader& value, int min, int max) {
  const int v = value.integer(min, max);
  if (v % 2 != 0) value.fail(fmt::format("{} must be even (4:2:0 video)", v));
  return v;
}

std::string read_rendition_name(const ValueReader& value) {
  std::string name = value.string();
  const bool valid = !name.empty() && name.size() <= 32 &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                     });
  if (!valid) {
    value.fail(fmt::format("'{}' is not a valid name; it appears in URLs, so use 1..32 of a-z 0-9 _ -", name));
  }
  return name;
}

constexpr Field<Rendition> kRenditionFields[] = {
    {"name", [](const ValueReader& v, Rendition& r) { r.name = read_rendition_name(v); }},
    {"width", [](const ValueReader& v, Rendition& r) { r.width = read_even(v, 16, 7680); }},
    {"height", [](const ValueReader& v, Rendition& r) { r.height = read_even(v, 16, 4320); }},
    {"bitrate_kbps", [](const ValueReader& v, Rendition& r) { r.bitrate_kbps = v.integer(100, 50000); }},
    {"profile", [](const ValueReader& v, Rendition& r) { r.profile = v.one_of({"baseline", "main", "high"}); }},
};

Rendition read_rendition(const ValueReader& entry) {
  const toml::table& table = entry.table();
  Rendition rendition;
  for (const auto& [key, node] : in_file_order(table)) {
    const auto* field = find_field<Rendition>(kRenditionFields, key->str());
    if (!field) {
      throw ConfigError(fmt::format(
          "{}: {}", entry.where(key->source()),
          unknown_key_message(fmt::format("{}.{}", entry.key(), key->str()), "[[encoder.renditions]]",
                              names<Rendition>(kRenditionFields))));
    }
    field->set(entry.member(key->str()), rendition);
  }
  for (std::string_view required : {"name", "width", "height", "bitrate_kbps"}) {
    if (!table.contains(required)) entry.fail(fmt::format("missing key '{}'", required));
  }
  return rendition;
}

std::vector<Rendition> read_renditions(const ValueReader& value) {
  if (value.node().is_table()) {
    value.fail("expected an array of tables, got a single table; write each rendition under a "
               "[[encoder.renditions]] header, with double brackets");
  }
  const toml::array& entries = value.array();
  if (entries.empty() || entries.size() > 8) {
    value.fail(fmt::format("{} renditions, expected 1..8", entries.size()));
  }
  std::vector<Rendition> ladder;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ValueReader entry = value.element(i);
    Rendition rendition = read_rendition(entry);
    for (std::size_t j = 0; j < ladder.size(); ++j) {
      if (ladder[j].name == rendition.name) {
        entry.member("name").fail(
            fmt::format("'{}' is already the name of {}[{}]; names must be unique", rendition.name,
                        value.key(), j));
      }
    }
    // Players and the master playlist take the first entry as the top of the ladder.
    if (!ladder.empty() && rendition.bitrate_kbps > ladder.back().bitrate_kbps) {
      entry.member("bitrate_kbps")
          .fail(fmt::format("{} is higher than {}[{}] ({}); list renditions highest bitrate first",
                            rendition.bitrate_kbps, value.key(), i - 1, ladder.back().bitrate_kbps));
    }
    ladder.push_back(std::move(rendition));
  }
  return ladder;
}

// A name a player's audio menu shows, quoted in the master playlist.
std::string read_track_name(const ValueReader& value) {
  std::string name = value.string();
  const bool printable = std::none_of(name.begin(), name.end(), [](char c) {
    return c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (name.empty() || name.size() > 64 || !printable)
    value.fail(fmt::format("'{}' is not a usable track name; use 1..64 characters without '\"' or control characters",
                           name));
  return name;
}

// A BCP 47 tag as HLS's LANGUAGE attribute takes it: "de", "en", "en-GB", "sgn-DE".
std::string read_language(const ValueReader& value, bool may_be_empty) {
  std::string tag = value.string();
  if (tag.empty() && may_be_empty) return tag;
  bool valid = !tag.empty() && tag.size() <= 35 && tag.front() != '-' && tag.back() != '-' &&
               tag.find("--") == std::string::npos;
  size_t first = tag.find('-');
  std::string primary = tag.substr(0, first);
  valid = valid && primary.size() >= 2 && primary.size() <= 3 &&
          std::all_of(primary.begin(), primary.end(), [](char c) { return c >= 'a' && c <= 'z'; }) &&
          std::all_of(tag.begin(), tag.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; });
  if (!valid)
    value.fail(fmt::format("'{}' is not a BCP 47 language tag; write e.g. \"de\", \"en\" or \"en-GB\" (lower-case "
                           "language first)",
                           tag));
  return tag;
}

constexpr Field<AudioTrackConfig> kAudioFields[] = {
    {"name", [](const ValueReader& v, AudioTrackConfig& a) { a.name = read_track_name(v); }},
    {"language", [](const ValueReader& v, AudioTrackConfig& a) { a.language = read_language(v, false); }},
    {"source",
     [](const ValueReader& v, AudioTrackConfig& a) {
       a.source = v.string();
       try {
         parse_audio_source(a.source);
       } catch (const SourceUriError& e) {
         v.fail(e.what());
       }
     }},
    {"bitrate_kbps", [](const ValueReader& v, AudioTrackConfig& a) { a.bitrate_kbps = v.integer(32, 512); }},
};

constexpr Field<Config> kEdgeFields[] = {
    {"listen", [](const ValueReader& v, Config& c) { c.edge.listen = read_listen(v); }},
    {"threads", [](const ValueReader& v, Config& c) { c.edge.threads = v.integer(1, 256); }},
    {"cors_origins", [](const ValueReader& v, Config& c) { c.edge.cors_origins = read_cors_origins(v); }},
    {"web_dir", [](const ValueReader& v, Config& c) { c.edge.web_dir = v.path(); }},
    {"node_modules_dir", [](const ValueReader& v, Config& c) { c.edge.node_modules_dir = v.path(); }},
    {"read_timeout_s", [](const ValueReader& v, Config& c) { c.edge.read_timeout_s = v.number(0.5, 600); }},
    {"max_header_bytes", [](const ValueReader& v, Config& c) { c.edge.max_header_bytes = v.integer(1024, 1 << 20); }},
    {"max_body_bytes", [](const ValueReader& v, Config& c) { c.edge.max_body_bytes = v.integer(0, 64 << 20); }},
    {"header_timeout_s", [](const ValueReader& v, Config& c) { c.edge.header_timeout_s = v.number(0.5, 600); }},
    {"idle_timeout_s", [](const ValueReader& v, Config& c) { c.edge.idle_timeout_s = v.number(1, 3600); }},
    {"max_connections", [](const ValueReader& v, Config& c) { c.edge.max_connections = v.integer(1, 1000000); }},
    {"max_connections_per_ip",
     [](const ValueReader& v, Config& c) { c.edge.max_connections_per_ip = v.integer(1, 1000000); }},
    {"shutdown_grace_s", [](const ValueReader& v, Config& c) { c.edge.shutdown_grace_s = v.number(0, 300); }},
    {"tls_listen", [](const ValueReader& v, Config& c) {
       c.edge.tls_listen = v.string().empty() ? std::string() : read_listen(v);
     }},
    {"tls_cert_file", [](const ValueReader& v, Config& c) { c.edge.tls_cert_file = v.string(); }},
    {"tls_key_file", [](const ValueReader& v, Config& c) { c.edge.tls_key_file = v.string(); }},
    {"trusted_proxies", [](const ValueReader& v, Config& c) { c.edge.trusted_proxies = read_trusted_proxies(v); }},
    {"forwarded_header",
     [](const ValueReader& v, Config& c) { c.edge.forwarded_header = v.one_of({"x-forwarded-for", "forwarded"}); }},
    {"frame_ancestors", [](const ValueReader& v, Config& c) { c.edge.frame_ancestors = read_frame_ancestors(v); }},
    {"websocket_origins", [](const ValueReader& v, Config& c) { c.edge.websocket_origins = read_origins(v, false); }},
    {"plain_http", [](const ValueReader& v, Config& c) { c.edge.plain_http = v.one_of({"redirect", "serve"}); }},
    {"hsts_max_age_s", [](const ValueReader& v, Config& c) { c.edge.hsts_max_age_s = v.integer(0, 63072000); }},
};

std::vector<std::string> read_tokens(const ValueReader& value);

constexpr Field<Config> kIngestFields[] = {
    {"source", [](const ValueReader& v, Config& c) { c.ingest.source = read_source(v); }},
    {"backup_source", [](const ValueReader& v, Config& c) { c.ingest.backup_source = read_source(v, true); }},
    {"input_timeout_s", [](const ValueReader& v, Config& c) { c.ingest.input_timeout_s = v.number(0.1, 10); }},
    {"slate_after_s", [](const ValueReader& v, Config& c) { c.ingest.slate_after_s = v.number(0, 60); }},
    {"failback_s", [](const ValueReader& v, Config& c) { c.ingest.failback_s = v.number(0, 600); }},
    {"reconnect_max_s", [](const ValueReader& v, Config& c) { c.ingest.reconnect_max_s = v.number(0.5, 300); }},
    {"slate_image",
     [](const ValueReader& v, Config& c) {
       c.ingest.slate_image = v.string().empty() ? std::string() : v.path();
     }},
    {"slate_text", [](const ValueReader& v, Config& c) { c.ingest.slate_text = v.string(); }},
    {"slate_color", [](const ValueReader& v, Config& c) { c.ingest.slate_color = read_color(v); }},
    {"srt_latency_ms", [](const ValueReader& v, Config& c) { c.ingest.srt_latency_ms = v.integer(20, 8000); }},
    {"srt_passphrase", [](const ValueReader& v, Config& c) { c.ingest.srt_passphrase = read_passphrase(v); }},
    {"srt_pbkeylen", [](const ValueReader& v, Config& c) { c.ingest.srt_pbkeylen = v.integer_one_of({16, 24, 32}); }},
    {"srt_streamid", [](const ValueReader& v, Config& c) { c.ingest.srt_streamid = v.string(); }},
    {"rtsp_transport", [](const ValueReader& v, Config& c) { c.ingest.rtsp_transport = v.one_of({"tcp", "udp"}); }},
    {"rtsp_latency_ms", [](const ValueReader& v, Config& c) { c.ingest.rtsp_latency_ms = v.integer(0, 5000); }},
    {"v4l2_format",
     [](const ValueReader& v, Config& c) { c.ingest.v4l2_format = v.one_of({"", "YUY2", "NV12", "I420", "MJPG"}); }},
    {"v4l2_width", [](const ValueReader& v, Config& c) { c.ingest.v4l2_width = v.integer(0, 7680); }},
    {"v4l2_height", [](const ValueReader& v, Config& c) { c.ingest.v4l2_height = v.integer(0, 4320); }},
    {"v4l2_framerate", [](const ValueReader& v, Config& c) { c.ingest.v4l2_framerate = v.integer(0, 240); }},
    {"pipelines_dir", [](const ValueReader& v, Config& c) { c.ingest.pipelines_dir = v.path(); }},
    {"width", [](const ValueReader& v, Config& c) { c.ingest.width = read_even(v, 16, 7680); }},
    {"height", [](const ValueReader& v, Config& c) { c.ingest.height = read_even(v, 16, 4320); }},
    {"framerate", [](const ValueReader& v, Config& c) { c.ingest.framerate = v.integer(1, 120); }},
    {"loop", [](const ValueReader& v, Config& c) { c.ingest.loop = v.boolean(); }},
    {"test_pattern",
     [](const ValueReader& v, Config& c) {
       // The names gst-inspect-1.0 videotestsrc lists for its "pattern" property.
       c.ingest.test_pattern = v.one_of(
           {"smpte", "snow", "black", "white", "red", "green", "blue", "checkers-1", "checkers-2",
            "checkers-4", "checkers-8", "circular", "blink", "smpte75", "zone-plate", "gamut",
            "chroma-zone-plate", "solid-color", "ball", "smpte100", "bar", "pinwheel", "spokes",
            "gradient", "colors", "smpte-rp-219"});
     }},
    {"allow_unauthenticated", [](const ValueReader& v, Config& c) { c.ingest.allow_unauthenticated = v.boolean(); }},
    {"push_tokens", [](const ValueReader& v, Config& c) { c.ingest.push_tokens = read_tokens(v); }},
};

constexpr Field<Config> kEncoderFields[] = {
    {"preset",
     [](const ValueReader& v, Config& c) {
       c.encoder.preset = v.one_of({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                    "slow", "slower", "veryslow", "placebo"});
     }},
    {"tune",
     [](const ValueReader& v, Config& c) {
       c.encoder.tune = v.one_of({"", "zerolatency", "film", "animation", "grain", "stillimage", "psnr",
                                  "ssim", "fastdecode"});
     }},
    {"vbv_buffer_s", [](const ValueReader& v, Config& c) { c.encoder.vbv_buffer_s = v.number(0.1, 10); }},
    {"audio_bitrate_kbps", [](const ValueReader& v, Config& c) { c.encoder.audio_bitrate_kbps = v.integer(32, 512); }},
    {"audio_channels", [](const ValueReader& v, Config& c) { c.encoder.audio_channels = v.integer(1, 2); }},
    {"audio_rate", [](const ValueReader& v, Config& c) { c.encoder.audio_rate = v.integer_one_of({44100, 48000}); }},
    {"renditions", [](const ValueReader& v, Config& c) { c.encoder.renditions = read_renditions(v); }},
    {"floor_audio_name", [](const ValueReader& v, Config& c) { c.encoder.floor_audio_name = read_track_name(v); }},
    {"floor_audio_language",
     [](const ValueReader& v, Config& c) { c.encoder.floor_audio_language = read_language(v, true); }},
};

constexpr Field<Config> kHlsFields[] = {
    {"segment_duration_s", [](const ValueReader& v, Config& c) { c.hls.segment_duration_s = v.number(0.5, 10); }},
    // The upper bound is hls.segment_duration_s, checked once both are known.
    {"part_duration_s", [](const ValueReader& v, Config& c) { c.hls.part_duration_s = v.number(0.1, 10); }},
    {"live_window", [](const ValueReader& v, Config& c) { c.hls.live_window = v.integer(3, 100); }},
    {"dvr_window_s", [](const ValueReader& v, Config& c) { c.hls.dvr_window_s = v.number(0, 86400); }},
    {"max_memory_mb", [](const ValueReader& v, Config& c) { c.hls.max_memory_mb = v.integer(16, 65536); }},
    {"low_latency", [](const ValueReader& v, Config& c) { c.hls.low_latency = v.boolean(); }},
    {"container", [](const ValueReader& v, Config& c) { c.hls.container = v.one_of({"fmp4", "mpegts"}); }},
};

constexpr Field<Config> kLogFields[] = {
    {"level",
     [](const ValueReader& v, Config& c) { c.log.level = v.one_of({"trace", "debug", "info", "warn", "error"}); }},
};

// Role tokens are passwords: long enough not to be guessed, and never echoed in an error.
std::vector<std::string> read_tokens(const ValueReader& value) {
  std::vector<std::string> tokens = value.strings();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    const bool printable = std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; });
    if (token.size() < 16 || token.size() > 256 || !printable) {
      value.element(i).fail("a token must be 16..256 printable ASCII characters without spaces (e.g. the output "
                            "of `openssl rand -hex 24`)");
    }
  }
  return tokens;
}

// "sqlite", or a postgresql:// (postgres://) URI that carries no password: a
// password in the config file ends up in backups and in ps listings.
std::string read_qa_database(const ValueReader& value) {
  std::string database = value.string();
  if (database == "sqlite") return database;
  if (!database.starts_with("postgresql://") && !database.starts_with("postgres://"))
    value.fail(fmt::format("'{}' is neither \"sqlite\" nor a postgresql:// URI", text::redact_secrets(database)));
  const std::string_view rest = std::string_view(database).substr(database.find("//") + 2);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const auto at = authority.rfind('@');
  const bool password_in_userinfo = at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos;
  const bool password_in_query = database.find("password=") != std::string::npos;
  if (password_in_userinfo || password_in_query)
    value.fail("the URI holds a password; put it in qa.database_password_file or the PGPASSWORD environment "
               "variable instead");
  return database;
}

constexpr Field<Config> kQaFields[] = {
    {"data_dir", [](const ValueReader& v, Config& c) { c.qa.data_dir = v.path(); }},
    {"synchronous", [](const ValueReader& v, Config& c) { c.qa.synchronous = v.one_of({"normal", "full"}); }},
    {"database", [](const ValueReader& v, Config& c) { c.qa.database = read_qa_database(v); }},
    {"database_password_file",
     [](const ValueReader& v, Config& c) { c.qa.database_password_file = v.string().empty() ? std::string() : v.path(); }},
    {"default_room_title",
     [](const ValueReader& v, Config& c) {
       c.qa.default_room_title = v.string();
       if (c.qa.default_room_title.empty() || c.qa.default_room_title.size() > 200)
         v.fail("expected 1..200 characters");
     }},
    {"max_question_chars", [](const ValueReader& v, Config& c) { c.qa.max_question_chars = v.integer(1, 10000); }},
    {"max_name_chars", [](const ValueReader& v, Config& c) { c.qa.max_name_chars = v.integer(1, 200); }},
    {"questions_per_minute",
     [](const ValueReader& v, Config& c) { c.qa.questions_per_minute = v.number(0.01, 10000); }},
    {"question_burst", [](const ValueReader& v, Config& c) { c.qa.question_burst = v.integer(1, 10000); }},
    {"attendees_per_minute",
     [](const ValueReader& v, Config& c) { c.qa.attendees_per_minute = v.number(0.01, 100000); }},
    {"attendee_burst", [](const ValueReader& v, Config& c) { c.qa.attendee_burst = v.integer(1, 100000); }},
    {"slow_mode_s", [](const ValueReader& v, Config& c) { c.qa.slow_mode_s = v.integer(0, 3600); }},
    {"auto_approve", [](const ValueReader& v, Config& c) { c.qa.auto_approve = v.boolean(); }},
    {"word_list", [](const ValueReader& v, Config& c) { c.qa.word_list = v.strings(); }},
    {"word_list_file", [](const ValueReader& v, Config& c) { c.qa.word_list_file = v.string(); }},
    {"moderator_tokens", [](const ValueReader& v, Config& c) { c.qa.moderator_tokens = read_tokens(v); }},
    {"speaker_tokens", [](const ValueReader& v, Config& c) { c.qa.speaker_tokens = read_tokens(v); }},
    {"technician_tokens", [](const ValueReader& v, Config& c) { c.qa.technician_tokens = read_tokens(v); }},
    {"admin_tokens", [](const ValueReader& v, Config& c) { c.qa.admin_tokens = read_tokens(v); }},
    {"captioner_tokens", [](const ValueReader& v, Config& c) { c.qa.captioner_tokens = read_tokens(v); }},
    {"vote_interval_ms", [](const ValueReader& v, Config& c) { c.qa.vote_interval_ms = v.integer(250, 10000); }},
    {"ws_queue_limit", [](const ValueReader& v, Config& c) { c.qa.ws_queue_limit = v.integer(16, 65536); }},
    {"ws_resume_events", [](const ValueReader& v, Config& c) { c.qa.ws_resume_events = v.integer(16, 1000000); }},
    {"identities_per_minute_global",
     [](const ValueReader& v, Config& c) { c.qa.identities_per_minute_global = v.number(1, 1000000); }},
    {"max_questions_per_room",
     [](const ValueReader& v, Config& c) { c.qa.max_questions_per_room = v.integer(1, 1000000); }},
    {"max_attendees", [](const ValueReader& v, Config& c) { c.qa.max_attendees = v.integer(1, 10000000); }},
    {"retention_days", [](const ValueReader& v, Config& c) { c.qa.retention_days = v.integer(0, 3650); }},
};

std::string read_webhook_url(const ValueReader& value) {
  std::string url = value.string();
  if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://"))
    value.fail(fmt::format("'{}' is not a web address, expected one starting with http:// or https://, or \"\" for none",
                           text::redact_secrets(url)));
  return url;
}

constexpr Field<Config> kHealthFields[] = {
    {"incident_log",
     [](const ValueReader& v, Config& c) { c.health.incident_log = v.string().empty() ? std::string() : v.path(); }},
    {"input_lost_hold_s", [](const ValueReader& v, Config& c) { c.health.input_lost_hold_s = v.number(0, 3600); }},
    {"input_bitrate_min_kbps",
     [](const ValueReader& v, Config& c) { c.health.input_bitrate_min_kbps = v.number(0, 1000000); }},
    {"input_bitrate_max_kbps",
     [](const ValueReader& v, Config& c) { c.health.input_bitrate_max_kbps = v.number(1, 1000000); }},
    {"input_bitrate_hold_s", [](const ValueReader& v, Config& c) { c.health.input_bitrate_hold_s = v.number(0, 3600); }},
    {"input_framerate_min", [](const ValueReader& v, Config& c) { c.health.input_framerate_min = v.number(0, 240); }},
    {"input_framerate_hold_s",
     [](const ValueReader& v, Config& c) { c.health.input_framerate_hold_s = v.number(0, 3600); }},
    {"input_keyframe_interval_max_s",
     [](const ValueReader& v, Config& c) { c.health.input_keyframe_interval_max_s = v.number(0, 600); }},
    {"input_keyframe_interval_hold_s",
     [](const ValueReader& v, Config& c) { c.health.input_keyframe_interval_hold_s = v.number(0, 3600); }},
    {"segment_late_factor", [](const ValueReader& v, Config& c) { c.health.segment_late_factor = v.number(1, 100); }},
    {"segment_late_hold_s", [](const ValueReader& v, Config& c) { c.health.segment_late_hold_s = v.number(0, 3600); }},
    {"realtime_factor_min", [](const ValueReader& v, Config& c) { c.health.realtime_factor_min = v.number(0, 1); }},
    {"realtime_window_s", [](const ValueReader& v, Config& c) { c.health.realtime_window_s = v.number(2, 600); }},
    {"realtime_hold_s", [](const ValueReader& v, Config& c) { c.health.realtime_hold_s = v.number(0, 3600); }},
    {"audio_silence_db", [](const ValueReader& v, Config& c) { c.health.audio_silence_db = v.number(-200, 0); }},
    {"audio_silence_hold_s", [](const ValueReader& v, Config& c) { c.health.audio_silence_hold_s = v.number(0, 3600); }},
    {"viewer_stalls_per_minute_max",
     [](const ValueReader& v, Config& c) { c.health.viewer_stalls_per_minute_max = v.number(0, 1000); }},
    {"viewer_stalls_hold_s", [](const ValueReader& v, Config& c) { c.health.viewer_stalls_hold_s = v.number(0, 3600); }},
    {"viewer_window_s", [](const ValueReader& v, Config& c) { c.health.viewer_window_s = v.number(1, 600); }},
    {"webhook_url", [](const ValueReader& v, Config& c) { c.health.webhook_url = read_webhook_url(v); }},
    {"webhook_secret", [](const ValueReader& v, Config& c) { c.health.webhook_secret = v.string(); }},
    {"webhook_retries", [](const ValueReader& v, Config& c) { c.health.webhook_retries = v.integer(0, 20); }},
    {"webhook_timeout_s", [](const ValueReader& v, Config& c) { c.health.webhook_timeout_s = v.number(0.5, 120); }},
    {"allow_insecure_webhooks", [](const ValueReader& v, Config& c) { c.health.allow_insecure_webhooks = v.boolean(); }},
    {"listen", [](const ValueReader& v, Config& c) {
       c.health.listen = v.string().empty() ? std::string() : read_listen(v);
     }},
};

// PATHWAY-ID's characters (HLS content steering: [a..z], [A..Z], [0..9], '.', '-', '_').
bool is_pathway_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

// The characters of a URL path the relay writes into a playlist's quoted string
// and a JSON text as they are: no quote, comma, space, query or fragment.
bool is_plain_path(std::string_view path) {
  return std::all_of(path.begin(), path.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '-' || c == '_' || c == '~' ||
           c == '%';
  });
}

// "https://host[:port]/path/": scheme, a host, and an optional plain path.
bool is_absolute_http_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) rest = url.substr(8);
  else if (url.starts_with("http://")) rest = url.substr(7);
  else return false;
  const size_t slash = rest.find('/');
  const std::string_view host = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  return is_origin(url.substr(0, url.size() - rest.size() + host.size())) && is_plain_path(path);
}

Pathway read_pathway(const ValueReader& entry) {
  if (!entry.node().is_table())
    entry.fail("expected a table such as {id=\"cache-a\", base_url=\"https://a.example.org/\"}");
  constexpr std::string_view known[] = {"id", "base_url"};
  Pathway pathway;
  for (const auto& [key, node] : in_file_order(entry.table())) {
    const ValueReader member = entry.member(key->str());
    if (key->str() == "id") {
      pathway.id = member.string();
      if (!is_pathway_id(pathway.id))
        member.fail(fmt::format("'{}' is not a pathway id; use 1..64 of A-Z a-z 0-9 . - _", pathway.id));
    } else if (key->str() == "base_url") {
      pathway.base_url = member.string();
      if (!is_absolute_http_url(pathway.base_url))
        member.fail(fmt::format("'{}' is not an absolute web address; expected one like \"https://a.example.org/\" "
                                "(http:// or https://, a host, an optional path; no query)",
                                pathway.base_url));
      if (!pathway.base_url.ends_with('/')) pathway.base_url += '/';
    } else {
      throw ConfigError(fmt::format("{}: {}", entry.where(key->source()),
                                    unknown_key_message(fmt::format("{}.{}", entry.key(), key->str()),
                                                        "a pathway", std::vector<std::string_view>(std::begin(known), std::end(known)))));
    }
  }
  for (std::string_view required : known)
    if (!entry.table().contains(required)) entry.fail(fmt::format("missing key '{}'", required));
  return pathway;
}

std::vector<Pathway> read_pathways(const ValueReader& value) {
  const toml::array& entries = value.array();
  if (entries.size() == 1 || entries.size() > 16)
    value.fail(fmt::format("{} pathway(s); content steering needs 2..16, or [] for none", entries.size()));
  std::vector<Pathway> pathways;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ValueReader entry = value.element(i);
    Pathway pathway = read_pathway(entry);
    for (std::size_t j = 0; j < pathways.size(); ++j) {
      if (pathways[j].id == pathway.id)
        entry.member("id").fail(fmt::format("'{}' is already the id of {}[{}]; ids must be unique", pathway.id,
                                            value.key(), j));
    }
    pathways.push_back(std::move(pathway));
  }
  return pathways;
}

// SERVER-URI: relative to the master playlist (a plain path), or absolute.
std::string read_steering_uri(const ValueReader& value) {
  std::string uri = value.string();
  const bool valid = uri.find("://") != std::string::npos ? is_absolute_http_url(uri)
                                                          : !uri.empty() && !uri.starts_with("//") && is_plain_path(uri);
  if (!valid)
    value.fail(fmt::format("'{}' is not a steering manifest address; expected a path relative to the master "
                           "playlist such as \"steering.json\", or an absolute http:// or https:// address",
                           uri));
  return uri;
}

constexpr Field<Config> kScaleFields[] = {
    {"pathways", [](const ValueReader& v, Config& c) { c.scale.pathways = read_pathways(v); }},
    {"steering_ttl_s", [](const ValueReader& v, Config& c) { c.scale.steering_ttl_s = v.integer(1, 300); }},
    {"steering_uri", [](const ValueReader& v, Config& c) { c.scale.steering_uri = read_steering_uri(v); }},
};

constexpr Field<Config> kUplinkFields[] = {
    {"url", [](const ValueReader& v, Config& c) { c.uplink.url = read_webhook_url(v); }},
    {"token", [](const ValueReader& v, Config& c) { c.uplink.token = v.string(); }},
    {"token_file",
     [](const ValueReader& v, Config& c) { c.uplink.token_file = v.string().empty() ? std::string() : v.path(); }},
    {"backlog_s", [](const ValueReader& v, Config& c) { c.uplink.backlog_s = v.number(2, 600); }},
    {"backlog_mb", [](const ValueReader& v, Config& c) { c.uplink.backlog_mb = v.integer(1, 4096); }},
    {"timeout_s", [](const ValueReader& v, Config& c) { c.uplink.timeout_s = v.number(1, 60); }},
    {"allow_insecure", [](const ValueReader& v, Config& c) { c.uplink.allow_insecure = v.boolean(); }},
};

// A BCP 47 tag as players compare it: letters, digits and hyphens ("de", "en-GB", "gsg").
bool is_language_code(std::string_view code) {
  if (code.empty() || code.size() > 35 || code.front() == '-' || code.back() == '-') return false;
  return std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::vector<CaptionLanguage> read_caption_languages(const ValueReader& value) {
  constexpr std::string_view known[] = {"code", "name"};
  const toml::array& entries = value.array();
  if (entries.size() > 16) value.fail(fmt::format("{} languages; at most 16", entries.size()));
  std::vector<CaptionLanguage> languages;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ValueReader entry = value.element(i);
    CaptionLanguage language;
    for (const auto& [key, node] : in_file_order(entry.table())) {
      const ValueReader member = entry.member(key->str());
      if (key->str() == "code") {
        language.code = member.string();
        if (!is_language_code(language.code))
          member.fail(fmt::format("'{}' is not a language tag; use a BCP 47 tag such as \"de\" or \"en-GB\"",
                                  language.code));
      } else if (key->str() == "name") {
        language.name = member.string();
        const bool plain = std::none_of(language.name.begin(), language.name.end(),
                                        [](char c) { return c == '"' || static_cast<unsigned char>(c) < 0x20; });
        if (language.name.empty() || language.name.size() > 64 || !plain)
          member.fail("a language name must be 1..64 bytes, without quotes or control characters (e.g. \"Deutsch\")");
      } else {
        throw ConfigError(fmt::format("{}: {}", entry.where(key->source()),
                                      unknown_key_message(fmt::format("{}.{}", entry.key(), key->str()),
                                                          "a caption language",
                                                          std::vector<std::string_view>(std::begin(known), std::end(known)))));
      }
    }
    for (std::string_view required : known)
      if (!entry.table().contains(required)) entry.fail(fmt::format("missing key '{}'", required));
    for (std::size_t j = 0; j < languages.size(); ++j) {
      if (languages[j].code == language.code)
        entry.member("code").fail(fmt::format("'{}' is already the code of {}[{}]; codes must be unique",
                                              language.code, value.key(), j));
    }
    languages.push_back(std::move(language));
  }
  return languages;
}

constexpr Field<Config> kCaptionsFields[] = {
    {"languages", [](const ValueReader& v, Config& c) { c.captions.languages = read_caption_languages(v); }},
    {"offset_s", [](const ValueReader& v, Config& c) { c.captions.offset_s = v.number(0, 10); }},
    {"max_chars", [](const ValueReader& v, Config& c) { c.captions.max_chars = v.integer(20, 2000); }},
};

constexpr Field<Config> kVodFields[] = {
    {"enabled", [](const ValueReader& v, Config& c) { c.vod.enabled = v.boolean(); }},
    {"access",
     [](const ValueReader& v, Config& c) {
       c.vod.access = v.one_of({"public", "event_code"}) == "public" ? VodAccess::public_access : VodAccess::event_code;
     }},
    // Secrets: a bad value's message says what is wrong, never the value.
    {"event_code",
     [](const ValueReader& v, Config& c) {
       c.vod.event_code = v.string();
       const bool printable = std::none_of(c.vod.event_code.begin(), c.vod.event_code.end(), [](char ch) {
         return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
       });
       if (!c.vod.event_code.empty() && (c.vod.event_code.size() < 6 || c.vod.event_code.size() > 128 || !printable))
         v.fail("expected 6..128 printable characters (or \"\" for none)");
     }},
    {"cookie_key",
     [](const ValueReader& v, Config& c) {
       c.vod.cookie_key = v.string();
       if (!c.vod.cookie_key.empty() && c.vod.cookie_key.size() < 32)
         v.fail("expected at least 32 characters (e.g. the output of `openssl rand -hex 32`), or \"\" for a random "
                "key at each start");
     }},
    {"session_hours", [](const ValueReader& v, Config& c) { c.vod.session_hours = v.integer(1, 24 * 30); }},
};

// An event id is a folder name under recording.dir.
std::string read_recording_event(const ValueReader& value) {
  const std::string id = value.string();
  const bool safe = id.size() <= 64 && (id.empty() || id.front() != '.') &&
                    std::all_of(id.begin(), id.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                             c == '_' || c == '-';
                    });
  if (!safe)
    value.fail(fmt::format("'{}' is not an event id; use up to 64 letters, digits, '.', '_' or '-' (not starting "
                           "with '.'), e.g. \"seminar-2027\", or \"\" for the UTC day of the start",
                           id));
  return id;
}

constexpr Field<Config> kRecordingFields[] = {
    {"enabled", [](const ValueReader& v, Config& c) { c.recording.enabled = v.boolean(); }},
    {"dir", [](const ValueReader& v, Config& c) { c.recording.dir = v.path(); }},
    {"event", [](const ValueReader& v, Config& c) { c.recording.event = read_recording_event(v); }},
    {"warn_free_mb", [](const ValueReader& v, Config& c) { c.recording.warn_free_mb = v.integer(0, 10'000'000); }},
    {"stop_free_mb", [](const ValueReader& v, Config& c) { c.recording.stop_free_mb = v.integer(0, 10'000'000); }},
    {"retention_days", [](const ValueReader& v, Config& c) { c.recording.retention_days = v.integer(0, 3650); }},
};

constexpr Section kSections[] = {
    {"edge", kEdgeFields},   {"ingest", kIngestFields}, {"encoder", kEncoderFields},
    {"hls", kHlsFields},     {"log", kLogFields},       {"qa", kQaFields},
    {"health", kHealthFields}, {"scale", kScaleFields}, {"uplink", kUplinkFields},
    {"captions", kCaptionsFields}, {"recording", kRecordingFields}, {"vod", kVodFields},
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A near miss worth suggesting: a typo, a missing plural, a dropped unit suffix.
std::optional<std::string_view> closest(std::string_view name, const std::vector<std::string_view>& known) {
  std::optional<std::string_view> best;
  // One edit in three characters: "thread" finds "threads", "foo" finds nothing.
  std::size_t best_distance = std::max<std::size_t>(1, (name.size() + 2) / 3) + 1;
  for (std::string_view candidate : known) {
    const std::size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace

std::span<const Section> sections() { return kSections; }

std::vector<AudioTrackConfig> read_audio_tracks(const ValueReader& value) {
  if (value.node().is_table()) {
    value.fail("expected an array of tables, got a single table; write each track under an [[audio]] header, with "
               "double brackets");
  }
  const toml::array& entries = value.array();
  if (entries.size() > 8) value.fail(fmt::format("{} audio tracks, expected at most 8", entries.size()));
  std::vector<AudioTrackConfig> tracks;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ValueReader entry = value.element(i);
    const toml::table& table = entry.table();
    AudioTrackConfig track;
    for (const auto& [key, node] : in_file_order(table)) {
      const auto* field = find_field<AudioTrackConfig>(kAudioFields, key->str());
      if (!field) {
        throw ConfigError(fmt::format("{}: {}", entry.where(key->source()),
                                      unknown_key_message(fmt::format("{}.{}", entry.key(), key->str()), "[[audio]]",
                                                          names<AudioTrackConfig>(kAudioFields))));
      }
      field->set(entry.member(key->str()), track);
    }
    for (std::string_view required : {"name", "language", "source"}) {
      if (!table.contains(required)) entry.fail(fmt::format("missing key '{}'", required));
    }
    for (std::size_t j = 0; j < tracks.size(); ++j) {
      if (tracks[j].name == track.name)
        entry.member("name").fail(fmt::format("'{}' is already the name of audio[{}]; names must be unique",
                                              track.name, j));
    }
    track.rendition = fmt::format("audio-{}", i + 1);
    tracks.push_back(std::move(track));
  }
  return tracks;
}

std::span<const Field<Rendition>> rendition_fields() { return kRenditionFields; }

const Section* find_section(std::string_view name) {
  for (const Section& section : kSections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

std::string unknown_key_message(std::string_view key, std::string_view table,
                                const std::vector<std::string_view>& known) {
  const std::string_view name = key.substr(key.rfind('.') + 1);
  std::string message = fmt::format("unknown key '{}'; ", key);
  if (const auto suggestion = closest(name, known)) message += fmt::format("did you mean '{}'? ", *suggestion);
  return message + fmt::format("known keys in {}: {}", table, fmt::join(known, ", "));
}

std::string unknown_section_message(std::string_view name) {
  for (const Section& section : kSections) {
    if (find_field<Config>(section.fields, name)) {
      return fmt::format("unknown section '{}'; '{}' is a key of [{}], write it below that header", name, name,
                         section.name);
    }
  }
  std::vector<std::string_view> known;
  for (const Section& section : kSections) known.push_back(section.name);
  std::string message = fmt::format("unknown section '{}'; ", name);
  if (const auto suggestion = closest(name, known)) message += fmt::format("did you mean [{}]? ", *suggestion);
  return message + fmt::format("known sections: {}", fmt::join(known, ", "));
}

namespace {

// A talk's start or end: an RFC 3339 string ("2027-03-10T09:00:00+01:00") or a
// TOML offset date-time written without quotes; either way with a time zone.
wall_time::WallTime read_talk_time(const ValueReader& value) {
  constexpr std::string_view kExpected =
      "expected an RFC 3339 time with its time zone, such as \"2027-03-10T09:00:00+01:00\" or "
      "\"2027-03-10T08:00:00Z\"";
  if (const auto* native = value.node().as_date_time()) {
    const toml::date_time& t = native->get();
    if (!t.offset)
      value.fail(fmt::format("the time has no time zone; {}", kExpected));
    const auto parsed = wall_time::from_fields(t.date.year, t.date.month, t.date.day, t.time.hour, t.time.minute,
                                               t.time.second, t.offset->minutes);
    if (!parsed) value.fail(kExpected);
    return *parsed;
  }
  const std::string text = value.string();
  const auto parsed = wall_time::parse_rfc3339(text);
  if (!parsed) value.fail(fmt::format("'{}' is not a time; {}", text, kExpected));
  return *parsed;
}

bool is_talk_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && id.front() != '-' &&
         std::all_of(id.begin(), id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// Titles, speakers and abstracts end up in JSON, iCalendar and pages: printable
// text (newlines allowed in the abstract only), bounded.
std::string read_talk_text(const ValueReader& value, std::size_t max_bytes, bool multiline) {
  std::string text = value.string();
  const bool printable = std::none_of(text.begin(), text.end(), [multiline](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || byte == 0x7f;
  });
  if (text.size() > max_bytes || !printable)
    value.fail(fmt::format("expected at most {} bytes of text without control characters{}", max_bytes,
                           multiline ? " (newlines are fine)" : ""));
  return text;
}

constexpr std::string_view kTalkKeys[] = {"id", "title", "speakers", "start", "end", "language", "abstract"};

TalkConfig read_talk(const ValueReader& entry) {
  TalkConfig talk;
  for (const auto& [key, node] : in_file_order(entry.table())) {
    const ValueReader member = entry.member(key->str());
    const std::string_view name = key->str();
    if (name == "id") {
      talk.id = member.string();
      if (!is_talk_id(talk.id))
        member.fail(fmt::format("'{}' is not a talk id; use 1..64 of a-z, 0-9 and '-' (it appears in URLs), "
                                "e.g. \"opening\" or \"talk-3\"",
                                talk.id));
      if (talk.id == "all" || talk.id == "media")
        member.fail(fmt::format("'{}' is taken by the recordings' URLs (/vod/<event>/all/, /vod/<event>/media/); "
                                "choose another talk id",
                                talk.id));
    } else if (name == "title") {
      talk.title = read_talk_text(member, 300, false);
      if (talk.title.empty()) member.fail("a talk's title must not be empty");
    } else if (name == "speakers") {
      talk.speakers = member.strings();
      if (talk.speakers.size() > 20) member.fail("at most 20 speakers per talk");
      for (std::size_t i = 0; i < talk.speakers.size(); ++i) {
        const ValueReader speaker = member.element(i);
        if (read_talk_text(speaker, 200, false).empty()) speaker.fail("a speaker's name must not be empty");
      }
    } else if (name == "start") {
      talk.start = read_talk_time(member);
    } else if (name == "end") {
      talk.end = read_talk_time(member);
    } else if (name == "language") {
      talk.language = read_language(member, true);
    } else if (name == "abstract") {
      talk.abstract = read_talk_text(member, 4000, true);
    } else {
      throw ConfigError(fmt::format("{}: {}", entry.where(key->source()),
                                    unknown_key_message(fmt::format("{}.{}", entry.key(), name), "[[programme.talks]]",
                                                        std::vector<std::string_view>(std::begin(kTalkKeys),
                                                                                      std::end(kTalkKeys)))));
    }
  }
  for (std::string_view required : {"id", "title", "start", "end"})
    if (!entry.table().contains(required)) entry.fail(fmt::format("missing key '{}'", required));
  if (talk.end.unix_seconds <= talk.start.unix_seconds)
    entry.member("end").fail(fmt::format("{} is not after the talk's start ({})", wall_time::format_rfc3339(talk.end),
                                         wall_time::format_rfc3339(talk.start)));
  return talk;
}

}  // namespace

ProgrammeConfig read_programme(const ValueReader& value) {
  ProgrammeConfig programme;
  for (const auto& [key, node] : in_file_order(value.table())) {
    if (key->str() != "talks")
      throw ConfigError(fmt::format("{}: {}", value.where(key->source()),
                                    unknown_key_message(fmt::format("programme.{}", key->str()), "[programme]",
                                                        {"talks"})));
  }
  if (!value.table().contains("talks")) return programme;
  const ValueReader talks = value.member("talks");
  if (talks.node().is_table())
    talks.fail("expected an array of tables; write each talk under a [[programme.talks]] header, with double brackets");
  const toml::array& entries = talks.array();
  if (entries.size() > 500) talks.fail(fmt::format("{} talks, expected at most 500", entries.size()));
  std::vector<TalkConfig>& read = programme.talks;
  std::vector<std::string> read_at;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ValueReader entry = talks.element(i);
    TalkConfig talk = read_talk(entry);
    for (std::size_t j = 0; j < read.size(); ++j) {
      const TalkConfig& other = read[j];
      const std::string& other_at = read_at[j];
      if (other.id == talk.id)
        entry.member("id").fail(fmt::format("'{}' is already the id of the talk at {}; ids must be unique", talk.id,
                                            other_at));
      // Half-open slots: one talk may end the minute the next begins.
      if (talk.start.unix_seconds < other.end.unix_seconds && other.start.unix_seconds < talk.end.unix_seconds)
        entry.member("start").fail(fmt::format("the slot {} .. {} overlaps '{}' ({} .. {}) at {}",
                                               wall_time::format_rfc3339(talk.start),
                                               wall_time::format_rfc3339(talk.end), other.id,
                                               wall_time::format_rfc3339(other.start),
                                               wall_time::format_rfc3339(other.end), other_at));
    }
    read.push_back(std::move(talk));
    read_at.push_back(entry.where());
  }
  // Planned order, whatever order the file lists them in (slots do not overlap, so starts differ).
  std::sort(read.begin(), read.end(),
            [](const TalkConfig& a, const TalkConfig& b) { return a.start.unix_seconds < b.start.unix_seconds; });
  return programme;
}

}  // namespace relay::config
