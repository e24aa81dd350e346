#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "outbound/webhook.hpp"

using namespace relay::outbound;

TEST_CASE("HMAC-SHA256 matches RFC 4231", "[webhook]") {
  // Test case 2.
  CHECK(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("an alert becomes a JSON body", "[webhook]") {
  relay::health::AlertEvent fired{"input_lost", true, 1700000003000, 1700000003000, "no input on air (ingest slate)"};
  auto body = nlohmann::json::parse(alert_payload(fired, 7, "srt://:9000?mode=listener"));
  CHECK(body["event"] == "firing");
  CHECK(body["rule"] == "input_lost");
  CHECK(body["incident"] == 7);
  CHECK(body["message"] == "no input on air (ingest slate)");
  CHECK(body["fired_at"] == "2023-11-14T22:13:23.000Z");
  CHECK(body["resolved_at"].is_null());
  CHECK(body["source"] == "srt://:9000?mode=listener");

  relay::health::AlertEvent resolved{"input_lost", false, 1700000009500, 1700000003000, ""};
  auto after = nlohmann::json::parse(alert_payload(resolved, 7, "test:"));
  CHECK(after["event"] == "resolved");
  CHECK(after["resolved_at"] == "2023-11-14T22:13:29.500Z");
}

TEST_CASE("a webhook URL libsoup cannot use is refused at start", "[webhook]") {
  WebhookOptions options;
  options.url = "not a url";
  CHECK_THROWS(WebhookSender(options));
}

namespace {

// An HTTP/1.1 server on loopback that records each request and answers every
// one with `status` (and `location`, for a redirect). One request per connection.
class Receiver {
 public:
  struct Request {
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
  };

  explicit Receiver(int status, std::string location = "") : status_(status), location_(std::move(location)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void serve() {
    for (;;) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::string in;
      char buffer[4096];
      size_t header_end = std::string::npos, body_length = 0;
      while (true) {
        ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        in.append(buffer, static_cast<size_t>(n));
        if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
          Request r = parse_head(in.substr(0, header_end));
          body_length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
        }
        if (header_end != std::string::npos && in.size() >= header_end + 4 + body_length) break;
      }
      if (header_end != std::string::npos) {
        Request r = parse_head(in.substr(0, header_end));
        r.body = in.substr(header_end + 4, body_length);
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(r));
      }
      std::string reply = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Length: 0\r\nConnection: close\r\n";
      if (!location_.empty()) reply += "Location: " + location_ + "\r\n";
      reply += "\r\n";
      ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  static Request parse_head(const std::string& head) {
    Request r;
    size_t at = head.find("\r\n");
    while (at != std::string::npos) {
      size_t end = head.find("\r\n", at + 2);
      std::string line = head.substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      at = end;
    }
    return r;
  }

  int status_;
  std::string location_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

template <class Predicate>
bool wait_until(Predicate done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

}  // namespace

TEST_CASE("the signature covers the timestamp header and the body", "[webhook]") {
  Receiver receiver(204);
  WebhookOptions options;
  options.url = receiver.url();
  options.secret = "the-shared-secret";
  options.allow_insecure = true;
  WebhookSender sender(options);
  const int64_t before_s = relay::now_epoch_ms() / 1000;
  sender.send(R"({"event":"firing"})");
  REQUIRE(wait_until([&] { return sender.counters().delivered == 1; }));
  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 1);
  auto headers = requests[0].headers;
  REQUIRE(headers.count("x-relay-timestamp"));
  const int64_t timestamp = std::stoll(headers["x-relay-timestamp"]);
  CHECK(timestamp >= before_s);
  CHECK(timestamp <= relay::now_epoch_ms() / 1000);
  CHECK(requests[0].body == R"({"event":"firing"})");
  CHECK(headers["x-relay-signature"] ==
        "sha256=" + hmac_sha256_hex("the-shared-secret", headers["x-relay-timestamp"] + "." + requests[0].body));
  CHECK(headers["x-relay-signature"] == webhook_signature("the-shared-secret", timestamp, requests[0].body));
  // The body alone (the old scheme) no longer verifies: a replayed body needs its old timestamp.
  CHECK(headers["x-relay-signature"] != "sha256=" + hmac_sha256_hex("the-shared-secret", requests[0].body));
}

TEST_CASE("a redirect is not followed and counts as a failed attempt", "[webhook]") {
  Receiver target(204);
  Receiver redirecting(302, target.url("/elsewhere"));
  WebhookOptions options;
  options.url = redirecting.url("/hook?key=secret-in-query");
  options.retries = 0;
  options.allow_insecure = true;
  WebhookSender sender(options);
  sender.send(R"({"event":"firing"})");
  REQUIRE(wait_until([&] { return sender.counters().abandoned == 1; }));
  CHECK(redirecting.requests().size() == 1);
  CHECK(target.requests().empty());
  CHECK(sender.counters().delivered == 0);
}

TEST_CASE("an http:// webhook URL is refused unless insecure webhooks are allowed", "[webhook]") {
  WebhookOptions options;
  options.url = "http://127.0.0.1:9/hook";
  CHECK_THROWS_WITH(WebhookSender(options), Catch::Contains("allow_insecure_webhooks"));
  options.allow_insecure = true;
  CHECK_NOTHROW(WebhookSender(options));
  options.url = "https://hooks.example.org/hook";
  options.allow_insecure = false;
  CHECK_NOTHROW(WebhookSender(options));
}
