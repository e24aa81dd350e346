#include "config/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/redact.hpp"
#include "config/schema.hpp"
#include "config/source_uri.hpp"
#include "config/value_reader.hpp"

namespace relay::config {

ConfigError::ConfigError(const std::string& message) : std::runtime_error(text::redact_secrets(message)) {}

namespace {

// What an error may quote of a --set argument: not the value of a key that
// holds a secret (role tokens, the webhook's signing key, the SRT passphrase,
// the VOD's event code and cookie key).
std::string loggable_override(const std::string& argument) {
  const std::string_view key = std::string_view(argument).substr(0, argument.find('='));
  for (std::string_view secret : {"token", "secret", "passphrase", "event_code", "cookie_key"}) {
    if (key.find(secret) != std::string_view::npos) return fmt::format("{}=***", key);
  }
  return argument;
}

// Parses an override value as TOML so numbers, booleans, arrays and inline tables
// keep their type; anything that is not a TOML value is a bare string, so that
// `--set ingest.source=file:///tmp/a.mp4` works without shell-quoted quotes.
toml::table parse_override_value(std::string_view text) {
  try {
    toml::table parsed = toml::parse(fmt::format("v = {}", text), std::string_view("--set"));
    if (parsed.size() == 1 && parsed.contains("v")) return parsed;
  } catch (const toml::parse_error&) {
  }
  return toml::table{{"v", std::string(text)}};
}

// Fills a Config from the file and the overrides, in that order, remembering
// where each key was last set so that checks across keys can point at a line.
class Loader {
 public:
  Loader(Config& config, std::string source_name) : config_(config), source_name_(std::move(source_name)) {}

  void apply_file(const toml::table& root) {
    const Origin origin = Origin::file(source_name_);
    for (const auto& [name, node] : in_file_order(root)) {
      if (name->str() == "audio") {
        // An array of tables, not a section of keys.
        config_.audio = read_audio_tracks(ValueReader(*node, "audio", origin));
        // Checks across keys point at each track's source line.
        for (size_t i = 0; i < config_.audio.size(); ++i)
          set_at_[fmt::format("audio[{}].source", i)] =
              origin.at(node->as_array()->at(i).as_table()->get("source")->source());
        continue;
      }
      if (name->str() == "programme") {
        // Holds an array of tables, [[programme.talks]], checked as a whole (overlaps).
        config_.programme = read_programme(ValueReader(*node, "programme", origin));
        continue;
      }
      const Section* section = find_section(name->str());
      if (!section) {
        throw ConfigError(fmt::format("{}: {}", origin.at(name->source()), unknown_section_message(name->str())));
      }
      const ValueReader section_value(*node, std::string(section->name), origin);
      for (const auto& [key, value] : in_file_order(section_value.table())) {
        const std::string full_key = fmt::format("{}.{}", section->name, key->str());
        const auto* field = find_field(section->fields, key->str());
        if (!field) {
          throw ConfigError(fmt::format("{}: {}", origin.at(key->source()), unknown_key_in(*section, full_key)));
        }
        apply(*field, ValueReader(*value, full_key, origin));
      }
    }
  }

  void apply_override(const std::string& argument) {
    const std::string context = fmt::format("--set {}", loggable_override(argument));
    const auto equals = argument.find('=');
    const std::string_view path = std::string_view(argument).substr(0, equals);
    const auto dot = path.find('.');
    if (equals == std::string::npos || dot == 0 || dot == std::string_view::npos || dot + 1 == path.size()) {
      throw ConfigError(fmt::format("{}: expected section.key=value, such as --set edge.threads=4", context));
    }
    const Section* section = find_section(path.substr(0, dot));
    if (!section) {
      throw ConfigError(fmt::format("{}: {}", context, unknown_section_message(path.substr(0, dot))));
    }
    const auto* field = find_field(section->fields, path.substr(dot + 1));
    if (!field) throw ConfigError(fmt::format("{}: {}", context, unknown_key_in(*section, std::string(path))));

    const toml::table value = parse_override_value(std::string_view(argument).substr(equals + 1));
    const Origin origin = Origin::argument(context);
    apply(*field, ValueReader(*value.get("v"), std::string(path), origin));
  }

