// Load generator for scripts/bench-qa.sh (a benchmark, not a test), in one of two modes.
//
// fanout (the default): opens N Q&A WebSocket subscribers against one or more
// relays sharing one Q&A (dealt out round-robin, subscriber i on relay i mod n),
// then acts as the moderator, on the first relay, who approves and stages
// prepared questions one after another, and measures for every event and
// subscriber the delay from the moderator's 2xx answer to the subscriber's
// receipt. Prints p50/p99/max (overall and per relay), how many events were lost
// (expected (question, state) pairs a subscriber never got) or doubled, and how
// many connections the relays closed. Subscribers connect from a few threads
// (--connect-parallel), then one thread reads them all; the moderator's
// requests run on another.
//
// ask: many attendees ask at once, for --seconds, from --clients threads (each
// on its own keep-alive connection, client i on relay i mod n, taking turns
// between its share of --attendees identities), every ask with an
// Idempotency-Key of its own as the pages send it. Prints the questions
// accepted (201) per second and what else the relays answered.
//
// With --relay-pids (and --database-pid, the PostgreSQL postmaster, whose
// backends are counted with it) it also reads their CPU time over the measured
// window (the moderator's actions, or the asking), beside its own.
//
//   qa-load (--port P | --relays 127.0.0.1:P1,127.0.0.1:P2,...) --moderator-token T
//           [--subscriber-token T] [--mode fanout|ask] [--subscribers 5000]
//           [--questions 100] [--interval-ms 100] [--connect-parallel 8]
//           [--attendees 256] [--clients 16] [--seconds 10]
//           [--relay-pids PID,PID,...] [--database-pid PID]
//
// The last line is one "result ..." line of key=value pairs, for the script.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Relay {
  std::string host;  // an IPv4 address
  uint16_t port = 0;
};

struct Options {
  std::vector<Relay> relays;  // the first is the moderator's
  std::string mode = "fanout";
  std::string moderator_token;
  std::string subscriber_token;
  int subscribers = 5000;
  int questions = 100;
  int interval_ms = 100;
  int connect_parallel = 8;  // threads doing blocking handshakes
  int attendees = 256;       // ask mode: identities asking
  int clients = 16;          // ask mode: connections asking at once
  double seconds = 10;       // ask mode: how long
  std::vector<int> relay_pids;
  int database_pid = 0;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "qa-load: %s\n", problem.c_str());
  std::exit(2);
}

// "127.0.0.1:8080,127.0.0.1:8081" (IPv4 only: the benchmark runs on loopback).
std::vector<Relay> parse_relays(const std::string& text) {
  std::vector<Relay> relays;
  size_t from = 0;
  while (from <= text.size()) {
    size_t comma = text.find(',', from);
    std::string item = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    size_t colon = item.rfind(':');
    in_addr probe{};
    int port = 0;
    if (colon == std::string::npos || ::inet_pton(AF_INET, item.substr(0, colon).c_str(), &probe) != 1 ||
        (port = std::atoi(item.c_str() + colon + 1)) < 1 || port > 65535)
      usage("--relays takes IPv4 address:port pairs separated by commas, not '" + item + "'");
    relays.push_back({item.substr(0, colon), static_cast<uint16_t>(port)});
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return relays;
}

std::vector<int> parse_pids(const std::string& text) {
  std::vector<int> pids;
  size_t from = 0;
  while (from < text.size()) {
    size_t comma = text.find(',', from);
    int pid = std::atoi(text.substr(from, comma - from).c_str());
    if (pid <= 0) usage("--relay-pids takes process ids separated by commas");
    pids.push_back(pid);
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return pids;
}

// User + system CPU of one process, in clock ticks; 0 when it is gone.
long long process_ticks(int pid, int* parent = nullptr) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* file = std::fopen(path, "r");
  if (!file) return 0;
  char line[1024];
  size_t n = std::fread(line, 1, sizeof line - 1, file);
  std::fclose(file);
  line[n] = 0;
  // The command name may hold spaces and brackets; the fields follow its last ')'.
  const char* p = std::strrchr(line, ')');
  if (!p) return 0;
  char state = 0;
  int ppid = 0;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &ppid, &utime, &stime) != 4)
    return 0;
  if (parent) *parent = ppid;
  return static_cast<long long>(utime + stime);
}

