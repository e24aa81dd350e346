#include <string>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/reload.hpp"

using namespace relay::config;
using Catch::Matchers::Contains;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "relay.toml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("expected a ConfigError for:\n" << text);
  return {};
}

std::string talk(const std::string& id, const std::string& start, const std::string& end,
                 const std::string& extra = "title = \"T\"\n") {
  return "[[programme.talks]]\nid = \"" + id + "\"\n" + extra + "start = " + start + "\nend = " + end + "\n";
}

}  // namespace

TEST_CASE("[[programme.talks]] are read with their fields, in planned order") {
  const Config c = parse_config(R"toml(
[[programme.talks]]
id = "second"
title = "Zweiter Vortrag"
speakers = ["Jörg Müller", "Ada Lovelace"]
language = "de"
abstract = "Zeile eins\nZeile zwei"
start = "2027-03-10T11:00:00+01:00"
end = "2027-03-10T12:00:00+01:00"

[[programme.talks]]
id = "first"
title = "First"
start = 2027-03-10T09:00:00Z
end = "2027-03-10T11:00:00+01:00"
)toml",
                                "relay.toml");
  REQUIRE(c.programme.talks.size() == 2);
  const TalkConfig& first = c.programme.talks[0];
  const TalkConfig& second = c.programme.talks[1];
  CHECK(first.id == "first");
  CHECK(first.start.offset_minutes == 0);  // a TOML date-time without quotes works too
  CHECK(first.end.unix_seconds - first.start.unix_seconds == 3600);
  CHECK(first.speakers.empty());
  CHECK(second.id == "second");
  CHECK(second.title == "Zweiter Vortrag");
  CHECK(second.speakers == std::vector<std::string>{"Jörg Müller", "Ada Lovelace"});
  CHECK(second.language == "de");
  CHECK(second.abstract == "Zeile eins\nZeile zwei");
  CHECK(second.start.offset_minutes == 60);
  // Touching slots (one ends as the next begins) are fine.
  CHECK_NOTHROW(parse_config(talk("a", "\"2027-03-10T09:00:00Z\"", "\"2027-03-10T10:00:00Z\"") +
                                 talk("b", "\"2027-03-10T10:00:00Z\"", "\"2027-03-10T11:00:00Z\""),
                             "relay.toml"));
  CHECK(parse_config("", "relay.toml").programme.talks.empty());
}

TEST_CASE("programme errors name the file, the line and what is accepted") {
  const std::string nine = "\"2027-03-10T09:00:00+01:00\"", ten = "\"2027-03-10T10:00:00+01:00\"";
  CHECK_THAT(error_of(talk("a", nine, ten, "")), Contains("relay.toml:1:") && Contains("missing key 'title'"));
  CHECK_THAT(error_of(talk("a", nine, ten, "title = \"\"\n")),
             Contains("relay.toml:3:") && Contains("title must not be empty"));
  CHECK_THAT(error_of(talk("a", ten, nine)),
             Contains("relay.toml:5:") && Contains("programme.talks[0].end") &&
                 Contains("2027-03-10T09:00:00+01:00 is not after the talk's start (2027-03-10T10:00:00+01:00)"));
  CHECK_THAT(error_of(talk("a", nine, nine)), Contains("is not after the talk's start"));
  CHECK_THAT(error_of(talk("a", "\"2027-03-10 9h\"", ten)),
             Contains("relay.toml:4:") && Contains("'2027-03-10 9h' is not a time") &&
                 Contains("2027-03-10T09:00:00+01:00"));
  CHECK_THAT(error_of(talk("a", "\"2027-03-10T09:00:00\"", ten)), Contains("is not a time"));
  CHECK_THAT(error_of(talk("a", "2027-03-10T09:00:00", ten)), Contains("the time has no time zone"));
  CHECK_THAT(error_of(talk("a", "\"2027-02-30T09:00:00Z\"", ten)), Contains("is not a time"));
  CHECK_THAT(error_of(talk("a", nine, ten) + talk("b", "\"2027-03-10T09:30:00+01:00\"", "\"2027-03-10T11:00:00+01:00\"")),
             Contains("relay.toml:9:") && Contains("overlaps 'a'") && Contains("relay.toml:1:"));
  CHECK_THAT(error_of(talk("a", nine, ten) + talk("a", "\"2027-03-11T09:00:00Z\"", "\"2027-03-11T10:00:00Z\"")),
             Contains("relay.toml:7:") && Contains("'a' is already the id"));
  CHECK_THAT(error_of(talk("Talk 1", nine, ten)), Contains("is not a talk id"));
  CHECK_THAT(error_of(talk("a", nine, ten, "title = \"T\"\nspeaker = [\"X\"]\n")),
             Contains("relay.toml:4:") && Contains("did you mean 'speakers'?"));
  CHECK_THAT(error_of(talk("a", nine, ten, "title = \"T\"\nlanguage = \"German\"\n")),
             Contains("not a BCP 47 language tag"));
  CHECK_THAT(error_of("[programme]\ntalks = { id = \"a\" }\n"), Contains("[[programme.talks]]"));
  CHECK_THAT(error_of("[programme]\ntalk = []\n"), Contains("relay.toml:2:") && Contains("unknown key 'programme.talk'"));
  CHECK_THAT(error_of(talk("a", nine, ten, "title = \"Line\\nbreak\"\n")), Contains("without control characters"));
}

TEST_CASE("a reload that changes the programme says it needs a restart") {
  const std::string slot = "\"2027-03-10T09:00:00Z\"", later = "\"2027-03-10T10:00:00Z\"";
  const Config running = parse_config(talk("a", slot, later), "relay.toml");
  CHECK(keys_needing_restart(running, parse_config(talk("a", slot, later), "relay.toml")).empty());
  CHECK(keys_needing_restart(running, parse_config(talk("a", slot, later, "title = \"U\"\n"), "relay.toml")) ==
        std::vector<std::string>{"programme.talks"});
  CHECK(keys_needing_restart(running, parse_config("", "relay.toml")) == std::vector<std::string>{"programme.talks"});
}
