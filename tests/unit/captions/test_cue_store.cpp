#include <catch2/catch.hpp>

#include "captions/cue_store.hpp"

using namespace relay::captions;

namespace {
constexpr int64_t T0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

CueStore two_languages(double offset_s = 0) {
  CueRules rules;
  rules.offset_s = offset_s;
  rules.keep_s = 30;
  return CueStore({{"de", "Deutsch"}, {"en", "English"}}, rules);
}
}  // namespace

TEST_CASE("a cue starts at its arrival, shifted back by the offset") {
  auto store = two_languages(1.5);
  auto posted = store.post(0, "Guten Morgen", "Anna", T0 + 10'000);
  CHECK(posted.cue.start_ms == T0 + 8'500);
  CHECK_FALSE(posted.moved);
  CHECK(store.find("en") == 1u);
  CHECK_FALSE(store.find("fr"));
}

TEST_CASE("a cue lasts as long as its text takes to read, within 2..7 s, or as long as the sender says") {
  auto store = two_languages();
  CHECK(store.post(0, "Ja.", "A", T0).cue.end_ms == T0 + 2'000);  // short: the minimum
  const std::string sixty(60, 'x');  // 60 characters at 15 per second
  CHECK(store.post(1, sixty, "A", T0).cue.end_ms == T0 + 4'000);
  const std::string long_line(300, 'x');
  CHECK(store.post(1, long_line, "A", T0 + 10'000).cue.end_ms == T0 + 17'000);  // capped at 7 s
  CHECK(store.post(1, "kurz", "A", T0 + 20'000, 12.5).cue.end_ms == T0 + 32'500);
  // Reading speed counts characters, not bytes.
  CHECK(store.default_duration_s(std::string(45, 'a')) == Approx(3.0));
  CHECK(code_points("Grüße") == 5);
}

TEST_CASE("a new line ends the previous unpublished one early, never below a second") {
  auto store = two_languages();
  auto first = store.post(0, "Eins zwei drei vier fünf sechs sieben acht neun zehn elf", "A", T0);
  REQUIRE(first.cue.end_ms > T0 + 3'000);
  store.post(0, "Zweite Zeile", "A", T0 + 2'500);
  auto cues = store.all(0);
  REQUIRE(cues.size() == 2);
  CHECK(cues[0].end_ms == T0 + 2'500);
  // Another language is a transcript of its own.
  store.post(1, "Second line", "A", T0 + 2'600);
  CHECK(store.all(0)[1].end_ms > T0 + 2'600);
  // Right after another: the previous one still shows for a second.
  store.post(0, "Dritte", "A", T0 + 2'700);
  CHECK(store.all(0)[1].end_ms == T0 + 3'500);
}

TEST_CASE("a published cue keeps its times when a new line comes") {
  auto store = two_languages();
  auto first = store.post(0, "Eine längere Zeile, die eine Weile zu lesen ist", "A", T0);
  store.publish_until(T0 + 500);
  store.post(0, "Die nächste", "A", T0 + 1'000);
  CHECK(store.all(0)[0].end_ms == first.cue.end_ms);
}

TEST_CASE("a correction replaces the last line while it is unpublished, else goes on as a new cue") {
  auto store = two_languages();
  auto first = store.post(0, "Gutne Morgen", "A", T0);
  auto fixed = store.post(0, "Guten Morgen", "A", T0 + 800, std::nullopt, true);
  CHECK(fixed.replaced);
  CHECK(fixed.cue.id == first.cue.id);
  CHECK(fixed.cue.start_ms == T0);
  REQUIRE(store.all(0).size() == 1);
  CHECK(store.all(0)[0].text == "Guten Morgen");

  store.publish_until(T0 + 1'000);
  auto late = store.post(0, "Guten Morgen allerseits", "A", T0 + 1'200, std::nullopt, true);
  CHECK_FALSE(late.replaced);
  CHECK(late.cue.id != first.cue.id);
  auto cues = store.all(0);
  REQUIRE(cues.size() == 2);
  CHECK(cues[0].text == "Guten Morgen");  // the published one is not changed
  CHECK(cues[1].start_ms == T0 + 1'200);
}

TEST_CASE("a cue stamped inside published media starts at the frontier instead") {
  auto store = two_languages(3.0);
  store.publish_until(T0 + 9'000);
  auto posted = store.post(0, "Spät", "A", T0 + 10'000);  // stamped at T0 + 7 s
  CHECK(posted.moved);
  CHECK(posted.cue.start_ms == T0 + 9'000);
  // The frontier never goes back.
  store.publish_until(T0 + 1'000);
  CHECK(store.published_until() == T0 + 9'000);
}

TEST_CASE("cues are forgotten once they ended longer ago than the window") {
  auto store = two_languages();
  store.post(0, "alt", "A", T0);
  store.post(0, "neu", "A", T0 + 20'000);
  store.publish_until(T0 + 33'000);  // keep_s = 30: the first ended at T0 + 2 s
  auto cues = store.all(0);
  REQUIRE(cues.size() == 1);
  CHECK(cues[0].text == "neu");
  CHECK(store.overlapping(0, T0 + 19'000, T0 + 21'000).size() == 1);
  CHECK(store.overlapping(0, T0 + 23'000, T0 + 24'000).empty());
}

TEST_CASE("lines are normalised to one line of plain text") {
  CHECK(normalize_line("  Hallo\r\n  Welt\t! ") == "Hallo Welt !");
  CHECK(normalize_line("\n\n") == "");
}
