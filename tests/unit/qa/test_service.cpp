#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <sys/stat.h>

#include "common/log.hpp"
#include "qa/service.hpp"
#include "store_engines.hpp"

using namespace relay::qa;
using Catch::Matchers::Contains;

namespace {

const std::string kModerator = "moderator-token-0123456789";
const std::string kSpeaker = "speaker-token-0123456789ab";

struct TempDir {
  TempDir() {
    std::random_device random;
    path = std::filesystem::temp_directory_path() / ("relay-qa-test-" + std::to_string(random()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path path;
};

// A service on a temp database with a clock the test moves: SQLite, or a fresh
// PostgreSQL schema when RELAY_TEST_POSTGRES names a server (ctest unit_qa_postgres
// runs every case below on it; the few about the SQLite file say so and return).
struct Fixture {
  Fixture() {
    config.data_dir = dir.path;
    if (relay::qa::testing::postgres_available()) {
      schema = std::make_unique<relay::qa::testing::PostgresTestSchema>();
      config.database = schema->uri;
      config.database_password = relay::qa::testing::postgres_test_password();
    }
    config.moderator_tokens = {kModerator};
    config.speaker_tokens = {kSpeaker};
    config.word_list = {"badword"};
    config.questions_per_minute = 60;
    config.question_burst = 100;
    relay::log::set_level("warn");
    open();
  }
  void open() {
    service.reset();
    service = std::make_unique<Service>(config, [this] { return now; });
  }
  Caller attendee(const std::string& name = "") {
    auto json = service->create_attendee(name, "127.0.0.1");
    return service->authenticate(json["token"].get<std::string>());
  }
  int64_t ask(const Caller& caller, const std::string& text) {
    return service->ask(caller, room(), text, std::nullopt)["id"].get<int64_t>();
  }
  int64_t room() const { return service->current_room(); }
  State state(int64_t id) const { return service->question(id)->state; }
  Json moderate(int64_t id, Action action, std::optional<std::string> text = std::nullopt) {
    return service->moderate(moderator, id, action, text);
  }

  bool postgres() const { return schema != nullptr; }

  TempDir dir;
  std::unique_ptr<relay::qa::testing::PostgresTestSchema> schema;
  relay::config::QaConfig config;
  int64_t now = 1'700'000'000'000;
  std::unique_ptr<Service> service;
  Caller moderator{Role::moderator, 0};
};

// Runs `f` and returns the Error it throws.
template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("expected a qa::Error");
  throw std::logic_error("unreachable");
}

// Collects what a subscriber is sent.
struct Recorder : Subscriber {
  explicit Recorder(Caller caller) : caller(caller) {}
  void deliver(const EventPtr& event) override {
    if (const Message& m = event->for_caller(caller)) messages.push_back(Json::parse(*m));
    seqs.push_back(event->seq);
  }
  Caller caller;
  std::vector<Json> messages;
  std::vector<uint64_t> seqs;
};

}  // namespace

TEST_CASE("tokens give roles; unknown and empty ones are refused", "[qa][auth]") {
  Fixture f;
  CHECK(f.service->authenticate(kModerator).role == Role::moderator);
  CHECK(f.service->authenticate(kSpeaker).role == Role::speaker);
  Caller a = f.attendee("Ann");
  CHECK(a.role == Role::attendee);
  CHECK(a.attendee > 0);
  CHECK(error_of([&] { f.service->authenticate(""); }).code == Error::Code::unauthorized);
  CHECK(error_of([&] { f.service->authenticate(kModerator + "x"); }).code == Error::Code::unauthorized);
}

TEST_CASE("a fresh install has one room, titled from config, that is current", "[qa][rooms]") {
  Fixture f;
  Json rooms = f.service->rooms();
  REQUIRE(rooms["rooms"].size() == 1);
  CHECK(rooms["rooms"][0]["title"] == "Q&A");
  CHECK(rooms["current_room"] == rooms["rooms"][0]["id"]);
}

TEST_CASE("the question state machine", "[qa][states]") {
  Fixture f;
  Caller a = f.attendee();
  int64_t q = f.ask(a, "What about latency?");
  CHECK(f.state(q) == State::pending);

  SECTION("approve, star, stage, answer, reopen") {
    f.moderate(q, Action::approve);
    CHECK(f.state(q) == State::approved);
    f.moderate(q, Action::approve);  // the same state again is a no-op, not an error
    f.moderate(q, Action::star);
    CHECK(f.state(q) == State::starred);
    f.moderate(q, Action::stage);
    CHECK(f.state(q) == State::on_stage);
    f.moderate(q, Action::answer, "About two seconds.");
    CHECK(f.state(q) == State::answered);
    CHECK(f.service->question(q)->answer == "About two seconds.");
    f.moderate(q, Action::reopen);
    CHECK(f.state(q) == State::approved);
  }
  SECTION("only one question per room is on stage") {
    int64_t q2 = f.ask(a, "Second question");
    f.moderate(q, Action::approve);
    f.moderate(q2, Action::approve);
    f.moderate(q, Action::stage);
    f.moderate(q2, Action::stage);
    CHECK(f.state(q2) == State::on_stage);
    CHECK(f.state(q) == State::answered);
  }
  SECTION("impossible transitions are conflicts") {
    CHECK(error_of([&] { f.moderate(q, Action::star); }).code == Error::Code::conflict);
    CHECK(error_of([&] { f.moderate(q, Action::stage); }).code == Error::Code::conflict);
    CHECK(error_of([&] { f.moderate(q, Action::answer); }).code == Error::Code::conflict);
    CHECK(error_of([&] { f.moderate(q, Action::reopen); }).code == Error::Code::conflict);
    f.moderate(q, Action::reject);
    CHECK(f.state(q) == State::rejected);
    CHECK(error_of([&] { f.moderate(q, Action::approve); }).code == Error::Code::conflict);
    f.moderate(q, Action::reopen);
    CHECK(f.state(q) == State::pending);
  }
  SECTION("hide works from any state; edit keeps the original") {
    f.moderate(q, Action::edit, "What about the latency of LL-HLS?");
    f.moderate(q, Action::edit, "Latency of LL-HLS?");
    auto question = *f.service->question(q);
    CHECK(question.text == "Latency of LL-HLS?");
    CHECK(question.original_text == "What about latency?");
    f.moderate(q, Action::hide);
    CHECK(f.state(q) == State::hidden);
  }
  SECTION("moderation needs a moderator") {
    Caller speaker = f.service->authenticate(kSpeaker);
    CHECK(error_of([&] { f.service->moderate(a, q, Action::approve, std::nullopt); }).code == Error::Code::forbidden);
    CHECK(error_of([&] { f.service->moderate(speaker, q, Action::approve, std::nullopt); }).code ==
          Error::Code::forbidden);
    CHECK(error_of([&] { f.moderate(9999, Action::approve); }).code == Error::Code::not_found);
  }
}

TEST_CASE("what each caller sees", "[qa][visibility]") {
  Fixture f;
  Caller ann = f.attendee("Ann"), bob = f.attendee("Bob");
  int64_t q = f.ask(ann, "Ann's question");
  auto ids = [&](const Caller& c) {
    std::vector<int64_t> out;
    const Json listed = f.service->questions(c, f.room());
    for (const auto& item : listed["items"]) out.push_back(item["id"]);
    return out;
  };
  CHECK(ids(ann) == std::vector<int64_t>{q});  // the author sees their pending question
  CHECK(f.service->questions(ann, f.room())["items"][0]["state"] == "pending");
  CHECK(f.service->questions(ann, f.room())["items"][0]["own"] == true);
  CHECK(ids(bob).empty());
  CHECK(ids(f.moderator) == std::vector<int64_t>{q});
  f.moderate(q, Action::approve);
  CHECK(ids(bob) == std::vector<int64_t>{q});
  CHECK_FALSE(f.service->questions(bob, f.room())["items"][0].contains("author"));  // staff-only field
}

TEST_CASE("votes: one per attendee, idempotent, unvote, approved questions only", "[qa][votes]") {
  Fixture f;
  Caller ann = f.attendee(), bob = f.attendee();
  int64_t q = f.ask(ann, "Votable?");
  CHECK(error_of([&] { f.service->vote(bob, q, true); }).code == Error::Code::not_found);  // bob cannot see it yet
  CHECK(error_of([&] { f.service->vote(ann, q, true); }).code == Error::Code::conflict);   // pending
  f.moderate(q, Action::approve);
  CHECK(f.service->vote(bob, q, true)["votes"] == 1);
  CHECK(f.service->vote(bob, q, true)["votes"] == 1);  // again: still one
  CHECK(f.service->vote(ann, q, true)["votes"] == 2);
  CHECK(f.service->vote(bob, q, false)["votes"] == 1);
  CHECK(f.service->vote(bob, q, false)["votes"] == 1);
  CHECK(error_of([&] { f.service->vote(f.moderator, q, true); }).code == Error::Code::forbidden);
  f.moderate(q, Action::answer);
  CHECK(error_of([&] { f.service->vote(bob, q, true); }).code == Error::Code::conflict);
  CHECK(f.service->vote(ann, q, false)["votes"] == 0);  // unvoting stays possible
}

TEST_CASE("vote counts are coalesced into one event per flush", "[qa][votes][events]") {
  Fixture f;
  Caller ann = f.attendee();
  int64_t q = f.ask(ann, "Coalesce me");
  f.moderate(q, Action::approve);
  Recorder rec{Caller{Role::attendee, 0}};
  f.service->subscribe(f.room(), rec.caller, &rec, std::nullopt, "");
  std::vector<Caller> voters;
  for (int i = 0; i < 20; ++i) f.service->vote(f.attendee(), q, true);
  CHECK(rec.seqs.empty());
  f.service->flush_votes();
  REQUIRE(rec.messages.size() == 1);
  CHECK(rec.messages[0]["type"] == "votes");
  CHECK(rec.messages[0]["votes"][0]["votes"] == 20);
  f.service->flush_votes();  // nothing new: nothing sent
  CHECK(rec.messages.size() == 1);
  f.service->unsubscribe(f.room(), &rec);
}

TEST_CASE("length, emptiness and UTF-8 of questions", "[qa][utf8]") {
  Fixture f;
  f.config.max_question_chars = 10;
  f.open();
  Caller a = f.attendee();
  CHECK(f.ask(a, "Grüße äöü!") > 0);  // 10 code points, 15 bytes
  Error e = error_of([&] { f.ask(a, "Grüße äöü!!"); });
  CHECK(e.code == Error::Code::unprocessable);
  CHECK(e.reason == "too_long");
  CHECK_THAT(e.what(), Contains("11 characters, at most 10"));
  CHECK(error_of([&] { f.ask(a, "   "); }).reason == "empty");
  CHECK(error_of([&] { f.ask(a, "bad \xff byte"); }).reason == "invalid_text");
  CHECK(error_of([&] { f.service->create_attendee(std::string(41, 'x'), "1.2.3.4"); }).reason == "too_long");
}

TEST_CASE("rate limit and slow mode; moderators are exempt", "[qa][rate]") {
  Fixture f;
  f.config.questions_per_minute = 2;
  f.config.question_burst = 2;
  f.open();
  Caller a = f.attendee();
  f.ask(a, "one");
  f.ask(a, "two");
  Error e = error_of([&] { f.ask(a, "three"); });
  CHECK(e.code == Error::Code::rate_limited);
  CHECK(e.retry_after_s == 30);
  f.now += 30'000;
  f.ask(a, "three");
  for (int i = 0; i < 5; ++i) f.ask(f.moderator, "staff " + std::to_string(i));

  RoomPatch slow;
  slow.slow_mode_s = 60;
  f.service->update_room(f.moderator, f.room(), slow);
  f.now += 120'000;
  Caller b = f.attendee();
  f.ask(b, "first");
  e = error_of([&] { f.ask(b, "second"); });
  CHECK(e.reason == "slow_mode");
  CHECK(e.retry_after_s == 60);
  f.now += 60'000;
  f.ask(b, "second");
  f.ask(f.moderator, "still fine");
}

TEST_CASE("closed rooms refuse attendee questions", "[qa][rooms]") {
  Fixture f;
  RoomPatch closed;
  closed.open = false;
  f.service->update_room(f.moderator, f.room(), closed);
  Caller a = f.attendee();
  CHECK(error_of([&] { f.ask(a, "hello?"); }).code == Error::Code::conflict);
}

TEST_CASE("word list hits are held for review, even with auto-approve", "[qa][filter]") {
  Fixture f;
  RoomPatch patch;
  patch.auto_approve = true;
  f.service->update_room(f.moderator, f.room(), patch);
  Caller a = f.attendee();
  int64_t clean = f.ask(a, "A clean question");
  int64_t dirty = f.ask(a, "This has a BadWord in it");
  CHECK(f.state(clean) == State::approved);
  CHECK(f.state(dirty) == State::pending);
  CHECK(f.service->question(dirty)->held);
  f.moderate(dirty, Action::approve);
  CHECK_FALSE(f.service->question(dirty)->held);
}

TEST_CASE("pending questions are counted per room until a moderator decides", "[qa][pending]") {
  Fixture f;
  const int64_t first = f.room();
  RoomPatch titled;
  titled.title = "Workshop B";
  const int64_t second = f.service->create_room(f.moderator, titled)["id"].get<int64_t>();
  CHECK(f.service->pending_questions() == std::map<int64_t, uint64_t>{{first, 0}, {second, 0}});
  Caller a = f.attendee();
  int64_t one = f.ask(a, "First question");
  int64_t two = f.ask(a, "Second question");
  f.ask(a, "Third question");
  CHECK(f.service->pending_questions() == std::map<int64_t, uint64_t>{{first, 3}, {second, 0}});
  f.moderate(one, Action::approve);
  f.moderate(two, Action::reject);
  CHECK(f.service->pending_questions() == std::map<int64_t, uint64_t>{{first, 1}, {second, 0}});
  f.moderate(two, Action::reopen);
  CHECK(f.service->pending_questions().at(first) == 2);
}

TEST_CASE("timeout and ban", "[qa][ban]") {
  Fixture f;
  Caller a = f.attendee(), b = f.attendee();
  int64_t pending = f.ask(a, "pending one");
  int64_t approved = f.ask(a, "approved one");
  f.moderate(approved, Action::approve);

  CHECK(error_of([&] { f.service->timeout(b, a.attendee, 60); }).code == Error::Code::forbidden);
  f.service->timeout(f.moderator, a.attendee, 60);
  Error e = error_of([&] { f.ask(a, "during timeout"); });
  CHECK(e.reason == "timed_out");
  CHECK(error_of([&] { f.service->vote(a, approved, true); }).reason == "timed_out");
  f.now += 61'000;
  f.ask(a, "after timeout");

  Json result = f.service->ban(f.moderator, a.attendee, true);
  CHECK(result["hidden"] == 2);  // "pending one" and "after timeout"
  CHECK(f.state(pending) == State::hidden);
  CHECK(f.state(approved) == State::approved);  // published questions stay
  CHECK(error_of([&] { f.ask(a, "banned"); }).reason == "banned");
  f.service->ban(f.moderator, a.attendee, false);
  f.ask(a, "unbanned");
  CHECK(error_of([&] { f.service->ban(f.moderator, 9999, true); }).code == Error::Code::not_found);
}

TEST_CASE("events: ordered seq, audiences, resume and snapshot", "[qa][events]") {
  Fixture f;
  Caller ann = f.attendee(), bob = f.attendee();
  Recorder staff{f.moderator}, author{ann}, other{bob};
  for (Recorder* r : {&staff, &author, &other}) {
    Join join = f.service->subscribe(f.room(), r->caller, r, std::nullopt, "");
    REQUIRE(join.messages.size() == 1);
    CHECK(Json::parse(*join.messages[0])["type"] == "snapshot");
  }
  int64_t q = f.ask(ann, "Events?");
  CHECK(staff.messages.size() == 1);
  CHECK(author.messages.size() == 1);
  CHECK(author.messages[0]["question"]["state"] == "pending");
  CHECK(author.messages[0]["question"]["own"] == true);
  CHECK(other.messages.empty());  // a pending question is not for other attendees
  f.moderate(q, Action::approve);
  CHECK(other.messages.size() == 1);
  CHECK(other.messages[0]["question"]["state"] == "approved");
  f.moderate(q, Action::hide);
  CHECK(other.messages.back()["type"] == "question_removed");
  // The log's numbers: one after the other, the last one what the relay applied.
  REQUIRE(staff.seqs.size() == 3);
  CHECK(staff.seqs[1] == staff.seqs[0] + 1);
  CHECK(staff.seqs[2] == staff.seqs[1] + 1);
  CHECK(f.service->applied_seq() == staff.seqs[2]);
  for (const Json& m : staff.messages) CHECK(m["time"] == f.now);

  // Resume: the events after since, exactly once.
  Recorder late{bob};
  Join resumed = f.service->subscribe(f.room(), bob, &late, staff.seqs[0], f.service->epoch());
  CHECK(resumed.resumed);
  REQUIRE(resumed.messages.size() == 3);  // "resumed", approve (public), hide (removed)
  CHECK(Json::parse(*resumed.messages[0])["type"] == "resumed");
  CHECK(Json::parse(*resumed.messages[1])["seq"] == staff.seqs[1]);
  CHECK(Json::parse(*resumed.messages[2])["seq"] == staff.seqs[2]);
  // Another epoch, or a seq from the future: a snapshot.
  Recorder stranger{bob};
  CHECK_FALSE(f.service->subscribe(f.room(), bob, &stranger, staff.seqs[0], "0000000000000000").resumed);
  Recorder future{bob};
  CHECK_FALSE(f.service->subscribe(f.room(), bob, &future, staff.seqs[2] + 50, "").resumed);
  for (Recorder* r : {&staff, &author, &other, &late, &stranger, &future}) f.service->unsubscribe(f.room(), r);
  CHECK(f.service->subscriber_count() == 0);
}

TEST_CASE("a resume too far back gets a snapshot", "[qa][events]") {
  Fixture f;
  f.config.ws_resume_events = 16;
  f.open();
  Caller a = f.attendee();
  const uint64_t first = f.service->applied_seq();
  for (int i = 0; i < 20; ++i) f.ask(f.moderator, "q" + std::to_string(i));
  // The room keeps the last 16 of the 20: first+5 .. first+20.
  Recorder r{a};
  CHECK_FALSE(f.service->subscribe(f.room(), a, &r, first + 2, "").resumed);
  Recorder s{f.moderator};  // the questions are pending: for staff only
  Join join = f.service->subscribe(f.room(), f.moderator, &s, first + 4, "");
  CHECK(join.resumed);
  CHECK(join.messages.size() == 17);
  f.service->unsubscribe(f.room(), &r);
  f.service->unsubscribe(f.room(), &s);
}

TEST_CASE("everything survives a restart", "[qa][persistence]") {
  Fixture f;
  Caller ann = f.attendee("Ann"), bob = f.attendee("Bob");
  const std::string ann_token = f.service->create_attendee("Ann2", "x")["token"];
  int64_t q1 = f.ask(ann, "First, then edited");
  int64_t q2 = f.ask(bob, "Second");
  f.moderate(q1, Action::edit, "First");
  f.moderate(q1, Action::approve);
  f.moderate(q2, Action::approve);
  f.moderate(q2, Action::stage);
  f.service->vote(bob, q1, true);
  f.service->vote(ann, q1, true);
  f.service->ban(f.moderator, bob.attendee, true);
  RoomPatch patch;
  patch.title = "Keynote";
  Json second = f.service->create_room(f.moderator, patch);
  f.service->set_current_room(f.moderator, second["id"]);
  f.service->flush_votes();
  const uint64_t seq = f.service->applied_seq();
  const std::string epoch = f.service->epoch();

  f.open();  // a new process on the same file
  // The log goes on: a page that saw everything resumes with nothing missed.
  CHECK(f.service->epoch() == epoch);
  CHECK(f.service->applied_seq() == seq);
  Recorder page{f.moderator};
  CHECK(f.service->subscribe(f.room(), f.moderator, &page, seq, epoch).resumed);
  f.service->unsubscribe(f.room(), &page);
  CHECK(f.service->current_room() == second["id"]);
  CHECK(f.service->room(second["id"])->title == "Keynote");
  auto restored = *f.service->question(q1);
  CHECK(restored.text == "First");
  CHECK(restored.original_text == "First, then edited");
  CHECK(restored.state == State::approved);
  CHECK(restored.votes == 2);
  CHECK(f.state(q2) == State::on_stage);
  CHECK(f.service->authenticate(ann_token).role == Role::attendee);
  CHECK(f.service->vote(ann, q1, true)["voted"] == true);  // still counted once
  CHECK(f.service->vote(ann, q1, true)["votes"] == 2);
  CHECK(error_of([&] { f.ask(bob, "still banned"); }).reason == "banned");
  // New ids continue after the old ones.
  Caller carl = f.attendee("Carl");
  CHECK(carl.attendee > bob.attendee);
  CHECK(f.service->ask(carl, 1, "Third", std::nullopt)["id"] == q2 + 1);
}

TEST_CASE("export is CSV with formulas defused", "[qa][export]") {
  Fixture f;
  Caller a = f.attendee("=cmd");
  f.ask(a, "Is \"this\" quoted?");
  std::string csv = f.service->export_csv(f.moderator, f.room());
  CHECK_THAT(csv, Contains("id,state,votes,created,author_name,text,original_text,answer\r\n"));
  CHECK_THAT(csv, Contains("\"'=cmd\""));
  CHECK_THAT(csv, Contains("\"Is \"\"this\"\" quoted?\""));
  CHECK(error_of([&] { f.service->export_csv(a, f.room()); }).code == Error::Code::forbidden);
}

TEST_CASE("toggling a vote in a loop is rate limited", "[qa][votes][rate]") {
  Fixture f;
  Caller a = f.attendee();
  int64_t q = f.ask(f.moderator, "Vote on me");
  f.moderate(q, Action::approve);
  int changes = 0;
  try {
    for (; changes < 1000; ++changes) f.service->vote(a, q, changes % 2 == 0);
  } catch (const Error& e) {
    CHECK(e.code == Error::Code::rate_limited);
  }
  CHECK(changes == 60);
  // Asking for what is already so is free: it writes nothing.
  const bool voted = f.service->question(q)->votes == 1;
  CHECK(f.service->vote(a, q, voted)["voted"] == voted);
  f.now += 1000;  // two more changes per second
  f.service->vote(a, q, !voted);
}

TEST_CASE("one data folder serves one relay at a time", "[qa][persistence]") {
  Fixture f;
  if (f.postgres()) return;  // about the SQLite file
  try {
    Service second(f.config, [] { return int64_t{0}; });
    FAIL("a second service on the same folder must be refused");
  } catch (const StoreError& e) {
    CHECK_THAT(e.what(), Contains("is in use by another running relay"));
  }
  f.service.reset();
  Service again(f.config, [] { return int64_t{0}; });  // free again once the first is gone
  CHECK(again.rooms()["rooms"].size() == 1);
}

TEST_CASE("the word list can come from a file", "[qa][filter]") {
  Fixture f;
  std::ofstream(f.dir.path / "words.txt") << "# one per line\n\n  Flamewar  \nrant*\n";
  f.config.word_list_file = f.dir.path / "words.txt";
  f.open();
  Caller a = f.attendee();
  CHECK(f.service->question(f.ask(a, "no FLAMEWAR please"))->held);
  CHECK(f.service->question(f.ask(a, "what a ranting"))->held);
  CHECK(f.service->question(f.ask(a, "badword from config"))->held);
  CHECK_FALSE(f.service->question(f.ask(a, "one per line"))->held);  // comments are not words
  f.config.word_list_file = f.dir.path / "missing.txt";
  f.service.reset();
  CHECK_THROWS_WITH(f.open(), Contains("cannot read qa.word_list_file"));
}

TEST_CASE("readers do not wait for a write's commit", "[qa][service]") {
  Fixture f;
  if (f.postgres()) return;  // about the SQLite file
  Caller ann = f.attendee("Ann");
  // Another connection holds the database's write lock: the next write waits in
  // its transaction (SQLite's busy timeout) until the lock goes.
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((f.dir.path / "qa.sqlite3").string().c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  std::atomic<bool> asked{false}, failed{false};
  std::thread writer([&] {
    try {
      f.ask(ann, "Asked while the database is locked?");
      asked = true;
    } catch (const std::exception&) {
      failed = true;  // the busy timeout ran out: the readers were held up past it
    }
  });
  // The writer is inside its transaction once the room's state mutex is free
  // again but the question is not there yet; readers meanwhile get answers.
  bool read_during_commit = false;
  for (int i = 0; i < 200 && !asked; ++i) {
    CHECK(f.service->rooms()["rooms"].size() == 1);
    CHECK(f.service->authenticate(kModerator).role == Role::moderator);
    CHECK(f.service->questions(f.moderator, f.room())["items"].empty());
    read_during_commit = !asked;
    if (read_during_commit && i > 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(read_during_commit);
  CHECK_FALSE(asked);  // the write still waits for the lock
  REQUIRE(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  writer.join();
  CHECK_FALSE(failed);
  CHECK(asked);
  // Applied after its commit, and only then visible.
  CHECK(f.service->questions(f.moderator, f.room())["items"].size() == 1);
}

TEST_CASE("new identities: per network, in all, and up to qa.max_attendees", "[qa][identity]") {
  Fixture f;
  f.config.attendee_burst = 2;
  f.config.attendees_per_minute = 1;
  f.config.identities_per_minute_global = 4;
  f.config.max_attendees = 6;
  f.open();
  auto mint = [&](const std::string& client) { return f.service->create_attendee("", client); };
  mint("2001:db8::1");
  mint("2001:db8::2");
  Error e = error_of([&] { mint("2001:db8::ffff:3"); });  // the same /64
  CHECK(e.reason == "rate_limited");
  CHECK(e.retry_after_s > 0);
  mint("198.51.100.1");
  mint("198.51.100.2");
  // Four in this minute, from three networks: the global cap.
  e = error_of([&] { mint("198.51.100.3"); });
  CHECK(e.code == Error::Code::rate_limited);
  CHECK_THAT(e.what(), Contains("right now"));
  f.now += 60'000;
  mint("198.51.100.3");
  mint("198.51.100.4");
  // Six attendees: full, whatever the network.
  e = error_of([&] { mint("198.51.100.5"); });
  CHECK(e.code == Error::Code::rate_limited);
  CHECK(e.reason == "too_many_attendees");
  CHECK(e.retry_after_s > 0);
}

TEST_CASE("a room holds at most qa.max_questions_per_room questions", "[qa][rooms]") {
  Fixture f;
  f.config.max_questions_per_room = 2;
  f.open();
  Caller a = f.attendee();
  f.ask(a, "one");
  f.ask(a, "two");
  Error e = error_of([&] { f.ask(a, "three"); });
  CHECK(e.code == Error::Code::conflict);
  CHECK(e.reason == "room_full");
  CHECK(error_of([&] { f.service->ask(f.moderator, f.room(), "staff too", std::nullopt); }).reason == "room_full");
  RoomPatch patch;
  patch.title = "Another talk";
  const int64_t other = f.service->create_room(f.moderator, patch)["id"];
  CHECK(f.service->ask(a, other, "elsewhere", std::nullopt)["room"] == other);
}

TEST_CASE("listings and exports read only their room", "[qa][rooms]") {
  Fixture f;
  Caller a = f.attendee();
  RoomPatch patch;
  patch.title = "Second talk";
  const int64_t second = f.service->create_room(f.moderator, patch)["id"];
  const int64_t first_q = f.ask(a, "in the first room");
  const int64_t second_q = f.service->ask(a, second, "in the second room", std::nullopt)["id"];
  f.moderate(first_q, Action::approve);
  f.moderate(second_q, Action::approve);
  f.moderate(first_q, Action::stage);
  f.moderate(second_q, Action::stage);  // one on stage per room: the first stays
  CHECK(f.state(first_q) == State::on_stage);
  Json items = f.service->questions(f.moderator, second)["items"];
  REQUIRE(items.size() == 1);
  CHECK(items[0]["id"] == second_q);
  CHECK_THAT(f.service->export_csv(f.moderator, second), !Contains("in the first room"));
  f.open();  // restored per room
  items = f.service->questions(f.moderator, f.room())["items"];
  REQUIRE(items.size() == 1);
  CHECK(items[0]["id"] == first_q);
}

TEST_CASE("a viewer without a token reads the public questions only", "[qa][visibility]") {
  Fixture f;
  Caller a = f.attendee();
  const int64_t pending = f.ask(a, "pending");
  const int64_t approved = f.ask(a, "approved");
  f.moderate(approved, Action::approve);
  const int64_t staff_q = f.service->ask(f.moderator, f.room(), "typed in by staff", std::nullopt)["id"];
  f.moderate(staff_q, Action::approve);
  const Caller viewer{Role::viewer, 0};
  Json items = f.service->questions(viewer, f.room())["items"];
  REQUIRE(items.size() == 2);
  for (const Json& item : items) {
    CHECK(item["id"] != pending);
    CHECK_FALSE(item.contains("own"));  // not even the staff's question (author 0)
    CHECK_FALSE(item.contains("author"));
  }
  CHECK(error_of([&] { f.service->ask(viewer, f.room(), "no", std::nullopt); }).code == Error::Code::forbidden);
  CHECK(error_of([&] { f.service->vote(viewer, approved, true); }).code == Error::Code::forbidden);
}

namespace {
// A subscriber that also notes when it is told its attendee was banned.
struct BanRecorder : Recorder {
  using Recorder::Recorder;
  void banned() override { ++bans; }
  int bans = 0;
};
}  // namespace

TEST_CASE("a ban ends the banned attendee's feeds, in every room", "[qa][ban]") {
  Fixture f;
  Caller ann = f.attendee(), bob = f.attendee();
  RoomPatch patch;
  patch.title = "Second talk";
  const int64_t second = f.service->create_room(f.moderator, patch)["id"];
  BanRecorder ann_here(ann), ann_there(ann), bob_here(bob), viewer({Role::viewer, 0});
  f.service->subscribe(f.room(), ann, &ann_here, std::nullopt, "");
  f.service->subscribe(second, ann, &ann_there, std::nullopt, "");
  f.service->subscribe(f.room(), bob, &bob_here, std::nullopt, "");
  f.service->subscribe(f.room(), {Role::viewer, 0}, &viewer, std::nullopt, "");
  f.service->ban(f.moderator, ann.attendee, true);
  CHECK(ann_here.bans == 1);
  CHECK(ann_there.bans == 1);
  CHECK(bob_here.bans == 0);
  CHECK(viewer.bans == 0);
  CHECK(f.service->is_banned(ann));
  CHECK_FALSE(f.service->is_banned(bob));
  f.service->ban(f.moderator, ann.attendee, false);
  CHECK(ann_here.bans == 1);  // unbanning closes nothing
  for (auto* r : {&ann_here, &ann_there, &bob_here, &viewer})
    f.service->unsubscribe(r == &ann_there ? second : f.room(), r);
}

TEST_CASE("a network ban: the attendee's network, for a day or until unbanned", "[qa][ban][identity]") {
  Fixture f;
  Caller ann = f.attendee();  // minted from 127.0.0.1
  Caller bob = f.attendee();
  const int64_t q = f.ask(bob, "a question");
  f.moderate(q, Action::approve);
  f.service->ask(ann, f.room(), "seen from here", std::nullopt, "2001:db8:5:5::1");
  Json result = f.service->ban(f.moderator, ann.attendee, true, true);
  CHECK(result["network"] == true);
  CHECK(result["network_until"] == f.now + int64_t{Service::kNetworkBanS} * 1000);
  // Ann was last seen from 2001:db8:5:5::/64; 127.0.0.1 is not banned.
  CHECK(error_of([&] { f.service->create_attendee("", "2001:db8:5:5:9::9"); }).reason == "banned");
  f.service->create_attendee("", "127.0.0.1");
  CHECK(error_of([&] { f.service->vote(bob, q, true, "2001:db8:5:5::2"); }).reason == "banned");
  CHECK(f.service->vote(bob, q, true, "203.0.113.9")["voted"] == true);
  f.service->ask(f.moderator, f.room(), "staff are not held by network bans", std::nullopt, "2001:db8:5:5::3");
  // It lapses after a day.
  f.now += int64_t{Service::kNetworkBanS} * 1000 + 1;
  f.service->create_attendee("", "2001:db8:5:5::4");

  // A network nobody has seen since the start is not known, so not banned.
  Caller carl = f.attendee();
  f.open();
  CHECK(f.service->ban(f.moderator, carl.attendee, true, true)["network"] == false);
}

TEST_CASE("an attendee deletes their own question: gone from the database, removed live", "[qa][delete]") {
  Fixture f;
  Caller ann = f.attendee(), bob = f.attendee();
  const int64_t q = f.service->ask(ann, f.room(), "Please forget this", std::nullopt, "", "key-forget")["id"];
  const int64_t kept = f.ask(ann, "Keep this one");
  f.moderate(q, Action::approve);
  f.service->vote(bob, q, true);
  Recorder watcher(bob), staff(f.moderator);
  f.service->subscribe(f.room(), bob, &watcher, std::nullopt, "");
  f.service->subscribe(f.room(), f.moderator, &staff, std::nullopt, "");

  CHECK(error_of([&] { f.service->delete_question(bob, q); }).reason == "not_author");
  CHECK(error_of([&] { f.service->delete_question(f.moderator, q); }).code == Error::Code::forbidden);
  CHECK(error_of([&] { f.service->delete_question(bob, kept); }).code == Error::Code::not_found);  // pending, not his
  CHECK(f.service->delete_question(ann, q) == Json{{"id", q}, {"deleted", true}});
  CHECK_FALSE(f.service->question(q));
  CHECK(error_of([&] { f.service->delete_question(ann, q); }).code == Error::Code::not_found);
  for (Recorder* r : {&watcher, &staff}) {
    REQUIRE(r->messages.size() == 1);
    CHECK(r->messages[0]["type"] == "question_removed");
    CHECK(r->messages[0]["id"] == q);
  }
  f.service->unsubscribe(f.room(), &watcher);
  f.service->unsubscribe(f.room(), &staff);
  if (f.postgres()) return;  // the rest reads the SQLite file

  f.service.reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2((f.dir.path / "qa.sqlite3").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto count = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    const int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
  };
  CHECK(count("SELECT COUNT(*) FROM questions WHERE text LIKE '%forget%'") == 0);
  // Nor in the log, nor in a kept idempotent answer.
  CHECK(count("SELECT COUNT(*) FROM events WHERE staff || everyone || for_author || change LIKE '%forget%'") == 0);
  CHECK(count("SELECT COUNT(*) FROM events") > 0);
  CHECK(count("SELECT COUNT(*) FROM idempotency WHERE answer LIKE '%forget%'") == 0);
  CHECK(count("SELECT COUNT(*) FROM votes") == 0);
  CHECK(count("SELECT COUNT(*) FROM questions") == 1);
  sqlite3_close(db);
  f.open();
  CHECK_FALSE(f.service->question(q));
  CHECK(f.service->question(kept));
}

TEST_CASE("retention: old questions, votes and attendees are deleted, ids never reused", "[qa][retention]") {
  Fixture f;
  f.config.retention_days = 2;
  f.open();
  constexpr int64_t kDay = 24 * 3600 * 1000;
  Caller old_ann = f.attendee("Ann");
  const std::string old_token = f.service->create_attendee("Old", "10.1.1.1")["token"];
  const int64_t old_q = f.ask(old_ann, "asked long ago");
  f.moderate(old_q, Action::approve);
  f.now += kDay;
  Caller bob = f.attendee("Bob");
  const int64_t new_q = f.ask(bob, "asked yesterday");
  f.moderate(new_q, Action::approve);
  f.service->vote(bob, old_q, true);
  f.service->vote(old_ann, new_q, true);
  f.service->vote(bob, new_q, true);
  CHECK(f.service->purge_expired().questions == 0);  // nothing is two days old yet

  Recorder watcher({Role::viewer, 0});
  f.service->subscribe(f.room(), {Role::viewer, 0}, &watcher, std::nullopt, "");
  f.now += kDay + 1;
  const Store::Purged purged = f.service->purge_expired();
  CHECK(purged.questions == 1);
  CHECK(purged.attendees == 2);  // Ann and "Old"
  CHECK(purged.votes == 2);      // Bob's on the old question, Ann's on the new one
  CHECK_FALSE(f.service->question(old_q));
  CHECK(f.service->question(new_q)->votes == 1);
  CHECK(error_of([&] { f.service->authenticate(old_token); }).code == Error::Code::unauthorized);
  REQUIRE(watcher.messages.size() == 1);
  CHECK(watcher.messages[0]["type"] == "question_removed");
  CHECK(watcher.messages[0]["id"] == old_q);
  f.service->unsubscribe(f.room(), &watcher);

  // At start, too; and the ids of deleted rows are not handed out again.
  f.now += kDay;
  f.open();
  CHECK_FALSE(f.service->question(new_q));
  Caller carl = f.attendee("Carl");
  CHECK(carl.attendee > bob.attendee);
  CHECK(f.ask(carl, "a new question") > new_q);
  CHECK(f.service->questions(f.moderator, f.room())["items"].size() == 1);
}

TEST_CASE("retention_days = 0 keeps everything", "[qa][retention]") {
  Fixture f;
  f.config.retention_days = 0;
  f.open();
  const int64_t q = f.ask(f.attendee(), "kept");
  f.now += int64_t{3650} * 24 * 3600 * 1000;
  CHECK(f.service->purge_expired().questions == 0);
  f.open();
  CHECK(f.service->question(q));
}

TEST_CASE("the data folder is the owner's (0700), its files too (0600)", "[qa][privacy]") {
  Fixture f;
  if (f.postgres()) return;  // about the SQLite file
  f.service.reset();
  f.config.data_dir = f.dir.path / "fresh" / "qa";
  ::umask(022);
  f.open();
  namespace fs = std::filesystem;
  auto mode = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; };
  CHECK(mode(f.config.data_dir) == fs::perms::owner_all);
  for (const char* name : {"qa.sqlite3", "qa.sqlite3-wal", "qa.sqlite3-shm", "qa.sqlite3.lock"}) {
    INFO(name);
    REQUIRE(fs::exists(f.config.data_dir / name));
    CHECK(mode(f.config.data_dir / name) == (fs::perms::owner_read | fs::perms::owner_write));
  }
  // A database an older version left readable by all is narrowed.
  f.service.reset();
  fs::permissions(f.config.data_dir / "qa.sqlite3", fs::perms::all);
  f.open();
  CHECK(mode(f.config.data_dir / "qa.sqlite3") == (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("an ask or vote repeated with its idempotency key changes nothing", "[qa][idempotency]") {
  Fixture f;
  Caller ann = f.attendee("Ann"), bob = f.attendee("Bob");
  const Json first = f.service->ask(ann, f.room(), "Asked once?", std::nullopt, "127.0.0.1", "key-1");
  const Json again = f.service->ask(ann, f.room(), "Asked once?", std::nullopt, "127.0.0.1", "key-1");
  CHECK(again == first);
  CHECK(f.service->questions(f.moderator, f.room())["items"].size() == 1);
  // The key is the caller's: another attendee's same key is another question.
  const Json other = f.service->ask(bob, f.room(), "Asked once?", std::nullopt, "127.0.0.1", "key-1");
  CHECK(other["id"] != first["id"]);
  // A retry is answered even when the same request would now be refused.
  f.config.slow_mode_s = 0;
  RoomPatch slow;
  slow.slow_mode_s = 600;
  f.service->update_room(f.moderator, f.room(), slow);
  CHECK(f.service->ask(ann, f.room(), "Asked once?", std::nullopt, "127.0.0.1", "key-1") == first);

  const int64_t q = first["id"];
  f.moderate(q, Action::approve);
  CHECK(f.service->vote(bob, q, true, "", "v-1")["votes"] == 1);
  f.service->vote(bob, q, false);
  // The retry of the first vote gets the first answer and does not vote again.
  CHECK(f.service->vote(bob, q, true, "", "v-1")["votes"] == 1);
  CHECK(f.service->question(q)->votes == 0);

  for (const std::string bad : {std::string(65, 'k'), std::string("with space"), std::string("ümlaut")}) {
    INFO(bad);
    const Error e = error_of([&] { f.service->ask(ann, f.room(), "x", std::nullopt, "", bad); });
    CHECK(e.code == Error::Code::bad_request);
    CHECK(e.reason == "bad_idempotency_key");
  }
  // Kept across a restart (the database holds the answer).
  f.open();
  CHECK(f.service->ask(ann, f.room(), "Asked once?", std::nullopt, "127.0.0.1", "key-1") == first);
}

TEST_CASE("the log keeps the change of every write, so a relay can follow another", "[qa][log]") {
  Fixture f;
  if (f.postgres()) return;  // about the SQLite file
  Caller ann = f.attendee("Ann");
  const uint64_t before = f.service->applied_seq();
  const int64_t q = f.ask(ann, "Logged?");
  f.moderate(q, Action::approve);
  f.service->vote(f.attendee(), q, true);
  // What a second relay on the same database would read: every write since.
  const uint64_t after = f.service->applied_seq();
  CHECK(after == before + 4);
  f.service.reset();
  auto copy = open_sqlite_store((f.dir.path / "qa.sqlite3").string(), false);
  CHECK(copy->load().seq == after);
  auto events = copy->events_after(before, 100);
  REQUIRE(events);
  // The ask, the approval, the voter's new identity and the vote (no page is told of the last two).
  REQUIRE(events->size() == 4);
  for (size_t i = 0; i < events->size(); ++i) CHECK((*events)[i].seq == before + 1 + i);
  CHECK((*events)[0].room == 1);
  CHECK_THAT((*events)[0].change, Contains("Logged?"));
  CHECK_THAT((*events)[0].staff, Contains("\"pending\""));
  CHECK((*events)[0].everyone.empty());  // pending: not for other attendees
  CHECK((*events)[0].author == ann.attendee);
  CHECK_THAT((*events)[1].everyone, Contains("\"approved\""));
  CHECK((*events)[2].room == 0);
  CHECK_THAT((*events)[2].change, Contains("\"attendees\""));
  CHECK((*events)[3].room == 0);
  CHECK_THAT((*events)[3].change, Contains("\"votes\""));
  CHECK(copy->events_after(0, 100));  // from the first write on, nothing trimmed yet
  copy->trim_events(f.now + 1);
  CHECK_FALSE(copy->events_after(before, 100));  // trimmed: the follower must load everything again
}

// Two relays on one PostgreSQL database (ctest unit_qa_postgres).
struct TwoRelays {
  TwoRelays() {
    second.schema.reset();  // the first's database
    second.config.database = first.config.database;
    second.config.database_password = first.config.database_password;
    second.open();
  }
  Fixture first;
  Fixture second;
};

template <class Condition>
bool eventually(Condition&& condition, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A subscriber the follower thread delivers to while the test reads: locked,
// and unsubscribed when it goes (also when a REQUIRE ends the test early).
struct Page : Subscriber {
  Page(Service& service, Caller caller, std::optional<uint64_t> since = std::nullopt, const std::string& epoch = "")
      : service(service), caller(caller), room(service.current_room()) {
    Join join = service.subscribe(room, caller, this, since, epoch);
    resumed = join.resumed;
    std::lock_guard lock(mutex);
    for (const Message& m : join.messages) messages.push_back(Json::parse(*m));
  }
  ~Page() override { service.unsubscribe(room, this); }
  void deliver(const EventPtr& event) override {
    std::lock_guard lock(mutex);
    if (const Message& m = event->for_caller(caller)) messages.push_back(Json::parse(*m));
  }
  void banned() override { ended = true; }
  std::vector<Json> received() {
    std::lock_guard lock(mutex);
    return messages;
  }
  Service& service;
  Caller caller;
  int64_t room;
  bool resumed = false;
  std::atomic<bool> ended{false};
  std::mutex mutex;
  std::vector<Json> messages;
};

TEST_CASE("two relays on one database serve one Q&A", "[qa][shared]") {
  if (!relay::qa::testing::postgres_available()) return;  // PostgreSQL only
  TwoRelays relays;
  Service& a = *relays.first.service;
  Service& b = *relays.second.service;
  const Caller mod = relays.first.moderator;
  CHECK(a.epoch() == b.epoch());
  CHECK(a.rooms()["rooms"].size() == 1);  // both started on a fresh database: one first room
  CHECK(b.rooms()["rooms"].size() == 1);

  // An attendee made on A is known on B at once (tokens work on any relay).
  const Json made = a.create_attendee("Ann", "192.0.2.1");
  const Caller ann = b.authenticate(made["token"].get<std::string>());
  CHECK(ann.attendee == made["id"]);

  // B's page hears A's moderator, woken by the database, with A's numbers.
  Page page(b, Caller{Role::viewer, 0});
  const int64_t q = b.ask(ann, b.current_room(), "Asked on B", std::nullopt)["id"];
  a.moderate(mod, q, Action::approve, std::nullopt);  // A first applies B's ask (its write catches up)
  REQUIRE(eventually([&] { return page.received().size() == 2; }));  // the snapshot and the approval
  CHECK(page.received()[1]["question"]["state"] == "approved");
  CHECK(page.received()[1]["seq"] == a.applied_seq());
  CHECK(eventually([&] { return b.applied_seq() == a.applied_seq(); }));

  // A page that was on A resumes on B: exactly what it missed, once.
  const uint64_t seen = a.applied_seq();
  a.moderate(mod, q, Action::stage, std::nullopt);
  {
    Page resumed(b, mod, seen, a.epoch());
    CHECK(resumed.resumed);
    REQUIRE(eventually([&] { return resumed.received().size() == 2; }));  // "resumed" and the staging
    const std::vector<Json> got = resumed.received();
    CHECK(got[0]["type"] == "resumed");
    CHECK(got[1]["question"]["state"] == "on_stage");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(resumed.received().size() == 2);
  }

  // Limits hold across the relays: a slow mode set on A holds for an ask on B
  // right after an ask on A.
  RoomPatch slow;
  slow.slow_mode_s = 60;
  a.update_room(mod, a.current_room(), slow);
  const Caller bob = a.authenticate(a.create_attendee("Bob", "192.0.2.2")["token"].get<std::string>());
  a.ask(bob, a.current_room(), "First", std::nullopt);
  CHECK(error_of([&] { b.ask(bob, b.current_room(), "Too soon", std::nullopt); }).reason == "slow_mode");

  // An ask retried on the other relay with its key is the same question.
  const Json once = a.ask(mod, a.current_room(), "Retried", std::nullopt, "", "same-key");
  CHECK(b.ask(mod, b.current_room(), "Retried", std::nullopt, "", "same-key") == once);

  // A ban on A ends the attendee's feed on B and refuses them there.
  Page ann_page(b, ann);
  a.ban(mod, ann.attendee, true);
  CHECK(eventually([&] { return ann_page.ended.load(); }));
  CHECK(error_of([&] { b.vote(ann, q, true); }).reason == "banned");
}