// CPU ticks of `pid` and its children (the postmaster and its backends).
long long tree_ticks(int pid) {
  long long ticks = process_ticks(pid);
  DIR* proc = ::opendir("/proc");
  if (!proc) return ticks;
  while (dirent* entry = ::readdir(proc)) {
    int child = std::atoi(entry->d_name);
    if (child <= 0 || child == pid) continue;
    int parent = 0;
    long long t = process_ticks(child, &parent);
    if (parent == pid) ticks += t;
  }
  ::closedir(proc);
  return ticks;
}

// The relays' and the database's CPU over a window, in milliseconds.
class CpuWindow {
 public:
  explicit CpuWindow(const Options& options) : options_(options) {}
  void start() {
    relays_ = relay_ticks();
    database_ = options_.database_pid ? tree_ticks(options_.database_pid) : 0;
  }
  void stop() {
    const double ms_per_tick = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    relay_ms = static_cast<double>(relay_ticks() - relays_) * ms_per_tick;
    database_ms = options_.database_pid
                      ? static_cast<double>(tree_ticks(options_.database_pid) - database_) * ms_per_tick
                      : 0;
  }
  double relay_ms = 0, database_ms = 0;

 private:
  long long relay_ticks() const {
    long long ticks = 0;
    for (int pid : options_.relay_pids) ticks += process_ticks(pid);
    return ticks;
  }
  const Options& options_;
  long long relays_ = 0, database_ = 0;
};

sockaddr_in address_of(const Relay& relay) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(relay.port);
  ::inet_pton(AF_INET, relay.host.c_str(), &address.sin_addr);
  return address;
}

// (question id, state) of the first "question" event in `text` from `from`,
// found without a full JSON parse: with thousands of subscribers the generator
// must stay cheaper than the relay. `from` moves past it, for the next event of
// a message that carries several (a JSON array).
bool scan_event(std::string_view text, size_t& from, int64_t& id, std::string_view& state) {
  auto q = text.find("\"question\":{", from);
  if (q == std::string_view::npos) return false;
  from = q + 12;
  auto i = text.find("\"id\":", q);
  auto s = text.find("\"state\":\"", q);
  if (i == std::string_view::npos || s == std::string_view::npos) return false;
  i += 5;
  auto [end, ec] = std::from_chars(text.data() + i, text.data() + text.size(), id);
  if (ec != std::errc()) return false;
  s += 9;
  auto e = text.find('"', s);
  if (e == std::string_view::npos) return false;
  state = text.substr(s, e - s);
  return true;
}

int64_t key(int64_t id, std::string_view state) {
  int code = state == "approved" ? 1 : state == "on_stage" ? 2 : state == "answered" ? 3 : 0;
  return id * 4 + code;
}

struct Receipt {
  int64_t key;
  Clock::time_point at;
};

// One subscriber: a non-blocking socket read straight from epoll. Beast's stream
// costs the generator several handler dispatches per message; this side shares
// the cores with the relay, so it parses frames itself and only as far as needed.
struct Subscriber {
  int fd = -1;
  std::vector<char> in;  // received bytes not yet parsed, from in[0]
  size_t used = 0;
  std::string fragments;  // a fragmented text message being reassembled (rare)
  std::vector<Receipt> receipts;
  bool got_snapshot = false;
  bool open = false;
  size_t relay = 0;  // index into Options::relays
};

constexpr size_t kReadChunk = 16 * 1024;

// Frames parsed from the start of s.in (server frames are never masked).
// Returns false when the relay closed the connection.
template <class OnText>
bool parse_frames(Subscriber& s, OnText&& on_text) {
  size_t pos = 0;
  bool open = true;
  while (s.used - pos >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.in.data() + pos);
    const bool fin = p[0] & 0x80;
    const int opcode = p[0] & 0x0f;
    uint64_t length = p[1] & 0x7f;
    size_t header = 2;
    if (length == 126) {
      if (s.used - pos < 4) break;
      length = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (length == 127) {
      if (s.used - pos < 10) break;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      header = 10;
    }
    if (s.used - pos < header + length) {
      // A frame bigger than the buffer: make room for all of it.
      if (header + length > s.in.size()) s.in.resize(header + length + kReadChunk);
      break;
    }
    std::string_view payload(s.in.data() + pos + header, length);
    pos += header + length;
    if (opcode == 0x8) {
      open = false;
      break;
    }
    if (opcode == 0x9) {
      // Pong, masked with a zero key as RFC 6455 allows; the relay's keep-alive
      // ping would otherwise close an idle subscriber.
      std::string pong{static_cast<char>(0x8a), static_cast<char>(0x80 | payload.size()), 0, 0, 0, 0};
      pong.append(payload);
      (void)!::send(s.fd, pong.data(), pong.size(), MSG_NOSIGNAL);
      continue;
    }
    if (opcode == 0xa) continue;
    if (!fin || opcode == 0x0) {
      s.fragments.append(payload);
      if (!fin) continue;
      on_text(std::string_view(s.fragments));
      s.fragments.clear();
      continue;
    }
    on_text(payload);
  }
  if (pos > 0) {
    std::memmove(s.in.data(), s.in.data() + pos, s.used - pos);
    s.used -= pos;
  }
  return open;
}