  void check_across_keys() const {
    const HlsConfig& hls = config_.hls;
    if (hls.part_duration_s > hls.segment_duration_s) {
      fail({"hls.part_duration_s", "hls.segment_duration_s"},
           fmt::format("{} is longer than hls.segment_duration_s ({})", hls.part_duration_s, hls.segment_duration_s));
    }
    // Rounded values such as 0.333 for a third of a second are fine: the part is
    // then taken as exactly segment / parts.
    const double parts = std::round(hls.segment_duration_s / hls.part_duration_s);
    if (std::abs(parts * hls.part_duration_s - hls.segment_duration_s) > 0.005) {
      fail({"hls.part_duration_s", "hls.segment_duration_s"},
           fmt::format("{} does not divide hls.segment_duration_s ({}): a segment must be a whole number of "
                       "parts (within 5 ms)",
                       hls.part_duration_s, hls.segment_duration_s));
    }
    // Each segment starts on a keyframe, so a segment is one GOP of whole frames.
    const double frames = hls.segment_duration_s * config_.ingest.framerate;
    if (std::abs(frames - std::round(frames)) > 1e-6) {
      fail({"hls.segment_duration_s", "ingest.framerate"},
           fmt::format("{} s at ingest.framerate {} is {} frames; a segment is one GOP and must be a whole "
                       "number of frames",
                       hls.segment_duration_s, config_.ingest.framerate, frames));
    }
    // mp4mux cuts parts at frame boundaries, so a part must be whole frames too.
    const double part_frames = hls.segment_duration_s / parts * config_.ingest.framerate;
    if (std::abs(part_frames - std::round(part_frames)) > 0.01) {
      fail({"hls.part_duration_s", "ingest.framerate"},
           fmt::format("{} s at ingest.framerate {} is {:.2f} frames; a part must be a whole number of frames",
                       hls.part_duration_s, config_.ingest.framerate, part_frames));
    }
    const EdgeConfig& edge = config_.edge;
    if (!edge.tls_listen.empty() && (edge.tls_cert_file.empty() || edge.tls_key_file.empty())) {
      fail({"edge.tls_listen", "edge.tls_cert_file", "edge.tls_key_file"},
           "HTTPS needs a certificate and its key: set edge.tls_cert_file and edge.tls_key_file, or leave "
           "edge.tls_listen empty");
    }
    const IngestConfig& ingest = config_.ingest;
    if (parse_source_uri(ingest.source).push()) {
      if (ingest.push_tokens.empty())
        fail({"ingest.push_tokens", "ingest.source"},
             "ingest.source = \"push:\" takes the ladder by HTTP PUT, which only a pusher with a token may send: "
             "set ingest.push_tokens (16..256 characters each, e.g. the output of `openssl rand -hex 24`)");
      if (!ingest.backup_source.empty())
        fail({"ingest.backup_source", "ingest.source"}, "a push: relay takes no backup source; leave it \"\"");
      if (hls.container != "fmp4")
        fail({"hls.container", "ingest.source"}, "a push: relay republishes fragmented MP4 as it is pushed; set "
                                                 "hls.container = \"fmp4\"");
    }
    if (!ingest.backup_source.empty() && parse_source_uri(ingest.backup_source).push())
      fail({"ingest.backup_source"}, "push: can only be ingest.source");
    if (!ingest.backup_source.empty()) {
      if (ingest.backup_source == ingest.source) {
        fail({"ingest.backup_source", "ingest.source"},
             fmt::format("'{}' is the same as ingest.source; a backup must be another input", ingest.backup_source));
      }
      const SourceUri primary = parse_source_uri(ingest.source);
      const SourceUri backup = parse_source_uri(ingest.backup_source);
      if (primary.srt_listener() && backup.srt_listener() && primary.port == backup.port) {
        fail({"ingest.backup_source", "ingest.source"},
             fmt::format("listens on SRT port {} like ingest.source; give the backup its own port", backup.port));
      }
    }
    check_srt_listener_authenticated("ingest.source", ingest.source);
    if (!ingest.backup_source.empty()) check_srt_listener_authenticated("ingest.backup_source", ingest.backup_source);
    if (config_.health.input_bitrate_min_kbps >= config_.health.input_bitrate_max_kbps) {
      fail({"health.input_bitrate_min_kbps", "health.input_bitrate_max_kbps"},
           fmt::format("{} is not below health.input_bitrate_max_kbps ({})", config_.health.input_bitrate_min_kbps,
                       config_.health.input_bitrate_max_kbps));
    }
    if (config_.health.webhook_url.starts_with("http://") && !config_.health.allow_insecure_webhooks) {
      fail({"health.webhook_url"},
           "an http:// address sends alerts and their signature unencrypted; use https://, or set "
           "health.allow_insecure_webhooks = true (e.g. for a receiver on this machine)");
    }
    check_uplink();
    check_audio_tracks();
    if (config_.vod.enabled && config_.vod.access == VodAccess::event_code && config_.vod.event_code.empty())
      fail({"vod.event_code", "vod.access", "vod.enabled"},
           "VOD with access = \"event_code\" needs the code attendees are given: set vod.event_code (6..128 "
           "characters), or vod.access = \"public\" to publish the recordings to everyone");
    if (config_.qa.database == "sqlite" && !config_.qa.database_password_file.empty())
      fail({"qa.database_password_file", "qa.database"}, "a password file is for a postgresql:// qa.database");
    if (config_.recording.stop_free_mb > config_.recording.warn_free_mb) {
      fail({"recording.stop_free_mb", "recording.warn_free_mb"},
           fmt::format("{} is above recording.warn_free_mb ({}): the warning would never come before the stop",
                       config_.recording.stop_free_mb, config_.recording.warn_free_mb));
    }
    const double live_s = hls.live_window * hls.segment_duration_s;
    if (hls.dvr_window_s != 0 && hls.dvr_window_s < live_s) {
      fail({"hls.dvr_window_s", "hls.live_window", "hls.segment_duration_s"},
           fmt::format("{} is shorter than the live playlist (hls.live_window {} x hls.segment_duration_s {} = "
                       "{} s); use 0 to turn DVR off, or at least {}",
                       hls.dvr_window_s, hls.live_window, hls.segment_duration_s, live_s, live_s));
    }
  }

