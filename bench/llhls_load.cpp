// Load client for scripts/bench-scale.sh (a benchmark, not a test): N simulated
// LL-HLS players against one base URL (the relay or a cache node), playing as
// tests/integration/llhls_load.py's players do, but cheaply enough that one
// thread asks what thousands of viewers ask (the Python client got a third to
// a half of the parts due at 1,000 and 3,000 viewers on two cores).
//
// Each player reads its media playlist once (plain), fetches the init section of
// every EXT-X-MAP, the newest whole segment and the newest part, then loops on
// blocking reloads (_HLS_msn/_HLS_part of the part after the last one listed)
// and fetches every new part in order. The preload-hinted part is asked for as
// soon as it is hinted, on a second keep-alive connection, alongside the
// blocking reload (the relay holds it until the part is whole). Every other
// player asks for delta playlists (_HLS_skip=YES) when the playlist allows
// them. Players start spread over --ramp seconds, rendition i % variants.
//
// Per player it records every part (position: media sequence and index, from
// the playlist's structure, never from names) with the time it arrived, and the
// failures llhls_load.py's check() counts: an error status or transport error,
// a blocking reload answered with less than asked for, a part skipped or out of
// order, a media sequence that went back. At --seconds every connection is
// closed; errors after that do not count. Prints one JSON line with the fields
// bench/scale.py reads from llhls_load.py (requests, parts, players_failed,
// failure_kinds) and the parts due, the parts got in the steady window (after
// the ramp) and the players that ended behind the live edge.
//
//   llhls-load --base http://127.0.0.1:6081 --clients 3000 --seconds 22 [--ramp 5]
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using net::awaitable;
using net::use_awaitable;

namespace {

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "80";
  int clients = 100;
  double seconds = 12;
  double ramp = 1;
};

// A failure the player reports (an error status, a stale playlist), as opposed
// to a transport error, which counts only before the deadline.
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Position = std::pair<int64_t, int64_t>;  // (media sequence number, part index)

// The value of attribute `key` in an attribute list (quotes stripped), "" if absent.
std::string attribute(std::string_view list, std::string_view key) {
  size_t at = 0;
  while (at < list.size()) {
    auto eq = list.find('=', at);
    if (eq == std::string_view::npos) return "";
    bool match = list.substr(at, eq - at) == key;
    size_t end;
    std::string_view value;
    if (eq + 1 < list.size() && list[eq + 1] == '"') {
      end = list.find('"', eq + 2);
      if (end == std::string_view::npos) end = list.size();
      value = list.substr(eq + 2, end - eq - 2);
      end = list.find(',', end);
    } else {
      end = list.find(',', eq);
      value = list.substr(eq + 1, (end == std::string_view::npos ? list.size() : end) - eq - 1);
    }
    if (match) return std::string(value);
    if (end == std::string_view::npos) return "";
    at = end + 1;
  }
  return "";
}

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// What a player needs of a media playlist (as llhls_load.py's MediaPlaylist).
struct MediaPlaylist {
  int64_t media_sequence = 0;
  std::vector<std::pair<Position, std::string>> parts;
  std::vector<std::pair<int64_t, std::string>> segments;
  std::map<int64_t, int64_t> parts_per_segment;  // msn -> part count, for whole segments
  std::string hint_uri;
  std::string map_uri;
  bool can_skip = false;
  bool ended = false;
  Position next{0, 0};  // the part after the last one listed
};

