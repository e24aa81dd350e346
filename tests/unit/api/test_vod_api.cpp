#include <string>

#include <catch2/catch.hpp>

#include "api/vod_api.hpp"

using namespace relay::api;

TEST_CASE("VOD session cookies carry a signed expiry") {
  const VodSessions sessions("a-cookie-key-of-at-least-32-characters", 3600);
  const std::string cookie = sessions.issue(1'000'000);
  CHECK(cookie.starts_with("1003600."));
  CHECK(sessions.valid(cookie, 1'000'000));
  CHECK(sessions.valid(cookie, 1'003'599));
  CHECK_FALSE(sessions.valid(cookie, 1'003'600));  // expired
  // A later expiry with the old signature, a changed signature, garbage.
  CHECK_FALSE(sessions.valid("9999999999." + cookie.substr(cookie.find('.') + 1), 1'000'000));
  std::string forged = cookie;
  forged.back() = forged.back() == '0' ? '1' : '0';
  CHECK_FALSE(sessions.valid(forged, 1'000'000));
  CHECK_FALSE(sessions.valid("", 1'000'000));
  CHECK_FALSE(sessions.valid("1003600", 1'000'000));
  CHECK_FALSE(sessions.valid(".abc", 1'000'000));
  // Another key does not accept it; a random key (none configured) neither.
  CHECK_FALSE(VodSessions("another-cookie-key-of-32-characters!!", 3600).valid(cookie, 1'000'000));
  CHECK_FALSE(VodSessions("", 3600).valid(cookie, 1'000'000));
}

TEST_CASE("a cookie's value from a Cookie header") {
  CHECK(cookie_value("relay_vod=abc", "relay_vod") == "abc");
  CHECK(cookie_value("a=1; relay_vod=x.y ; b=2", "relay_vod") == "x.y");
  CHECK_FALSE(cookie_value("a=1; b=2", "relay_vod"));
  CHECK_FALSE(cookie_value("", "relay_vod"));
  CHECK_FALSE(cookie_value("xrelay_vod=1", "relay_vod"));
}