// A client's text frame: masked, as RFC 6455 asks of every frame a client sends.
std::string masked_text_frame(std::string_view payload) {
  std::string frame{'\x81'};
  if (payload.size() < 126) {
    frame += static_cast<char>(0x80 | payload.size());
  } else {
    frame += static_cast<char>(0x80 | 126);
    frame += static_cast<char>(payload.size() >> 8);
    frame += static_cast<char>(payload.size() & 0xff);
  }
  const char mask[4] = {0x1f, 0x2e, 0x3d, 0x4c};
  frame.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  return frame;
}

// Blocking connect, upgrade, sign-in (the token in the first message) and
// snapshot; the socket is then made non-blocking.
bool connect_subscriber(const Options& options, Subscriber& s) {
  s.in.resize(kReadChunk);
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return false;
  timeval timeout{10, 0};
  ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const sockaddr_in address = address_of(options.relays[s.relay]);
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return false;
  const std::string request = "GET /api/qa/ws?room=current"
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return false;
  bool upgraded = false;
  while (!s.got_snapshot) {
    if (s.used == s.in.size()) s.in.resize(s.in.size() * 2);
    ssize_t n = ::recv(s.fd, s.in.data() + s.used, s.in.size() - s.used, 0);
    if (n <= 0) return false;
    s.used += static_cast<size_t>(n);
    if (!upgraded) {
      std::string_view text(s.in.data(), s.used);
      auto end = text.find("\r\n\r\n");
      if (end == std::string_view::npos) continue;
      if (text.substr(0, 12) != "HTTP/1.1 101") return false;
      upgraded = true;
      std::memmove(s.in.data(), s.in.data() + end + 4, s.used - end - 4);
      s.used -= end + 4;
      const std::string auth =
          masked_text_frame(R"({"type":"auth","token":")" + options.subscriber_token + R"("})");
      if (::send(s.fd, auth.data(), auth.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(auth.size())) return false;
    }
    bool first = true;
    if (!parse_frames(s, [&](std::string_view text) {
          // Only the first message is the snapshot; the live events follow it.
          if (first && !s.got_snapshot) s.got_snapshot = text.find("\"type\":\"snapshot\"") != std::string_view::npos;
          first = false;
        }))
      return false;
  }
  ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);
  s.open = true;
  return true;
}

// Reads what every ready subscriber received, until `until` says stop.
class Reader {
 public:
  Reader(std::vector<Subscriber>& subscribers, int& closed) : subscribers_(subscribers), closed_(closed) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    for (size_t i = 0; i < subscribers_.size(); ++i) {
      if (!subscribers_[i].open) continue;
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, subscribers_[i].fd, &event);
    }
  }
  ~Reader() { ::close(epoll_); }

  void run_until(const std::function<bool()>& done, Clock::time_point deadline) {
    epoll_event events[512];
    while (!done() && Clock::now() < deadline) {
      int n = ::epoll_wait(epoll_, events, 512, 20);
      for (int i = 0; i < n; ++i) read(subscribers_[events[i].data.u64]);
    }
  }

 private:
  void read(Subscriber& s) {
    if (s.used == s.in.size()) s.in.resize(s.in.size() * 2);
    ssize_t n = ::recv(s.fd, s.in.data() + s.used, s.in.size() - s.used, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    const auto now = Clock::now();
    bool open = n > 0;
    if (open) {
      s.used += static_cast<size_t>(n);
      open = parse_frames(s, [&](std::string_view text) {
        int64_t id = 0;
        std::string_view state;
        for (size_t from = 0; scan_event(text, from, id, state);) s.receipts.push_back({key(id, state), now});
      });
    }
    if (!open) {
      ++closed_;
      s.open = false;
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
      ::close(s.fd);
      s.fd = -1;
    }
  }

  std::vector<Subscriber>& subscribers_;
  int& closed_;
  int epoll_ = -1;
};