MediaPlaylist parse_media_playlist(std::string_view text) {
  MediaPlaylist pl;
  std::optional<int64_t> msn;
  int64_t index = 0;
  auto value = [](std::string_view line) { return line.substr(line.find(':') + 1); };
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (has_prefix(line, "#EXT-X-MEDIA-SEQUENCE:")) {
      pl.media_sequence = std::stoll(std::string(value(line)));
      msn = pl.media_sequence;
    } else if (has_prefix(line, "#EXT-X-SKIP:") && msn) {
      *msn += std::stoll(attribute(value(line), "SKIPPED-SEGMENTS"));
    } else if (has_prefix(line, "#EXT-X-PART:") && msn) {
      pl.parts.emplace_back(Position{*msn, index++}, attribute(value(line), "URI"));
    } else if (has_prefix(line, "#EXT-X-PRELOAD-HINT:")) {
      if (attribute(value(line), "TYPE") == "PART" && attribute(value(line), "BYTERANGE-START").empty())
        pl.hint_uri = attribute(value(line), "URI");
    } else if (has_prefix(line, "#EXT-X-MAP:")) {
      pl.map_uri = attribute(value(line), "URI");
    } else if (has_prefix(line, "#EXT-X-SERVER-CONTROL:")) {
      pl.can_skip = line.find("CAN-SKIP-UNTIL") != std::string_view::npos;
    } else if (has_prefix(line, "#EXT-X-ENDLIST")) {
      pl.ended = true;
    } else if (!line.empty() && line[0] != '#' && msn) {
      pl.segments.emplace_back(*msn, std::string(line));
      if (index) pl.parts_per_segment[*msn] = index;
      *msn += 1;
      index = 0;
    }
  }
  if (msn) pl.next = {*msn, index};
  return pl;
}

// The request target of `uri` relative to the playlist at target `playlist`.
std::string resolve(const std::string& playlist, const std::string& uri) {
  if (has_prefix(uri, "http://")) {
    auto slash = uri.find('/', 7);
    return slash == std::string::npos ? "/" : uri.substr(slash);
  }
  if (has_prefix(uri, "/")) return uri;
  return playlist.substr(0, playlist.rfind('/') + 1) + uri;
}

// One keep-alive HTTP/1.1 connection, reconnected when the server closed it.
class Connection {
 public:
  Connection(net::io_context& io, const tcp::resolver::results_type& endpoints, const Options& o)
      : stream_(io), endpoints_(endpoints), host_(o.host + ":" + o.port) {}

  // The body of GET `target`; LoadError on a status other than 200.
  awaitable<std::string> get(const std::string& target) {
    if (!open_) {
      stream_.expires_after(std::chrono::seconds(30));
      co_await stream_.async_connect(endpoints_, use_awaitable);
      open_ = true;
    }
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host_);
    stream_.expires_after(std::chrono::seconds(30));
    co_await http::async_write(stream_, req, use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    co_await http::async_read(stream_, buffer_, parser, use_awaitable);
    auto& res = parser.get();
    if (!res.keep_alive()) close();
    if (res.result() != http::status::ok)
      throw LoadError(std::to_string(res.result_int()) + " for " + target);
    co_return std::move(res.body());
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    open_ = false;
  }

 private:
  beast::tcp_stream stream_;
  const tcp::resolver::results_type& endpoints_;
  beast::flat_buffer buffer_;
  std::string host_;
  bool open_ = false;
};

class Player {
 public:
  Player(net::io_context& io, const tcp::resolver::results_type& endpoints, const Options& o, std::string playlist,
         bool skip, Clock::time_point start, Clock::time_point deadline)
      : io_(io), conn_(io, endpoints, o), hint_conn_(io, endpoints, o), hint_signal_(io), playlist_(std::move(playlist)),
        skip_(skip), start_(start), deadline_(deadline) {}

  awaitable<void> run() {
    net::steady_timer wait(io_, start_);
    co_await wait.async_wait(use_awaitable);
    try {
      auto pl = parse_media_playlist(co_await get(conn_, playlist_));
      co_await begin(pl);
      while (Clock::now() < deadline_ && !pl.ended) pl = co_await reload(pl);
    } catch (const LoadError& e) {
      errors.push_back(e.what());
    } catch (const std::exception& e) {
      if (Clock::now() < deadline_) errors.push_back(std::string("transport: ") + e.what());
    }
    co_await wait_hint_idle();
    conn_.close();
  }