 private:
  // The uplink carries the whole programme and its token: encrypted, unless it
  // stays on this machine or the operator says so.
  void check_uplink() const {
    const UplinkConfig& uplink = config_.uplink;
    if (!uplink.token.empty() && !uplink.token_file.empty())
      fail({"uplink.token_file", "uplink.token"}, "set uplink.token or uplink.token_file, not both");
    if (uplink.url.empty()) return;
    if (uplink.url.starts_with("http://") && !uplink.allow_insecure && !names_loopback(uplink.url)) {
      fail({"uplink.url", "uplink.allow_insecure"},
           "an http:// address to a host other than loopback carries the stream and the uplink token "
           "unencrypted; use https://, or set uplink.allow_insecure = true (e.g. over a VPN)");
    }
    if (uplink.token.empty() && uplink.token_file.empty())
      fail({"uplink.url", "uplink.token", "uplink.token_file"},
           "the cloud relay takes pushes only with its ingest token: set uplink.token or uplink.token_file");
  }

  static bool names_loopback(std::string_view url) {
    std::string_view rest = url.substr(url.find("://") + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    rest = rest.substr(rest.rfind('@') == std::string_view::npos ? 0 : rest.rfind('@') + 1);
    if (rest.starts_with("[::1]")) return true;
    const std::string_view host = rest.substr(0, rest.find(':'));
    return host == "localhost" || host.starts_with("127.");
  }

  // An SRT listener that anyone on the network can reach, without a passphrase,
  // hands the programme to whoever connects first: refused unless the operator
  // says so (ingest.allow_unauthenticated).
  // [[audio]] tracks need the ladder (an encoding relay, fMP4) and inputs of their own.
  void check_audio_tracks() const {
    const IngestConfig& ingest = config_.ingest;
    if (!config_.audio.empty()) {
      // audio-0 (the floor), audio-1, ... are the audio renditions' names in URLs.
      for (const Rendition& r : config_.encoder.renditions)
        if (r.name.starts_with("audio-"))
          fail({"encoder.renditions"}, fmt::format("'{}': names starting with audio- are the [[audio]] renditions'; "
                                                   "pick another name for the video rendition", r.name));
    }
    for (size_t i = 0; i < config_.audio.size(); ++i) {
      const AudioTrackConfig& track = config_.audio[i];
      const std::string key = fmt::format("audio[{}].source", i);
      if (parse_source_uri(ingest.source).push())
        fail({key, "ingest.source"}, "a push: relay republishes the pushed ladder and encodes no audio tracks; "
                                     "configure [[audio]] on the relay that encodes");
      if (!config_.uplink.url.empty())
        fail({key, "uplink.url"}, "the hall uplink pushes the video ladder only and does not carry audio tracks yet; "
                                  "configure [[audio]] on a relay without uplink.url");
      if (config_.hls.container != "fmp4")
        fail({key, "hls.container"}, "audio tracks are fragmented MP4 renditions; set hls.container = \"fmp4\"");
      const AudioSource source = parse_audio_source(track.source);
      if (source.kind == AudioSourceKind::channel && source.channel > config_.encoder.audio_channels)
        fail({key, "encoder.audio_channels"},
             fmt::format("channel {} of the main input's sound, which the ladder carries as {} channel(s) "
                         "(encoder.audio_channels)",
                         source.channel, config_.encoder.audio_channels));
      if (source.kind != AudioSourceKind::srt || !source.uri.srt_listener()) continue;
      // Whoever reaches an open listener would speak on the track.
      check_srt_listener_authenticated(key, track.source);
      std::vector<std::string> others = {ingest.source, ingest.backup_source};
      for (size_t j = 0; j < i; ++j) others.push_back(config_.audio[j].source);
      for (const std::string& other : others) {
        if (other.empty() || !other.starts_with("srt://")) continue;
        const SourceUri uri = parse_source_uri(other);
        if (uri.srt_listener() && uri.port == source.uri.port)
          fail({key}, fmt::format("listens on SRT port {} like '{}'; give each input its own port", uri.port,
                                  text::redact_secrets(other)));
      }
    }
  }

  void check_srt_listener_authenticated(std::string_view key, const std::string& uri) const {
    const IngestConfig& ingest = config_.ingest;
    if (ingest.allow_unauthenticated || !ingest.srt_passphrase.empty()) return;
    const SourceUri source = parse_source_uri(uri);
    if (!source.exposed_srt_listener()) return;
    fail({key, "ingest.srt_passphrase", "ingest.allow_unauthenticated"},
         fmt::format("listens for SRT senders on port {} of {} without a passphrase, so anyone who "
                     "reaches it can replace the programme; set ingest.srt_passphrase (10..79 characters, the "
                     "same in the sender), or bind the listener to loopback (srt://127.0.0.1:{}?mode=listener) "
                     "behind a tunnel, or set ingest.allow_unauthenticated = true to accept this",
                     source.port, source.host.empty() ? "every address" : source.host, source.port));
  }

  void apply(const Field<Config>& field, const ValueReader& value) {
    field.set(value, config_);
    set_at_[value.key()] = value.where();
  }

  static std::string unknown_key_in(const Section& section, const std::string& key) {
    return unknown_key_message(key, fmt::format("[{}]", section.name), names(section.fields));
  }

  // Reported on the first key; the location is that of the first of the keys
  // that was set explicitly, since a default has no line to point at.
  [[noreturn]] void fail(std::initializer_list<std::string_view> keys, std::string_view problem) const {
    std::string where = source_name_;
    for (std::string_view key : keys) {
      if (const auto it = set_at_.find(key); it != set_at_.end()) {
        where = it->second;
        break;
      }
    }
    throw ConfigError(fmt::format("{}: {}: {}", where, *keys.begin(), problem));
  }

  Config& config_;
  std::string source_name_;
  std::map<std::string, std::string, std::less<>> set_at_;
};

void resolve(std::filesystem::path& path, const std::filesystem::path& base_dir) {
  if (path.is_relative()) path = (base_dir / path).lexically_normal();
}

std::string read_file(const std::filesystem::path& file, std::string_view what = "config file") {
  const auto fail = [&](int error) {
    throw ConfigError(fmt::format("cannot read {} '{}': {}", what, file.string(), std::strerror(error)));
  };
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!stream) fail(errno);
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, stream.get())) > 0) text.append(buffer, n);
  // A directory opens fine and fails here, with EISDIR.
  if (std::ferror(stream.get())) fail(errno);
  return text;
}