// One blocking REST call on its own connection.
nlohmann::json call_on(const Relay& relay, const std::string& token, http::verb method, const std::string& target,
                       const nlohmann::json& body, unsigned& status) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address(relay.host), relay.port));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + token);
  if (!body.is_null()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body.dump();
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  status = res.result_int();
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return nlohmann::json::parse(res.body(), nullptr, false);
}

// The moderator's call, on the first relay.
nlohmann::json call(const Options& options, http::verb method, const std::string& target, const nlohmann::json& body,
                    unsigned& status) {
  return call_on(options.relays.front(), options.moderator_token, method, target, body, status);
}

nlohmann::json must(const Options& options, http::verb method, const std::string& target, const nlohmann::json& body) {
  unsigned status = 0;
  auto json = call(options, method, target, body, status);
  if (status / 100 != 2) {
    std::fprintf(stderr, "qa-load: %s -> %u %s\n", target.c_str(), status, json.dump().c_str());
    std::exit(1);
  }
  return json;
}

// CPU seconds (user + system) this process has used so far.
double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  size_t index = std::min(values.size() - 1, static_cast<size_t>(p / 100.0 * (values.size() - 1) + 0.5));
  std::nth_element(values.begin(), values.begin() + index, values.end());
  return values[index];
}

struct Spread {
  double p50 = 0, p99 = 0, max = 0;
};

Spread spread(std::vector<double> values) {
  Spread out;
  out.p50 = percentile(values, 50);
  out.p99 = percentile(values, 99);
  out.max = values.empty() ? 0 : *std::max_element(values.begin(), values.end());
  return out;
}

