#include "config/source_uri.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "common/redact.hpp"

namespace relay::config {

// Written so that text::redact_secrets, which every error passes, leaves it whole.
const char* const kAcceptedSources =
    "accepted: \"test:\", \"file:///absolute/path\", \"srt://:PORT?mode=listener\", \"srt://HOST:PORT\", "
    "\"rtsp://HOST[:PORT]/path\" (a login goes before HOST as USER:PASSWORD@), \"rtmp://HOST[:PORT]/APP/\" "
    "followed by the stream key, \"v4l2:///dev/videoN\", \"push:\" (the ladder pushed by HTTP PUT to /ingest/)";

const char* to_string(SourceKind kind) {
  switch (kind) {
    case SourceKind::test: return "test";
    case SourceKind::file: return "file";
    case SourceKind::srt: return "srt";
    case SourceKind::rtsp: return "rtsp";
    case SourceKind::rtmp: return "rtmp";
    case SourceKind::v4l2: return "v4l2";
    case SourceKind::push: return "push";
  }
  return "unknown";
}

bool SourceUri::srt_listener() const {
  if (kind != SourceKind::srt) return false;
  auto mode = query.find("mode");
  if (mode != query.end()) return mode->second == "listener";
  return host.empty();  // "srt://:9000" can only mean listening
}

bool SourceUri::exposed_srt_listener() const {
  if (!srt_listener()) return false;
  // srtsrc binds a listener to the URI's host, or to localaddress= when given.
  auto local = query.find("localaddress");
  const std::string& bound = local != query.end() ? local->second : host;
  const bool loopback = bound == "::1" || bound == "localhost" || bound.starts_with("127.");
  return !loopback && !query.contains("passphrase");
}

namespace {

[[noreturn]] void reject(const std::string& text, std::string_view why) {
  // The URI may hold a password, a passphrase or a stream key: never echoed.
  throw SourceUriError(fmt::format("'{}' {}; {}", text::redact_secrets(text), why, kAcceptedSources));
}

int parse_port(const std::string& text, std::string_view port) {
  int number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number < 1 || number > 65535)
    reject(text, fmt::format("has no valid port ('{}', expected 1..65535)", port));
  return number;
}

// "host:port", "[v6]:port", "host" → host and port (0 when absent).
void split_authority(const std::string& text, std::string_view authority, SourceUri& out) {
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) reject(text, "has an IPv6 address without its closing ']'");
    out.host = std::string(authority.substr(1, close - 1));
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') reject(text, "has something other than :PORT after the IPv6 address");
      port = rest.substr(1);
      out.port = parse_port(text, port);
    }
    return;
  }
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    out.host = std::string(authority);
    return;
  }
  out.host = std::string(authority.substr(0, colon));
  out.port = parse_port(text, authority.substr(colon + 1));
}

void parse_query(const std::string& text, std::string_view query, SourceUri& out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) reject(text, fmt::format("has a query item '{}' without a value", item));
    out.query[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
  }
}

void check_srt(const std::string& text, const SourceUri& uri) {
  if (uri.port == 0) reject(text, "needs a port, such as srt://:9000?mode=listener");
  static const char* const known[] = {"mode", "passphrase", "pbkeylen", "latency", "streamid", "localaddress",
                                      "localport", "poll-timeout"};
  for (const auto& [key, value] : uri.query) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok)
      reject(text, fmt::format("has an unknown SRT option '{}' (known: mode, passphrase, pbkeylen, latency, "
                               "streamid, localaddress, localport, poll-timeout)", key));
  }
  if (auto mode = uri.query.find("mode"); mode != uri.query.end()) {
    if (mode->second != "listener" && mode->second != "caller" && mode->second != "rendezvous")
      reject(text, fmt::format("has mode '{}', expected listener, caller or rendezvous", mode->second));
    if (mode->second != "listener" && uri.host.empty())
      reject(text, fmt::format("is in {} mode but names no host to connect to", mode->second));
  }
  if (auto pass = uri.query.find("passphrase"); pass != uri.query.end()) {
    if (pass->second.size() < 10 || pass->second.size() > 79)
      reject(text, "has a passphrase that is not 10..79 characters long (SRT's rule)");
  }
}

}  // namespace