  // At the deadline: a held blocking request ends now, not when it is answered.
  void stop() {
    conn_.close();
    hint_conn_.close();
  }

  std::string playlist_url() const { return playlist_; }
  const std::vector<std::pair<Position, Clock::time_point>>& parts() const { return parts_; }
  int requests = 0;
  std::vector<std::string> errors;  // failures, in the order seen
  std::vector<int64_t> media_sequences;
  std::map<int64_t, int64_t> parts_per_segment;

 private:
  awaitable<std::string> get(Connection& c, const std::string& target) {
    ++requests;
    co_return co_await c.get(target);
  }

  awaitable<void> begin(const MediaPlaylist& pl) {
    note_playlist(pl);
    co_await fetch_map(pl);
    if (!pl.segments.empty()) co_await get(conn_, resolve(playlist_, pl.segments.back().second));
    // Play from the newest part listed, as a player at the live edge does.
    if (!pl.parts.empty()) {
      co_await get(conn_, resolve(playlist_, pl.parts.back().second));
      fetched_.push_back(pl.parts.back().second);
      parts_.emplace_back(pl.parts.back().first, Clock::time_point{});
    }
  }

  awaitable<MediaPlaylist> reload(const MediaPlaylist& pl) {
    auto [msn, index] = pl.next;
    bool hinting = !pl.hint_uri.empty() && !was_fetched(pl.hint_uri);
    if (hinting) start_hint(pl.hint_uri);
    std::string target = playlist_ + "?_HLS_msn=" + std::to_string(msn) + "&_HLS_part=" + std::to_string(index) +
                         (skip_ && pl.can_skip ? "&_HLS_skip=YES" : "");
    try {
      auto fresh = parse_media_playlist(co_await get(conn_, target));
      if (!fresh.ended && fresh.next <= pl.next)
        errors.push_back("stale: asked for part " + std::to_string(msn) + "." + std::to_string(index) +
                         ", got a playlist ending before it");
      note_playlist(fresh);
      co_await fetch_map(fresh);
      Position last = parts_.empty() ? Position{-1, -1} : parts_.back().first;
      for (auto& [position, uri] : fresh.parts) {
        if (position <= last) continue;
        if (hinting && uri == hint_.uri) {
          co_await wait_hint();
          hinting = false;
          note_part(position, uri, hint_.arrived);
        } else {
          co_await get(conn_, resolve(playlist_, uri));
          note_part(position, uri, Clock::now());
        }
      }
      // Hinted but not yet listed (a playlist raced ahead of it): keep the fetch.
      if (hinting) {
        co_await wait_hint();
        fetched_.push_back(hint_.uri);
      }
      co_return fresh;
    } catch (...) {
      if (hint_.running) hint_conn_.close();
      throw;
    }
  }

  // The hinted part, fetched on the second connection while the blocking
  // reload waits on the first.
  void start_hint(const std::string& uri) {
    hint_ = {uri, true, {}, {}, false};
    net::co_spawn(io_, fetch_hint(), net::detached);
  }

  awaitable<void> fetch_hint() {
    try {
      co_await get(hint_conn_, resolve(playlist_, hint_.uri));
      hint_.arrived = Clock::now();
    } catch (const LoadError& e) {
      hint_.error = e.what();
    } catch (const std::exception& e) {
      hint_.error = e.what();
      hint_.transport = true;
    }
    hint_.running = false;
    hint_signal_.cancel();
  }

  awaitable<void> wait_hint_idle() {
    while (hint_.running) {
      hint_signal_.expires_at(Clock::time_point::max());
      beast::error_code ec;
      co_await hint_signal_.async_wait(net::redirect_error(use_awaitable, ec));
    }
  }