int run_fanout(const Options& options) {
  // Questions exist before anyone subscribes, so every later event is public.
  std::vector<int64_t> ids;
  for (int i = 0; i < options.questions; ++i) {
    auto q = must(options, http::verb::post, "/api/qa/rooms/current/questions",
                  {{"text", "Benchmark question " + std::to_string(i) + ": how does the relay keep latency low?"}});
    ids.push_back(q["id"].get<int64_t>());
  }

  // Handshakes on a few threads; each is a blocking round trip to the relay.
  std::vector<Subscriber> subscribers(static_cast<size_t>(options.subscribers));
  for (size_t i = 0; i < subscribers.size(); ++i) subscribers[i].relay = i % options.relays.size();
  std::atomic<size_t> next{0};
  std::atomic<int> ready{0}, failed{0};
  const auto connect_start = Clock::now();
  {
    std::vector<std::thread> connectors;
    const int threads = std::max(1, options.connect_parallel);
    for (int t = 0; t < threads; ++t)
      connectors.emplace_back([&] {
        for (size_t i; (i = next++) < subscribers.size();) {
          Subscriber& s = subscribers[i];
          s.receipts.reserve(static_cast<size_t>(options.questions) * 3 + 4);
          if (connect_subscriber(options, s)) {
            ++ready;
          } else {
            ++failed;
            if (s.fd >= 0) ::close(s.fd);
            s.fd = -1;
          }
        }
      });
    for (auto& thread : connectors) thread.join();
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  std::fprintf(stderr, "qa-load: %d subscribers connected in %.1f s (%d failed)\n", ready.load(), connect_s,
               failed.load());

  int closed = 0;
  Reader reader(subscribers, closed);
  CpuWindow others(options);
  others.start();
  const double cpu_before = cpu_seconds();
  const auto window_start = Clock::now();

  // The moderator, on its own thread; the subscribers are read on this one.
  std::map<int64_t, Clock::time_point> answered_at;  // event key -> moderator's 2xx
  // event key -> when the moderator sent the request: a relay that sends the
  // event to its own subscribers before it answers delays the 2xx by the
  // fan-out, so from the 2xx alone a slow fan-out on the moderator's relay
  // would look fast; from the request it is an upper bound.
  std::map<int64_t, Clock::time_point> requested_at;
  std::mutex answered_mutex;
  std::atomic<bool> moderator_done{false};
  std::thread moderator([&] {
    int64_t previous = 0;
    for (int64_t id : ids) {
      for (const char* action : {"approve", "stage"}) {
        auto begin = Clock::now();
        must(options, http::verb::post, "/api/qa/questions/" + std::to_string(id) + "/" + action, nlohmann::json::object());
        auto now = Clock::now();
        std::lock_guard lock(answered_mutex);
        if (std::string_view(action) == "approve") {
          answered_at[key(id, "approved")] = now;
          requested_at[key(id, "approved")] = begin;
        } else {
          answered_at[key(id, "on_stage")] = now;
          requested_at[key(id, "on_stage")] = begin;
          if (previous) {
            answered_at[key(previous, "answered")] = now;
            requested_at[key(previous, "answered")] = begin;
          }
        }
        std::this_thread::sleep_until(begin + std::chrono::milliseconds(options.interval_ms));
      }
      previous = id;
    }
    moderator_done = true;
  });
  reader.run_until([&] { return moderator_done.load(); }, Clock::time_point::max());
  moderator.join();
  // Stragglers: give the last events a moment to arrive.
  reader.run_until([] { return false; }, Clock::now() + std::chrono::seconds(3));
  const double cpu_used = cpu_seconds() - cpu_before;
  const double window_s = std::chrono::duration<double>(Clock::now() - window_start).count();
  others.stop();

  std::vector<double> latencies, from_request;
  std::vector<std::vector<double>> per_relay(options.relays.size()), per_relay_request(options.relays.size());
  latencies.reserve(static_cast<size_t>(ready) * answered_at.size());
  from_request.reserve(latencies.capacity());
  int64_t lost = 0, duplicated = 0, early = 0;
  for (auto& s : subscribers) {
    if (!s.got_snapshot) continue;
    std::unordered_map<int64_t, int> seen;
    for (const Receipt& r : s.receipts) {
      if (++seen[r.key] > 1) {
        ++duplicated;
        continue;
      }
      auto it = answered_at.find(r.key);
      if (it == answered_at.end()) continue;
      double ms = std::chrono::duration<double, std::milli>(r.at - it->second).count();
      if (ms < 0) {
        ++early;  // the event beat the moderator's own HTTP answer
        ms = 0;
      }
      latencies.push_back(ms);
      per_relay[s.relay].push_back(ms);
      const double since_request = std::chrono::duration<double, std::milli>(r.at - requested_at.at(r.key)).count();
      from_request.push_back(since_request);
      per_relay_request[s.relay].push_back(since_request);
    }
    for (const auto& [k, at] : answered_at)
      if (!seen.count(k)) ++lost;
  }
  const Spread all = spread(latencies);
  const Spread all_request = spread(from_request);
  const double deliveries = static_cast<double>(latencies.size());
  std::printf("subscribers %d over %zu relay(s) (connected %d, failed %d, closed by the relays %d)\n",
              options.subscribers, options.relays.size(), ready.load(), failed.load(), closed);
  std::printf("events %zu per subscriber, %zu deliveries measured (%lld before the moderator's 2xx)\n",
              answered_at.size(), latencies.size(), static_cast<long long>(early));
  std::printf("latency from the moderator's 2xx: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", all.p50, all.p99, all.max);
  std::printf("latency from the moderator's request: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", all_request.p50,
              all_request.p99, all_request.max);
  if (options.relays.size() > 1) {
    for (size_t i = 0; i < per_relay.size(); ++i) {
      const Spread one = spread(per_relay[i]), request = spread(per_relay_request[i]);
      std::printf("  relay %zu (%s:%u%s), %zu deliveries: from the 2xx p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
                  "from the request p50 %.1f ms, p99 %.1f ms\n",
                  i + 1, options.relays[i].host.c_str(), options.relays[i].port, i == 0 ? ", the moderator's" : "",
                  per_relay[i].size(), one.p50, one.p99, one.max, request.p50, request.p99);
    }
  }
  std::printf("load generator CPU in the %.1f s window: %.0f ms (%.2f us per delivery)\n", window_s, cpu_used * 1e3,
              deliveries > 0 ? cpu_used * 1e6 / deliveries : 0.0);
  if (!options.relay_pids.empty()) {
    const double total = others.relay_ms + others.database_ms + cpu_used * 1e3;
    std::printf("relays' CPU in the window: %.0f ms (%.2f us per delivery); database's: %.0f ms; "
                "the load generator's share of the CPU used: %.0f%%\n",
                others.relay_ms, deliveries > 0 ? others.relay_ms * 1e3 / deliveries : 0.0, others.database_ms,
                total > 0 ? cpu_used * 1e5 / total : 0.0);
  }
  std::printf("lost %lld, duplicated %lld\n", static_cast<long long>(lost), static_cast<long long>(duplicated));
  std::printf("result mode=fanout relays=%zu subscribers=%d connected=%d failed=%d closed=%d p50_ms=%.1f "
              "p99_ms=%.1f max_ms=%.1f lost=%lld doubled=%lld deliveries=%zu window_s=%.2f load_cpu_ms=%.0f "
              "relay_cpu_ms=%.0f database_cpu_ms=%.0f request_p50_ms=%.1f request_p99_ms=%.1f request_max_ms=%.1f\n",
              options.relays.size(), options.subscribers, ready.load(), failed.load(), closed, all.p50, all.p99,
              all.max, static_cast<long long>(lost), static_cast<long long>(duplicated), latencies.size(), window_s,
              cpu_used * 1e3, others.relay_ms, others.database_ms, all_request.p50, all_request.p99, all_request.max);
  return lost == 0 && duplicated == 0 && failed == 0 ? 0 : 1;
}

// One asking client: a keep-alive connection to one relay, reopened when the
// relay closes it.
class Asker {
 public:
  explicit Asker(const Relay& relay) : relay_(relay), stream_(ioc_) {}

  // The status of one ask, 0 when the connection failed.
  unsigned ask(const std::string& token, const std::string& text, const std::string& idempotency_key) {
    beast::error_code ec;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!connected_) {
        stream_.socket().close(ec);
        stream_.connect(tcp::endpoint(net::ip::make_address(relay_.host), relay_.port), ec);
        if (ec) return 0;
        connected_ = true;
      }
      http::request<http::string_body> req{http::verb::post, "/api/qa/rooms/current/questions", 11};
      req.set(http::field::host, relay_.host);
      req.set(http::field::authorization, "Bearer " + token);
      req.set(http::field::content_type, "application/json");
      req.set("Idempotency-Key", idempotency_key);
      req.keep_alive(true);
      req.body() = nlohmann::json{{"text", text}}.dump();
      req.prepare_payload();
      http::write(stream_, req, ec);
      http::response<http::string_body> res;
      if (!ec) http::read(stream_, buffer_, res, ec);
      if (ec) {
        // A keep-alive connection the relay had closed: once more on a new one.
        connected_ = false;
        buffer_.clear();
        continue;
      }
      if (!res.keep_alive()) connected_ = false;
      return res.result_int();
    }
    return 0;
  }

 private:
  Relay relay_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