// The token on the file's first line, without surrounding white space; never quoted in errors.
std::string read_token_file(const std::filesystem::path& file, const std::string& source_name,
                            std::string_view key = "uplink.token_file") {
  std::string text;
  try {
    text = read_file(file, "the token file");
  } catch (const ConfigError& error) {
    throw ConfigError(fmt::format("{}: {}: {}", source_name, key, error.what()));
  }
  text = text.substr(0, text.find('\n'));
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!text.empty() && blank(text.back())) text.pop_back();
  while (!text.empty() && blank(text.front())) text.erase(0, 1);
  if (text.empty())
    throw ConfigError(fmt::format("{}: {}: '{}' holds nothing on its first line", source_name, key,
                                  file.string()));
  return text;
}

}  // namespace

Config load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  const std::string text = read_file(file);
  Config config = parse_config(text, file.string(), overrides, std::filesystem::absolute(file).parent_path());
  config.source_file = file;
  return config;
}

Config parse_config(const std::string& text, const std::string& source_name,
                    const std::vector<std::string>& overrides, const std::filesystem::path& base_dir) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    const toml::source_position& at = error.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: {}", source_name, at.line, at.column, error.description()));
  }

  Config config;
  config.source_file = source_name;
  Loader loader(config, source_name);
  loader.apply_file(root);
  for (const std::string& argument : overrides) loader.apply_override(argument);
  loader.check_across_keys();
  // Exact from here on: 0.333 of a 2 s segment is a sixth of it.
  config.hls.part_duration_s =
      config.hls.segment_duration_s / std::round(config.hls.segment_duration_s / config.hls.part_duration_s);

  resolve(config.edge.web_dir, base_dir);
  resolve(config.edge.node_modules_dir, base_dir);
  if (!config.edge.tls_cert_file.empty()) resolve(config.edge.tls_cert_file, base_dir);
  if (!config.edge.tls_key_file.empty()) resolve(config.edge.tls_key_file, base_dir);
  resolve(config.ingest.pipelines_dir, base_dir);
  if (!config.ingest.slate_image.empty()) resolve(config.ingest.slate_image, base_dir);
  resolve(config.qa.data_dir, base_dir);
  if (!config.qa.word_list_file.empty()) resolve(config.qa.word_list_file, base_dir);
  if (!config.qa.database_password_file.empty()) {
    resolve(config.qa.database_password_file, base_dir);
    config.qa.database_password =
        read_token_file(config.qa.database_password_file, source_name, "qa.database_password_file");
  }
  if (!config.uplink.token_file.empty()) {
    resolve(config.uplink.token_file, base_dir);
    config.uplink.token = read_token_file(config.uplink.token_file, source_name);
  }
  if (!config.health.incident_log.empty()) resolve(config.health.incident_log, base_dir);
  resolve(config.recording.dir, base_dir);
  return config;
}

std::vector<std::string> pathway_origins(const ScaleConfig& scale) {
  std::vector<std::string> origins;
  auto add = [&](std::string_view url) {
    const size_t host = url.find("://");
    if (host == std::string_view::npos) return;
    std::string origin(url.substr(0, url.find('/', host + 3)));
    if (std::find(origins.begin(), origins.end(), origin) == origins.end()) origins.push_back(std::move(origin));
  };
  for (const Pathway& pathway : scale.pathways) add(pathway.base_url);
  if (!scale.pathways.empty()) add(scale.steering_uri);
  return origins;
}

}  // namespace relay::config