  awaitable<void> wait_hint() {
    co_await wait_hint_idle();
    // A transport error is the player's failure only before the deadline (at
    // the deadline stop() closes the connection under the fetch).
    if (hint_.transport) throw std::runtime_error(hint_.error);
    if (!hint_.error.empty()) throw LoadError(hint_.error);
  }

  bool was_fetched(const std::string& uri) const {
    return std::find(fetched_.begin(), fetched_.end(), uri) != fetched_.end();
  }

  void note_part(Position position, const std::string& uri, Clock::time_point arrived) {
    fetched_.push_back(uri);
    if (fetched_.size() > 64) fetched_.erase(fetched_.begin());  // only recent parts can be hinted again
    parts_.emplace_back(position, arrived);
  }

  awaitable<void> fetch_map(const MediaPlaylist& pl) {
    if (pl.map_uri.empty() || std::find(maps_.begin(), maps_.end(), pl.map_uri) != maps_.end()) co_return;
    maps_.push_back(pl.map_uri);
    co_await get(conn_, resolve(playlist_, pl.map_uri));
  }

  void note_playlist(const MediaPlaylist& pl) {
    media_sequences.push_back(pl.media_sequence);
    parts_per_segment.insert(pl.parts_per_segment.begin(), pl.parts_per_segment.end());
  }

  struct Hint {
    std::string uri;
    bool running = false;
    Clock::time_point arrived;
    std::string error;
    bool transport = false;  // the error is the connection's, not a response's
  };

  net::io_context& io_;
  Connection conn_;
  Connection hint_conn_;
  net::steady_timer hint_signal_;  // cancelled when the hinted part's fetch ends
  Hint hint_;
  std::string playlist_;
  bool skip_;
  Clock::time_point start_;
  Clock::time_point deadline_;
  std::vector<std::pair<Position, Clock::time_point>> parts_;
  std::vector<std::string> fetched_;
  std::vector<std::string> maps_;
};

// The failures of one player (as llhls_load.py's check()), as text.
std::vector<std::string> check(const Player& p) {
  auto failures = p.errors;
  auto& seqs = p.media_sequences;
  for (size_t i = 1; i < seqs.size(); ++i)
    if (seqs[i] < seqs[i - 1]) {
      failures.push_back("media sequence went back from " + std::to_string(seqs[i - 1]) + " to " +
                         std::to_string(seqs[i]));
      break;
    }
  auto& parts = p.parts();
  for (size_t i = 1; i < parts.size(); ++i) {
    auto [a, b] = std::pair{parts[i - 1].first, parts[i].first};
    auto whole = p.parts_per_segment.find(a.first);
    bool following = b == Position{a.first, a.second + 1} ||
                     (b == Position{a.first + 1, 0} && whole != p.parts_per_segment.end() &&
                      whole->second == a.second + 1);
    if (!following) {
      failures.push_back("part " + std::to_string(b.first) + "." + std::to_string(b.second) + " fetched after " +
                         std::to_string(a.first) + "." + std::to_string(a.second) + " (skipped or out of order)");
      break;
    }
  }
  return failures;
}

// A failure without its numbers, to count alike failures together.
std::string failure_kind(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size() && out.size() < 80;) {
    if (std::isdigit(static_cast<unsigned char>(text[i]))) {
      while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
      out += 'N';
    } else {
      out += text[i++];
    }
  }
  return out;
}