int run_ask(const Options& options) {
  // The identities first, outside the measurement (the script lifts the
  // per-network limit on making them).
  std::vector<std::string> tokens;
  for (int i = 0; i < options.attendees; ++i) {
    unsigned status = 0;
    auto body = call(options, http::verb::post, "/api/qa/attendees", {{"name", "Bench " + std::to_string(i)}}, status);
    if (status / 100 != 2 || !body.contains("token")) {
      std::fprintf(stderr, "qa-load: /api/qa/attendees -> %u %s\n", status, body.dump().c_str());
      return 1;
    }
    tokens.push_back(body["token"].get<std::string>());
  }
  // Every relay must know the identities before they ask there (the others
  // learn of them from the database's event log): at most 10 s.
  for (const Relay& relay : options.relays) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (unsigned status = 0; status != 200;) {
      call_on(relay, tokens.back(), http::verb::get, "/api/qa/me", nullptr, status);
      if (status == 200) break;
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "qa-load: %s:%u does not know the new attendees after 10 s (%u)\n", relay.host.c_str(),
                     relay.port, status);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::random_device entropy;
  const std::string run = std::to_string(entropy()) + std::to_string(entropy());
  std::mutex counts_mutex;
  std::map<unsigned, long long> counts;  // status -> answers
  std::vector<double> latencies;
  CpuWindow others(options);
  others.start();
  const double cpu_before = cpu_seconds();
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c)
    clients.emplace_back([&, c] {
      Asker asker(options.relays[static_cast<size_t>(c) % options.relays.size()]);
      std::map<unsigned, long long> mine;
      std::vector<double> waits;
      // Client c takes turns between attendees c, c + clients, c + 2 clients, ...
      size_t turn = static_cast<size_t>(c);
      for (long long n = 0; Clock::now() < until; ++n) {
        const std::string& token = tokens[turn];
        turn += static_cast<size_t>(options.clients);
        if (turn >= tokens.size()) turn = static_cast<size_t>(c) % tokens.size();
        const std::string idempotency_key = "bench-" + run + "-" + std::to_string(c) + "-" + std::to_string(n);
        auto begin = Clock::now();
        unsigned status =
            asker.ask(token, "Throughput question " + std::to_string(c) + "." + std::to_string(n) + "?", idempotency_key);
        waits.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
        ++mine[status];
      }
      std::lock_guard lock(counts_mutex);
      for (auto [status, n] : mine) counts[status] += n;
      latencies.insert(latencies.end(), waits.begin(), waits.end());
    });
  for (auto& thread : clients) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_used = cpu_seconds() - cpu_before;
  others.stop();

  const long long accepted = counts.count(201) ? counts[201] : 0;
  long long total = 0;
  std::string answers;
  for (auto [status, n] : counts) {
    total += n;
    answers += (answers.empty() ? "" : ", ") + std::to_string(n) + " x " + (status ? std::to_string(status) : "no answer");
  }
  const Spread wait = spread(latencies);
  const double rate = elapsed > 0 ? static_cast<double>(accepted) / elapsed : 0;
  std::printf("%d attendees asking from %d connections over %zu relay(s) for %.1f s: %s\n", options.attendees,
              options.clients, options.relays.size(), elapsed, answers.c_str());
  std::printf("accepted %.0f questions/s; answer time p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", rate, wait.p50,
              wait.p99, wait.max);
  std::printf("CPU: relays %.0f ms, database %.0f ms, load generator %.0f ms\n", others.relay_ms, others.database_ms,
              cpu_used * 1e3);
  std::printf("result mode=ask relays=%zu attendees=%d clients=%d seconds=%.2f asked=%lld accepted=%lld "
              "per_s=%.1f p50_ms=%.1f p99_ms=%.1f relay_cpu_ms=%.0f database_cpu_ms=%.0f load_cpu_ms=%.0f\n",
              options.relays.size(), options.attendees, options.clients, elapsed, total, accepted, rate, wait.p50,
              wait.p99, others.relay_ms, others.database_ms, cpu_used * 1e3);
  // Anything but 201 (or a rate limit's 429, which the script's limits should
  // make rare) means the benchmark measured something else.
  return total == accepted + (counts.count(429) ? counts[429] : 0) && accepted > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    std::string value = argv[i + 1];
    auto number = [&](int low) {
      char* end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (*end || n < low || n > 10'000'000) usage(flag + " takes a whole number >= " + std::to_string(low));
      return static_cast<int>(n);
    };
    if (flag == "--port") options.relays.push_back({"127.0.0.1", static_cast<uint16_t>(number(1))});
    else if (flag == "--relays") options.relays = parse_relays(value);
    else if (flag == "--mode") options.mode = value;
    else if (flag == "--moderator-token") options.moderator_token = value;
    else if (flag == "--subscriber-token") options.subscriber_token = value;
    else if (flag == "--subscribers") options.subscribers = number(1);
    else if (flag == "--questions") options.questions = number(1);
    else if (flag == "--interval-ms") options.interval_ms = number(0);
    else if (flag == "--connect-parallel") options.connect_parallel = number(1);
    else if (flag == "--attendees") options.attendees = number(1);
    else if (flag == "--clients") options.clients = number(1);
    else if (flag == "--seconds") options.seconds = number(1);
    else if (flag == "--relay-pids") options.relay_pids = parse_pids(value);
    else if (flag == "--database-pid") options.database_pid = number(1);
    else usage("unknown flag " + flag);
  }
  if (options.relays.empty()) usage("name the relay: --port P or --relays 127.0.0.1:P,...");
  if (options.moderator_token.empty()) usage("--moderator-token is required");
  if (options.mode == "fanout") return run_fanout(options);
  if (options.mode == "ask") return run_ask(options);
  usage("--mode is fanout or ask");
}
