// Load generator for scripts/bench-qa.sh (a benchmark, not a test): opens N Q&A
// WebSocket subscribers against a running relay, then acts as the moderator who
// approves and stages prepared questions one after another, and measures for
// every event and subscriber the delay from the moderator's 2xx answer to the
// subscriber's receipt. Prints p50/p99/max, how many events were lost (expected
// (question, state) pairs a subscriber never got) and how many connections the
// relay closed. Subscribers connect from a few threads (--connect-parallel), then
// one thread reads them all; the moderator's requests run on another.
//
//   qa-load --port P --moderator-token T --subscriber-token T [--subscribers 5000]
//           [--questions 100] [--interval-ms 100] [--connect-parallel 8]
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
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

struct Options {
  uint16_t port = 8080;
  std::string moderator_token;
  std::string subscriber_token;
  int subscribers = 5000;
  int questions = 100;
  int interval_ms = 100;
  int connect_parallel = 8;  // threads doing blocking handshakes
};

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
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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
nlohmann::json call(const Options& options, http::verb method, const std::string& target, const nlohmann::json& body,
                    unsigned& status) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), options.port));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + options.moderator_token);
  req.set(http::field::content_type, "application/json");
  req.body() = body.dump();
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

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port") options.port = static_cast<uint16_t>(std::stoi(value));
    else if (flag == "--moderator-token") options.moderator_token = value;
    else if (flag == "--subscriber-token") options.subscriber_token = value;
    else if (flag == "--subscribers") options.subscribers = std::stoi(value);
    else if (flag == "--questions") options.questions = std::stoi(value);
    else if (flag == "--interval-ms") options.interval_ms = std::stoi(value);
    else if (flag == "--connect-parallel") options.connect_parallel = std::stoi(value);
    else {
      std::fprintf(stderr, "qa-load: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }

  // Questions exist before anyone subscribes, so every later event is public.
  std::vector<int64_t> ids;
  for (int i = 0; i < options.questions; ++i) {
    auto q = must(options, http::verb::post, "/api/qa/rooms/current/questions",
                  {{"text", "Benchmark question " + std::to_string(i) + ": how does the relay keep latency low?"}});
    ids.push_back(q["id"].get<int64_t>());
  }

  // Handshakes on a few threads; each is a blocking round trip to the relay.
  std::vector<Subscriber> subscribers(static_cast<size_t>(options.subscribers));
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
  const double cpu_before = cpu_seconds();

  // The moderator, on its own thread; the subscribers are read on this one.
  std::map<int64_t, Clock::time_point> answered_at;  // event key -> moderator's 2xx
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
        } else {
          answered_at[key(id, "on_stage")] = now;
          if (previous) answered_at[key(previous, "answered")] = now;
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

  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(ready) * answered_at.size());
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
    }
    for (const auto& [k, at] : answered_at)
      if (!seen.count(k)) ++lost;
  }
  std::vector<double> sorted = latencies;
  const double p50 = percentile(sorted, 50), p99 = percentile(sorted, 99);
  const double max = sorted.empty() ? 0 : *std::max_element(sorted.begin(), sorted.end());
  std::printf("subscribers %d (connected %d, failed %d, closed by the relay %d)\n", options.subscribers, ready.load(),
              failed.load(), closed);
  std::printf("events %zu per subscriber, %zu deliveries measured (%lld before the moderator's 2xx)\n",
              answered_at.size(), latencies.size(), static_cast<long long>(early));
  std::printf("latency from the moderator's 2xx: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", p50, p99, max);
  std::printf("load generator CPU after connecting: %.0f ms (%.2f us per delivery)\n", cpu_used * 1e3,
              latencies.empty() ? 0.0 : cpu_used * 1e6 / static_cast<double>(latencies.size()));
  std::printf("lost %lld, duplicated %lld\n", static_cast<long long>(lost), static_cast<long long>(duplicated));
  return lost == 0 && duplicated == 0 && failed == 0 ? 0 : 1;
}