// The master playlist's variant targets, in order (a blocking read: before any player runs).
std::vector<std::string> variants(net::io_context& io, const tcp::resolver::results_type& endpoints,
                                  const Options& o) {
  beast::tcp_stream stream(io);
  stream.connect(endpoints);
  http::request<http::empty_body> req{http::verb::get, "/live/master.m3u8", 11};
  req.set(http::field::host, o.host + ":" + o.port);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  if (res.result() != http::status::ok) throw std::runtime_error("master playlist: " + std::to_string(res.result_int()));
  std::vector<std::string> out;
  std::string_view text = res.body();
  bool next_is_variant = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (next_is_variant && !line.empty()) out.push_back(resolve("/live/master.m3u8", std::string(line)));
    next_is_variant = has_prefix(line, "#EXT-X-STREAM-INF:");
  }
  if (out.empty()) throw std::runtime_error("no variant in the master playlist");
  return out;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--base") {
      auto hostport = v.substr(v.find("://") + 3);
      hostport = hostport.substr(0, hostport.find('/'));
      auto colon = hostport.rfind(':');
      o.host = hostport.substr(0, colon);
      if (colon != std::string::npos) o.port = hostport.substr(colon + 1);
    } else if (k == "--clients") {
      o.clients = std::stoi(v);
    } else if (k == "--seconds") {
      o.seconds = std::stod(v);
    } else if (k == "--ramp") {
      o.ramp = std::stod(v);
    } else {
      std::fprintf(stderr, "llhls-load: unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse_options(argc, argv);
  rlimit fds{};
  getrlimit(RLIMIT_NOFILE, &fds);
  fds.rlim_cur = fds.rlim_max;
  setrlimit(RLIMIT_NOFILE, &fds);

  net::io_context io(1);
  auto endpoints = tcp::resolver(io).resolve(o.host, o.port);
  auto playlists = variants(io, endpoints, o);
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::unique_ptr<Player>> players;
  for (int i = 0; i < o.clients; ++i) {
    auto start = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.ramp * i / o.clients));
    players.push_back(std::make_unique<Player>(io, endpoints, o, playlists[i % playlists.size()], i % 2 == 1, start,
                                               deadline));
    net::co_spawn(io, players.back()->run(), net::detached);
  }
  net::steady_timer stop(io, deadline);
  stop.async_wait([&](beast::error_code) {
    for (auto& p : players) p->stop();
  });
  io.run();

  // The steady window: from the end of the ramp to the deadline.
  auto steady_from = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.ramp));
  double steady_s = std::max(0.001, o.seconds - o.ramp);
  int64_t requests = 0, parts = 0, steady_parts = 0, failed = 0, behind = 0;
  size_t min_parts = players.empty() ? 0 : SIZE_MAX;
  std::map<std::string, Position> edge;  // per rendition, the newest part any player got
  for (auto& p : players)
    if (!p->parts().empty()) edge[p->playlist_url()] = std::max(edge[p->playlist_url()], p->parts().back().first);
  std::map<std::string, int> kinds;
  nlohmann::json failures = nlohmann::json::object();
  for (size_t i = 0; i < players.size(); ++i) {
    auto& p = *players[i];
    requests += p.requests;
    parts += p.parts().size();
    min_parts = std::min(min_parts, p.parts().size());
    for (auto& [position, arrived] : p.parts()) steady_parts += arrived >= steady_from && arrived < deadline;
    // Behind: more than one segment behind the newest part of its rendition.
    if (p.parts().empty() || p.parts().back().first.first < edge[p.playlist_url()].first - 1) ++behind;
    auto f = check(p);
    if (!f.empty()) {
      ++failed;
      ++kinds[failure_kind(f.front())];
      if (failures.size() < 10) failures[std::to_string(i) + " " + p.playlist_url()] = f.front();
    }
  }
  std::vector<std::pair<std::string, int>> sorted(kinds.begin(), kinds.end());
  std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second; });
  nlohmann::json top = nlohmann::json::object();
  for (size_t i = 0; i < sorted.size() && i < 5; ++i) top[sorted[i].first] = sorted[i].second;
  nlohmann::json out = {
      {"players", players.size()},
      {"requests", requests},
      {"parts", parts},
      {"min_parts", min_parts},
      {"players_failed", failed},
      {"players_behind", behind},
      {"failures", failures},
      {"failure_kinds", top},
      {"steady_parts_per_s", steady_parts / steady_s},
  };
  std::printf("%s\n", out.dump().c_str());
  return failed ? 1 : 0;
}
