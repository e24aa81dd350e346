// Load generator for scripts/bench-qa.sh (a benchmark, not a test): opens N Q&A
// WebSocket subscribers against a running relay, then acts as the moderator who
// approves and stages prepared questions one after another, and measures for
// every event and subscriber the delay from the moderator's 2xx answer to the
// subscriber's receipt. Prints p50/p99/max, how many events were lost (expected
// (question, state) pairs a subscriber never got) and how many connections the
// relay closed.
//
//   qa-load --port P --moderator-token T --subscriber-token T [--subscribers 5000]
//           [--questions 100] [--interval-ms 100] [--connect-parallel 200]
#include <algorithm>
#include <atomic>
#include <charconv>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
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
  int connect_parallel = 200;
};

// (question id, state) of a "question" event, found without a full JSON parse:
// with thousands of subscribers the generator must stay cheaper than the relay.
bool scan_event(std::string_view text, int64_t& id, std::string_view& state) {
  auto q = text.find("\"question\":{");
  if (q == std::string_view::npos) return false;
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

class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(net::io_context& ioc, const Options& options, std::atomic<int>& connected, std::atomic<int>& closed)
      : ws_(ioc), options_(options), connected_(connected), closed_(closed) {}

  void start(std::function<void(bool)> done) {
    done_ = std::move(done);
    tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), options_.port);
    beast::get_lowest_layer(ws_).async_connect(endpoint, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->finish(false);
      self->ws_.async_handshake("127.0.0.1", "/api/qa/ws?room=current&token=" + self->options_.subscriber_token,
                                [self](beast::error_code ec) {
                                  if (ec) return self->finish(false);
                                  self->connected_++;
                                  self->read();
                                });
    });
  }

  std::vector<Receipt> receipts;
  bool got_snapshot = false;

 private:
  void finish(bool ok) {
    if (done_) {
      auto done = std::move(done_);
      done_ = nullptr;
      done(ok);
    }
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->closed_++;
        self->finish(false);
        return;
      }
      const auto now = Clock::now();
      std::string_view text(static_cast<const char*>(self->buffer_.data().data()), self->buffer_.size());
      if (!self->got_snapshot) {
        self->got_snapshot = text.find("\"type\":\"snapshot\"") != std::string_view::npos;
        if (self->got_snapshot) self->finish(true);
      } else {
        int64_t id = 0;
        std::string_view state;
        if (scan_event(text, id, state)) self->receipts.push_back({key(id, state), now});
      }
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  const Options& options_;
  std::atomic<int>& connected_;
  std::atomic<int>& closed_;
  std::function<void(bool)> done_;
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

  net::io_context ioc;
  std::atomic<int> connected{0}, closed{0}, failed{0};
  std::vector<std::shared_ptr<Subscriber>> subscribers;
  for (int i = 0; i < options.subscribers; ++i)
    subscribers.push_back(std::make_shared<Subscriber>(ioc, options, connected, closed));

  // Connect with a bounded number of handshakes in flight.
  size_t next = 0;
  int ready = 0;
  std::function<void()> launch = [&] {
    if (next >= subscribers.size()) return;
    auto& s = subscribers[next++];
    s->start([&](bool ok) {
      if (ok) ++ready; else ++failed;
      launch();
    });
  };
  const auto connect_start = Clock::now();
  for (int i = 0; i < options.connect_parallel; ++i) launch();
  while (ready + failed < options.subscribers) ioc.run_for(std::chrono::milliseconds(50));
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  std::fprintf(stderr, "qa-load: %d subscribers connected in %.1f s (%d failed)\n", ready, connect_s, failed.load());

  // The moderator, on its own thread; the subscribers keep reading on this one.
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
  while (!moderator_done) ioc.run_for(std::chrono::milliseconds(20));
  moderator.join();
  // Stragglers: give the last events a moment to arrive.
  ioc.run_for(std::chrono::seconds(3));

  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(ready) * answered_at.size());
  int64_t lost = 0, duplicated = 0, early = 0;
  for (auto& s : subscribers) {
    if (!s->got_snapshot) continue;
    std::unordered_map<int64_t, int> seen;
    for (const Receipt& r : s->receipts) {
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
  std::printf("subscribers %d (connected %d, failed %d, closed by the relay %d)\n", options.subscribers, ready,
              failed.load(), closed.load());
  std::printf("events %zu per subscriber, %zu deliveries measured (%lld before the moderator's 2xx)\n",
              answered_at.size(), latencies.size(), static_cast<long long>(early));
  std::printf("latency from the moderator's 2xx: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", p50, p99, max);
  std::printf("lost %lld, duplicated %lld\n", static_cast<long long>(lost), static_cast<long long>(duplicated));
  return lost == 0 && duplicated == 0 && failed == 0 ? 0 : 1;
}
