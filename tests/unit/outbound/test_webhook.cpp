#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

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
