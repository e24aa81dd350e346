#include <string>

#include <catch2/catch.hpp>

#include "health/viewer_sessions.hpp"

using relay::health::ViewerSessions;

TEST_CASE("viewers are the distinct sessions of the window, under the rendition of their newest request",
          "[viewers]") {
  ViewerSessions viewers(30000, 1000);
  // One player fetching a playlist and its parts counts once.
  for (int i = 0; i < 5; ++i) viewers.record("player-one", "720p", 1000 + i * 300);
  viewers.record("player-two", "360p", 2000);
  viewers.record("player-three", "360p", 2500);
  auto c = viewers.count(3000);
  CHECK(c.total == 3);
  CHECK(c.by_rendition == std::map<std::string, size_t>{{"720p", 1}, {"360p", 2}});

  // Switching rendition moves the session; it is never counted twice.
  viewers.record("player-two", "720p", 4000);
  c = viewers.count(4000);
  CHECK(c.total == 3);
  CHECK(c.by_rendition == std::map<std::string, size_t>{{"720p", 2}, {"360p", 1}});

  // 30 s after its newest request a session is gone: player-one's was at 2.2 s,
  // player-three's at 2.5 s.
  c = viewers.count(32500);
  CHECK(c.total == 2);
  CHECK(c.by_rendition == std::map<std::string, size_t>{{"720p", 1}, {"360p", 1}});
  c = viewers.count(32501);
  CHECK(c.total == 1);
  CHECK(c.by_rendition == std::map<std::string, size_t>{{"720p", 1}});
  c = viewers.count(34001);
  CHECK(c.total == 0);
  CHECK(c.by_rendition.empty());
}

TEST_CASE("session ids are 1..64 of A-Z a-z 0-9 _ -; others are not counted", "[viewers]") {
  CHECK(ViewerSessions::valid_id("3F2504E0-4F89-11D3-9A0C-0305E82C3301"));  // Safari's kind
  CHECK(ViewerSessions::valid_id("0123456789abcdef01234567"));              // the attendee page's
  CHECK(ViewerSessions::valid_id(std::string(64, 'a')));
  CHECK_FALSE(ViewerSessions::valid_id(std::string(65, 'a')));
  CHECK_FALSE(ViewerSessions::valid_id(""));
  CHECK_FALSE(ViewerSessions::valid_id("has space"));
  CHECK_FALSE(ViewerSessions::valid_id("semi;colon"));
  CHECK_FALSE(ViewerSessions::valid_id("ümlaut"));

  ViewerSessions viewers;
  viewers.record("", "720p", 1000);  // a player without the header
  viewers.record(std::string(65, 'x'), "720p", 1000);
  viewers.record("a\"b", "720p", 1000);
  CHECK(viewers.count(1000).total == 0);
}

TEST_CASE("the number of sessions tracked is bounded; expired ones make room", "[viewers]") {
  // 16 shards of one session each.
  ViewerSessions viewers(30000, 16);
  for (int i = 0; i < 200; ++i) viewers.record("session-" + std::to_string(i), "720p", 1000);
  auto c = viewers.count(1000);
  CHECK(c.total <= 16);
  CHECK(c.total >= 8);
  CHECK(c.untracked_requests == 200 - c.total);
  // A tracked session keeps being counted; its requests are not untracked.
  const uint64_t untracked = c.untracked_requests;
  for (int i = 0; i < 200; ++i) viewers.record("session-" + std::to_string(i), "720p", 2000);
  CHECK(viewers.count(2000).untracked_requests == untracked + 200 - c.total);
  // Once the window has passed, new sessions get in again.
  viewers.record("late-comer", "360p", 40000);
  c = viewers.count(40000);
  CHECK(c.total == 1);
  CHECK(c.by_rendition == std::map<std::string, size_t>{{"360p", 1}});
}