SourceUri parse_source_uri(const std::string& text) {
  SourceUri out;
  out.text = text;
  if (text == "test:") return out;
  if (text == "push:") {
    out.kind = SourceKind::push;
    return out;
  }
  auto scheme_end = text.find("://");
  if (scheme_end == std::string::npos) reject(text, "is not a source this build understands");
  auto scheme = text.substr(0, scheme_end);
  std::string_view rest = std::string_view(text).substr(scheme_end + 3);

  if (scheme == "file" || scheme == "v4l2") {
    out.kind = scheme == "file" ? SourceKind::file : SourceKind::v4l2;
    if (!rest.starts_with('/') || rest.size() < 2) {
      reject(text, scheme == "file" ? "needs an absolute path after file://, such as file:///srv/talk.mp4"
                                    : "needs a device path after v4l2://, such as v4l2:///dev/video0");
    }
    out.path = std::string(rest);
    if (out.kind == SourceKind::v4l2 && !out.path.starts_with("/dev/"))
      reject(text, "names no device under /dev/, such as v4l2:///dev/video0");
    return out;
  }
  if (scheme != "srt" && scheme != "rtsp" && scheme != "rtmp") reject(text, "is not a source this build understands");
  out.kind = scheme == "srt" ? SourceKind::srt : scheme == "rtsp" ? SourceKind::rtsp : SourceKind::rtmp;

  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  // The user information ends at the last '@' before the query, so a password
  // may hold an unencoded '/' or '@' (the redaction in logs reads it the same way).
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  split_authority(text, authority, out);

  if (out.kind == SourceKind::srt) {
    parse_query(text, query, out);
    check_srt(text, out);
  } else {
    // A camera's own query ("?channel=1") belongs to its path.
    if (out.host.empty()) reject(text, "names no host to pull from");
    if (!query.empty()) out.path += "?" + std::string(query);
    if (out.kind == SourceKind::rtmp && (out.path.size() < 2))
      reject(text, "needs an application and stream path, such as rtmp://host/live/stream");
  }
  return out;
}

const char* const kAcceptedAudioSources =
    "accepted: \"srt://:PORT?mode=listener\", \"srt://HOST:PORT\", \"rtsp://HOST[:PORT]/path\", "
    "\"alsa://hw:CARD,DEVICE\", \"channel:N\" (channel N of the main input's sound, from 1), \"test:\" or "
    "\"test:HZ\" (a tone)";

AudioSource parse_audio_source(const std::string& text) {
  auto fail = [&](const std::string& why) -> AudioSource {
    throw SourceUriError(fmt::format("'{}' {}; {}", text, why, kAcceptedAudioSources));
  };
  auto whole_number = [&](std::string_view digits, int min, int max, const char* what) {
    int value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < min || value > max)
      fail(fmt::format("needs {} {}..{} after the colon", what, min, max));
    return value;
  };
  AudioSource out;
  if (text == "test:") return out;
  if (text.starts_with("test:")) {
    out.tone_hz = whole_number(std::string_view(text).substr(5), 20, 20000, "a tone frequency in Hz,");
    return out;
  }
  if (text.starts_with("channel:")) {
    out.kind = AudioSourceKind::channel;
    out.channel = whole_number(std::string_view(text).substr(8), 1, 64, "a channel number");
    return out;
  }
  if (text.starts_with("alsa://")) {
    out.kind = AudioSourceKind::alsa;
    out.device = text.substr(7);
    // What alsasrc's device= takes: hw:1,0, plughw:1,0, default, a card name.
    const bool valid = !out.device.empty() && std::all_of(out.device.begin(), out.device.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == ',' || c == '_' || c == '-';
    });
    if (!valid) fail("names no ALSA device after alsa://, such as alsa://hw:1,0");
    return out;
  }
  if (text.starts_with("srt://") || text.starts_with("rtsp://")) {
    out.uri = parse_source_uri(text);
    out.kind = out.uri.kind == SourceKind::srt ? AudioSourceKind::srt : AudioSourceKind::rtsp;
    return out;
  }
  return fail("is not an audio source this build understands");
}

bool accepts_unauthenticated_senders(const IngestConfig& ingest) {
  if (!ingest.srt_passphrase.empty()) return false;
  for (const std::string* uri : {&ingest.source, &ingest.backup_source}) {
    if (!uri->empty() && parse_source_uri(*uri).exposed_srt_listener()) return true;
  }
  return false;
}

}  // namespace relay::config
