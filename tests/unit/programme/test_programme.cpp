#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "programme/programme.hpp"

using namespace relay::programme;

namespace {

const char* kThreeTalks = R"toml(
[[programme.talks]]
id = "keynote"
title = "Opening keynote"
speakers = ["Ada Lovelace"]
start = "2027-03-10T09:00:00+01:00"
end = "2027-03-10T10:00:00+01:00"

[[programme.talks]]
id = "lunch-talk"
title = "After lunch"
start = "2027-03-10T13:00:00+01:00"
end = "2027-03-10T13:45:00+01:00"

[[programme.talks]]
id = "codecs"
title = "Codecs"
start = "2027-03-10T10:15:00+01:00"
end = "2027-03-10T11:00:00+01:00"
)toml";

Programme three_talks() { return Programme(relay::config::parse_config(kThreeTalks, "relay.toml").programme); }

}  // namespace

TEST_CASE("the programme lists talks in planned order; nothing is on stage at first") {
  const Programme p = three_talks();
  REQUIRE(p.talks().size() == 3);
  CHECK(p.talks()[0].id == "keynote");
  CHECK(p.talks()[1].id == "codecs");
  CHECK(p.talks()[2].id == "lunch-talk");
  CHECK(p.on_stage() == nullptr);
  REQUIRE(p.next());
  CHECK(p.next()->id == "keynote");
  CHECK(p.find("codecs")->planned_start.offset_minutes == 60);
  CHECK(p.find("nope") == nullptr);
}

TEST_CASE("start, end and next move the stage through the talks and record actual times") {
  Programme p = three_talks();
  MarkResult r = p.advance(1000);
  CHECK_FALSE(r.error);
  CHECK(r.started == "keynote");
  CHECK_FALSE(r.ended);
  CHECK(p.on_stage()->id == "keynote");
  CHECK(p.on_stage()->actual_start == 1000);
  CHECK(p.next()->id == "codecs");

  // Starting the talk on stage again changes nothing.
  r = p.start("keynote", 1100);
  CHECK_FALSE(r.error);
  CHECK(p.on_stage()->actual_start == 1000);

  // Starting another talk ends the one on stage first.
  r = p.start("lunch-talk", 2000);
  CHECK_FALSE(r.error);
  CHECK(r.ended == "keynote");
  CHECK(r.started == "lunch-talk");
  CHECK(p.find("keynote")->actual_end == 2000);
  CHECK(p.on_stage()->id == "lunch-talk");
  // The skipped talk is still to come.
  CHECK(p.next()->id == "codecs");

  r = p.end("lunch-talk", 2500);
  CHECK_FALSE(r.error);
  CHECK(r.ended == "lunch-talk");
  CHECK(p.on_stage() == nullptr);
  CHECK(p.find("lunch-talk")->actual_end == 2500);

  r = p.advance(3000);
  CHECK(r.started == "codecs");
  r = p.advance(4000);
  CHECK(r.error == MarkError::nothing_next);
  CHECK(p.on_stage()->id == "codecs");  // a refused mark changes nothing
}

TEST_CASE("marks that cannot apply are refused with a reason") {
  Programme p = three_talks();
  CHECK(p.start("missing", 1).error == MarkError::unknown_talk);
  CHECK(p.end("missing", 1).error == MarkError::unknown_talk);
  CHECK(p.end("keynote", 1).error == MarkError::not_on_stage);
  p.start("keynote", 10);
  p.end("keynote", 20);
  const MarkResult again = p.start("keynote", 30);
  CHECK(again.error == MarkError::already_ended);
  CHECK(again.message == "talk 'keynote' has already ended");
  CHECK(p.on_stage() == nullptr);
  CHECK(p.find("keynote")->actual_end == 20);
}

TEST_CASE("an empty programme has nothing on stage and nothing next") {
  Programme p;
  CHECK(p.talks().empty());
  CHECK(p.next() == nullptr);
  CHECK(p.advance(1).error == MarkError::nothing_next);
}

TEST_CASE("a talk's plan changes under the config's rules and the order follows its start") {
  Programme p = three_talks();
  p.start("codecs", 100);
  TalkPatch later;
  later.start = relay::wall_time::parse_rfc3339("2027-03-10T14:00:00+01:00");
  later.end = relay::wall_time::parse_rfc3339("2027-03-10T15:00:00+01:00");
  later.title = "Codecs, revisited";
  CHECK_FALSE(p.update("codecs", later));
  CHECK(p.talks().back().id == "codecs");
  CHECK(p.talks().back().title == "Codecs, revisited");
  CHECK(p.on_stage()->id == "codecs");  // the stage follows the talk, not its old position

  TalkPatch overlap;
  overlap.start = relay::wall_time::parse_rfc3339("2027-03-10T09:30:00+01:00");
  overlap.end = relay::wall_time::parse_rfc3339("2027-03-10T09:45:00+01:00");
  CHECK(p.update("lunch-talk", overlap).value_or("") ==
        "the slot 2027-03-10T09:30:00+01:00 .. 2027-03-10T09:45:00+01:00 overlaps 'keynote' "
        "(2027-03-10T09:00:00+01:00 .. 2027-03-10T10:00:00+01:00)");
  TalkPatch backwards;
  backwards.end = relay::wall_time::parse_rfc3339("2027-03-10T12:00:00+01:00");
  CHECK(p.update("lunch-talk", backwards).value_or("").starts_with("end: "));
  TalkPatch empty_title;
  empty_title.title = "";
  CHECK(p.update("keynote", empty_title));
  TalkPatch bad_speaker;
  bad_speaker.speakers = std::vector<std::string>{"Ada\nLovelace"};
  CHECK(p.update("keynote", bad_speaker));
  CHECK(p.find("keynote")->title == "Opening keynote");  // refused changes change nothing
  CHECK(p.update("missing", empty_title));
}

TEST_CASE("marks read back after a restart restore the actual times and the talk on stage") {
  Programme p = three_talks();
  CHECK(p.restore_mark("keynote", 1000, std::nullopt));
  CHECK(p.restore_mark("keynote", std::nullopt, 2000));
  CHECK(p.restore_mark("codecs", 2100, std::nullopt));
  CHECK_FALSE(p.restore_mark("gone", 1, std::nullopt));
  CHECK(p.find("keynote")->actual_start == 1000);
  CHECK(p.find("keynote")->actual_end == 2000);
  REQUIRE(p.on_stage());
  CHECK(p.on_stage()->id == "codecs");
  CHECK(p.next()->id == "lunch-talk");
  // The moderator goes on from there as if the relay had never stopped.
  CHECK(p.start("keynote", 3000).error == MarkError::already_ended);  // ended talks cannot start again
  CHECK(p.end("codecs", 3000).ended == "codecs");
  CHECK_FALSE(p.on_stage());
}
