#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "http_receiver.hpp"
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

using relay::test::Receiver;

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
