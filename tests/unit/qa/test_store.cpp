// The store's contract, run against every engine this run has: SQLite always,
// PostgreSQL when RELAY_TEST_POSTGRES names a server (ctest unit_qa_postgres).
// The PostgreSQL-only cases are what several relays on one database rely on:
// one event log in commit order, notifications, and a lost server reported as
// "unavailable" and recovered from.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <future>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "common/log.hpp"
#include "store_engines.hpp"

using namespace relay::qa;
using namespace relay::qa::testing;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Clock = std::chrono::steady_clock;

namespace {

Room room(int64_t id, int64_t created_ms = 1000) {
  Room r;
  r.id = id;
  r.title = "Room \"" + std::to_string(id) + "\" — Grüße";
  r.open = false;
  r.auto_approve = true;
  r.slow_mode_s = 30;
  r.seq = 7;
  r.created_ms = created_ms;
  return r;
}

Attendee attendee(int64_t id, int64_t created_ms = 1000) {
  Attendee a;
  a.id = id;
  a.token_hash = std::string(63, 'a') + std::to_string(id % 10);
  a.name = "Ann O'Nymous " + std::to_string(id);
  a.created_ms = created_ms;
  a.timeout_until_ms = 123456789012;
  a.banned = true;
  return a;
}

Question question(int64_t id, int64_t room_id, int64_t author, int64_t created_ms = 1000) {
  Question q;
  q.id = id;
  q.room = room_id;
  q.author = author;
  q.author_name = "Ann";
  q.text = "Why?\nBecause; 'quotes' \"and\" \\ backslashes ✓";
  q.original_text = "why";
  q.answer = "42";
  q.state = State::starred;
  q.held = true;
  q.votes = 3;
  q.created_ms = created_ms;
  q.updated_ms = created_ms + 5;
  return q;
}

StoredEvent event(uint64_t seq, int64_t created_ms = 1000) {
  const auto n = std::to_string(seq);
  return {seq, 1, 2, created_ms, "{\"staff\":" + n + "}", "{\"everyone\":" + n + "}", "{\"author\":" + n + "}",
          "{\"change\":" + n + "}"};
}

void check_same(const Room& a, const Room& b) {
  CHECK(a.id == b.id);
  CHECK(a.title == b.title);
  CHECK(a.open == b.open);
  CHECK(a.auto_approve == b.auto_approve);
  CHECK(a.slow_mode_s == b.slow_mode_s);
  CHECK(a.seq == b.seq);
  CHECK(a.created_ms == b.created_ms);
}

void check_same(const Attendee& a, const Attendee& b) {
  CHECK(a.id == b.id);
  CHECK(a.token_hash == b.token_hash);
  CHECK(a.name == b.name);
  CHECK(a.created_ms == b.created_ms);
  CHECK(a.timeout_until_ms == b.timeout_until_ms);
  CHECK(a.banned == b.banned);
}

void check_same(const Question& a, const Question& b) {
  CHECK(a.id == b.id);
  CHECK(a.room == b.room);
  CHECK(a.author == b.author);
  CHECK(a.author_name == b.author_name);
  CHECK(a.text == b.text);
  CHECK(a.original_text == b.original_text);
  CHECK(a.answer == b.answer);
  CHECK(a.state == b.state);
  CHECK(a.held == b.held);
  CHECK(a.votes == b.votes);
  CHECK(a.created_ms == b.created_ms);
  CHECK(a.updated_ms == b.updated_ms);
}

void check_same(const StoredEvent& a, const StoredEvent& b) {
  CHECK(a.seq == b.seq);
  CHECK(a.room == b.room);
  CHECK(a.author == b.author);
  CHECK(a.created_ms == b.created_ms);
  CHECK(a.staff == b.staff);
  CHECK(a.everyone == b.everyone);
  CHECK(a.for_author == b.for_author);
  CHECK(a.change == b.change);
}

// Writes `count` events, one transaction each, from the log's current seq.
uint64_t write_events(Store& store, int count, int64_t created_ms = 1000) {
  uint64_t last = 0;
  for (int i = 0; i < count; ++i) {
    Transaction tx(store);
    last = tx.base_seq() + 1;
    store.append_event(event(last, created_ms));
    tx.commit(last);
  }
  return last;
}

// A loopback port nothing listens on.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

void quiet_logs() { relay::log::set_level("error"); }

}  // namespace

TEST_CASE("rows round-trip through load(), also after reopening", "[qa][store]") {
  quiet_logs();
  const std::string engine = GENERATE(from_range(test_engines()));
  TestDatabase db(engine);
  INFO(engine);
  auto store = db.open();

  auto empty = store->load();
  CHECK(empty.rooms.empty());
  CHECK(empty.questions.empty());
  CHECK(empty.seq == 0);
  CHECK(empty.epoch.size() == 16);
  CHECK(store->shared() == db.shared());
  if (engine == "postgres") CHECK_THAT(store->describe(), Contains("PostgreSQL relay@127.0.0.1:"));
  CHECK_FALSE(store->describe().empty());

  {
    Transaction tx(*store);
    store->save_room(room(1));
    store->save_room(room(2));
    store->save_attendee(attendee(10));
    store->save_attendee(attendee(11));
    store->save_question(question(100, 1, 10));
    store->save_question(question(101, 1, 11));
    store->save_question(question(102, 2, 0));
    store->add_vote(100, 10);
    store->add_vote(100, 11);
    store->add_vote(100, 11);  // a second time: still one vote
    store->add_vote(101, 10);
    store->set_meta("next_question", "103");
    tx.commit();
  }
  auto loaded = store->load();
  REQUIRE(loaded.rooms.size() == 2);
  check_same(loaded.rooms[0], room(1));
  REQUIRE(loaded.attendees.size() == 2);
  check_same(loaded.attendees[1], attendee(11));
  REQUIRE(loaded.questions.size() == 3);
  check_same(loaded.questions[0], question(100, 1, 10));
  check_same(loaded.questions[2], question(102, 2, 0));
  CHECK(std::set(loaded.votes.begin(), loaded.votes.end()) ==
        std::set<std::pair<int64_t, int64_t>>{{100, 10}, {100, 11}, {101, 10}});
  CHECK(loaded.meta.at("next_question") == "103");

  // Saving again updates what may change and keeps what may not.
  Room r = room(1);
  r.title = "renamed";
  r.open = true;
  r.auto_approve = false;
  r.slow_mode_s = 0;
  r.seq = 99;
  Attendee a = attendee(10);
  a.name = "Bea";
  a.banned = false;
  a.timeout_until_ms = 0;
  Question q = question(100, 1, 10);
  q.text = "edited";
  q.state = State::answered;
  q.held = false;
  q.votes = 1;
  q.updated_ms = 9999;
  {
    Transaction tx(*store);
    store->save_room(r);
    store->save_attendee(a);
    store->save_question(q);
    store->remove_vote(100, 11);
    store->delete_question(101);
    store->set_meta("next_question", "104");
    tx.commit();
  }
  store.reset();
  store = db.open();
  loaded = store->load();
  CHECK(loaded.epoch == empty.epoch);
  check_same(loaded.rooms[0], r);
  check_same(loaded.attendees[0], a);
  REQUIRE(loaded.questions.size() == 2);
  check_same(loaded.questions[0], q);
  CHECK(loaded.questions[1].id == 102);
  CHECK(loaded.votes == std::vector<std::pair<int64_t, int64_t>>{{100, 10}});
  CHECK(loaded.meta.at("next_question") == "104");
}

TEST_CASE("a rolled-back or failed write leaves nothing", "[qa][store]") {
  quiet_logs();
  const std::string engine = GENERATE(from_range(test_engines()));
  TestDatabase db(engine);
  INFO(engine);
  auto store = db.open();
  store->load();
  {
    Transaction tx(*store);
    CHECK(tx.base_seq() == 0);
    store->save_room(room(1));
    store->save_attendee(attendee(10));
    store->save_question(question(100, 1, 10));
    store->add_vote(100, 10);
    store->set_meta("k", "v");
    store->append_event(event(1));
    store->save_idempotent_answer("key", "{}", 1000);
    // destroyed without commit
  }
  // A statement the database refuses (a question in a room that does not
  // exist) fails the write; the room saved before it in the same write is gone too.
  {
    Transaction tx(*store);
    store->save_room(room(2));
    try {
      store->save_question(question(200, 42, 0));
      FAIL("a question in a missing room was accepted");
    } catch (const StoreError& e) {
      CHECK_FALSE(e.unavailable);
    }
  }
  auto loaded = store->load();
  CHECK(loaded.rooms.empty());
  CHECK(loaded.attendees.empty());
  CHECK(loaded.questions.empty());
  CHECK(loaded.votes.empty());
  CHECK(loaded.meta.count("k") == 0);
  CHECK(loaded.seq == 0);
  CHECK(store->idempotent_answer("key") == std::nullopt);
  auto events = store->events_after(0, 10);
  REQUIRE(events);
  CHECK(events->empty());
  // The store is usable again.
  Transaction tx(*store);
  CHECK(tx.base_seq() == 0);
  store->save_room(room(3));
  tx.commit();
  CHECK(store->load().rooms.size() == 1);
}

TEST_CASE("begin() returns the last committed seq; events_after returns the events in order", "[qa][store]") {
  quiet_logs();
  const std::string engine = GENERATE(from_range(test_engines()));
  TestDatabase db(engine);
  INFO(engine);
  auto store = db.open();
  store->load();
  {
    Transaction tx(*store);
    REQUIRE(tx.base_seq() == 0);
    store->append_event(event(1));
    store->append_event(event(2));
    tx.commit(2);
  }
  {
    Transaction tx(*store);
    REQUIRE(tx.base_seq() == 2);
    store->save_room(room(1));
    tx.commit();  // no events: the seq stays
  }
  {
    Transaction tx(*store);
    REQUIRE(tx.base_seq() == 2);
    store->append_event(event(3, 5000));
    tx.commit(3);
  }
  CHECK(store->load().seq == 3);
  auto all = store->events_after(0, 100);
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  for (uint64_t i = 0; i < 3; ++i) check_same((*all)[i], event(i + 1, i == 2 ? 5000 : 1000));
  auto limited = store->events_after(1, 1);
  REQUIRE(limited);
  REQUIRE(limited->size() == 1);
  CHECK(limited->front().seq == 2);
  auto none = store->events_after(3, 100);
  REQUIRE(none);
  CHECK(none->empty());
  // A reopened store goes on from the log.
  store.reset();
  store = db.open();
  Transaction tx(*store);
  CHECK(tx.base_seq() == 3);
}

TEST_CASE("events_after reports trimmed history", "[qa][store]") {
  quiet_logs();
  const std::string engine = GENERATE(from_range(test_engines()));
  TestDatabase db(engine);
  INFO(engine);
  auto store = db.open();
  store->load();
  for (int64_t created : {1000, 2000, 3000}) {
    Transaction tx(*store);
    store->append_event(event(tx.base_seq() + 1, created));
    store->save_idempotent_answer("k" + std::to_string(created), "{}", created);
    tx.commit(tx.base_seq() + 1);
  }
  store->trim_events(2500);
  CHECK(store->events_after(0, 10) == std::nullopt);
  CHECK(store->events_after(1, 10) == std::nullopt);
  auto kept = store->events_after(2, 10);
  REQUIRE(kept);
  REQUIRE(kept->size() == 1);
  CHECK(kept->front().seq == 3);
  CHECK(store->idempotent_answer("k1000") == std::nullopt);
  CHECK(store->idempotent_answer("k2000") == std::nullopt);
  CHECK(store->idempotent_answer("k3000") == "{}");
  // Every event gone: the log is past 2, so history after 2 is lost; after 3 there is none.
  store->trim_events(10000);
  CHECK(store->events_after(2, 10) == std::nullopt);
  auto after_last = store->events_after(3, 10);
  REQUIRE(after_last);
  CHECK(after_last->empty());
}

TEST_CASE("idempotency answers are kept per key and survive reopening", "[qa][store]") {
  quiet_logs();
  const std::string engine = GENERATE(from_range(test_engines()));
  TestDatabase db(engine);
  INFO(engine);
  auto store = db.open();
  store->load();
  {
    Transaction tx(*store);
    CHECK(store->idempotent_answer("attendee-1:abc") == std::nullopt);
    store->save_idempotent_answer("attendee-1:abc", R"({"id":1,"text":"ü"})", 1000);
    store->save_idempotent_answer("attendee-2:abc", R"({"id":2})", 1000);
    tx.commit();
  }
  store.reset();
  store = db.open();
  CHECK(store->idempotent_answer("attendee-1:abc") == R"({"id":1,"text":"ü"})");
  CHECK(store->idempotent_answer("attendee-2:abc") == R"({"id":2})");
  CHECK(store->idempotent_answer("attendee-3:abc") == std::nullopt);
}

TEST_CASE("purge deletes old rows, keeps their ids unused and recounts votes", "[qa][store]") {
  quiet_logs();
  const std::string engine = GENERATE(from_range(test_engines()));
  TestDatabase db(engine);
  INFO(engine);
  auto store = db.open();
  store->load();
  {
    Transaction tx(*store);
    store->save_room(room(1, 1000));
    // The old rows hold the highest ids, so the ids would be free again without meta.
    store->save_attendee(attendee(8, 1000));  // old
    store->save_attendee(attendee(2, 5000));  // new
    Question old_q = question(9, 1, 8, 1000);
    old_q.votes = 1;
    Question new_q = question(3, 1, 2, 5000);
    new_q.votes = 2;
    store->save_question(old_q);
    store->save_question(new_q);
    store->add_vote(9, 2);  // new attendee on the old question
    store->add_vote(3, 8);  // old attendee on the new question
    store->add_vote(3, 2);
    store->append_event(event(1, 1000));
    store->append_event(event(2, 5000));
    store->set_meta("next_attendee", "50");  // higher than any row: kept
    tx.commit(2);
  }
  const auto purged = store->purge(3000);
  CHECK(purged.questions == 1);
  CHECK(purged.attendees == 1);
  CHECK(purged.votes == 2);
  auto loaded = store->load();
  REQUIRE(loaded.questions.size() == 1);
  CHECK(loaded.questions[0].id == 3);
  CHECK(loaded.questions[0].votes == 1);  // recounted
  REQUIRE(loaded.attendees.size() == 1);
  CHECK(loaded.attendees[0].id == 2);
  CHECK(loaded.votes == std::vector<std::pair<int64_t, int64_t>>{{3, 2}});
  CHECK(loaded.meta.at("next_question") == "10");
  CHECK(loaded.meta.at("next_attendee") == "50");
  CHECK(loaded.rooms.size() == 1);  // rooms stay
  // The old event quoted the old texts: gone with them.
  CHECK(store->events_after(0, 10) == std::nullopt);
  auto kept = store->events_after(1, 10);
  REQUIRE(kept);
  CHECK(kept->size() == 1);
  // Nothing older left: a second purge deletes nothing.
  const auto again = store->purge(3000);
  CHECK(again.questions + again.attendees + again.votes == 0);
}

TEST_CASE("postgres: a second store sees the first's events and is woken by its commits", "[qa][store][postgres]") {
  if (!postgres_available()) return;
  quiet_logs();
  TestDatabase db("postgres");
  auto first = db.open();
  auto second = db.open();
  const auto loaded = first->load();
  CHECK(second->load().epoch == loaded.epoch);

  // The first wait connects the notification connection and returns at once,
  // so the caller catches up on what it missed.
  auto started = Clock::now();
  second->wait_for_commits(5s);
  CHECK(Clock::now() - started < 3s);
  // Nothing committed: the wait lasts its timeout.
  started = Clock::now();
  second->wait_for_commits(300ms);
  CHECK(Clock::now() - started >= 250ms);

  auto woken = std::async(std::launch::async, [&] {
    second->wait_for_commits(10s);
    return Clock::now();
  });
  // The waiter is in poll() long before this; if not, the notification is
  // still queued on its connection and the wait returns at once all the same.
  std::this_thread::sleep_for(100ms);
  const auto committed_from = Clock::now();
  write_events(*first, 1);
  const auto committed = Clock::now();
  REQUIRE(woken.wait_for(5s) == std::future_status::ready);
  const auto woke = woken.get();
  CHECK(woke >= committed_from);
  CHECK(woke - committed < 2s);

  auto events = second->events_after(0, 10);
  REQUIRE(events);
  REQUIRE(events->size() == 1);
  check_same(events->front(), event(1));
  CHECK(second->load().seq == 1);

  // interrupt() ends a wait early.
  auto interrupted = std::async(std::launch::async, [&] {
    const auto from = Clock::now();
    second->wait_for_commits(10s);
    return Clock::now() - from;
  });
  std::this_thread::sleep_for(100ms);
  second->interrupt();
  REQUIRE(interrupted.wait_for(5s) == std::future_status::ready);
  CHECK(interrupted.get() < 5s);
}

TEST_CASE("postgres: two writers through two stores get contiguous, ordered seqs", "[qa][store][postgres]") {
  if (!postgres_available()) return;
  quiet_logs();
  TestDatabase db("postgres");
  auto a = db.open();
  auto b = db.open();
  auto reader = db.open();
  a->load();
  constexpr int kEach = 200;

  std::atomic<bool> done{false};
  auto write = [&](Store& store, int64_t author) {
    std::vector<uint64_t> seqs;
    for (int i = 0; i < kEach; ++i) {
      Transaction tx(store);
      const uint64_t seq = tx.base_seq() + 1;
      StoredEvent e = event(seq);
      e.author = author;
      store.append_event(e);
      tx.commit(seq);
      seqs.push_back(seq);
    }
    return seqs;
  };
  // A reader on a third connection never sees a gap: whatever it is shown
  // starts right after what it has and is numbered without holes.
  auto read = std::async(std::launch::async, [&] {
    uint64_t seen = 0;
    int gaps = 0;
    while (!done) {
      auto events = reader->events_after(seen, 1000);
      if (!events) return -1;
      for (const auto& e : *events) {
        if (e.seq != seen + 1) ++gaps;
        seen = e.seq;
      }
    }
    return gaps;
  });
  auto from_a = std::async(std::launch::async, [&] { return write(*a, 1); });
  auto from_b = std::async(std::launch::async, [&] { return write(*b, 2); });
  const auto seqs_a = from_a.get();
  const auto seqs_b = from_b.get();
  done = true;
  CHECK(read.get() == 0);

  CHECK(std::is_sorted(seqs_a.begin(), seqs_a.end()));
  CHECK(std::is_sorted(seqs_b.begin(), seqs_b.end()));
  std::set<uint64_t> all(seqs_a.begin(), seqs_a.end());
  all.insert(seqs_b.begin(), seqs_b.end());
  CHECK(all.size() == 2 * kEach);
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == 2 * kEach);
  auto events = reader->events_after(0, 10 * kEach);
  REQUIRE(events);
  REQUIRE(events->size() == 2 * kEach);
  std::map<uint64_t, int64_t> authors;
  for (size_t i = 0; i < events->size(); ++i) {
    CHECK((*events)[i].seq == i + 1);
    authors[(*events)[i].seq] = (*events)[i].author;
  }
  for (auto seq : seqs_a) CHECK(authors[seq] == 1);
  CHECK(reader->load().seq == 2 * kEach);
}

TEST_CASE("postgres: an unreachable server is reported as unavailable, without the password", "[qa][store][postgres]") {
  quiet_logs();
  const std::string password = "not-this-secret-0123456789";
  const auto port = closed_port();
  const auto started = Clock::now();
  try {
    open_postgres_store(fmt::format("postgresql://relay@127.0.0.1:{}/relay", port), password);
    FAIL("connected to a closed port");
  } catch (const StoreError& e) {
    CHECK(e.unavailable);
    CHECK_THAT(e.what(), Contains("127.0.0.1") && Contains(std::to_string(port)));
    CHECK_THAT(e.what(), !Contains(password));
  }
  CHECK(Clock::now() - started < 10s);

  // A URI libpq cannot read, or one holding a password, is refused for good.
  try {
    open_postgres_store("postgresql://relay@127.0.0.1:notaport/relay", "");
    FAIL("accepted a bad URI");
  } catch (const StoreError& e) {
    CHECK_FALSE(e.unavailable);
    CHECK_THAT(e.what(), Contains("qa.database"));
  }
  try {
    open_postgres_store("postgresql://relay:" + password + "@127.0.0.1:5432/relay", "");
    FAIL("accepted a URI with a password");
  } catch (const StoreError& e) {
    CHECK_FALSE(e.unavailable);
    CHECK_THAT(e.what(), !Contains(password));
  }
}

TEST_CASE("postgres: lost connections are reported, retried with a backoff and recovered", "[qa][store][postgres]") {
  if (!postgres_available()) return;
  quiet_logs();
  // A database of its own, so that refusing connections to it touches no other test.
  const std::string base = std::getenv("RELAY_TEST_POSTGRES");
  PostgresAdmin admin(base);
  const std::string name = unique_name("qa_outage_");
  admin.exec("CREATE DATABASE " + name);
  struct Drop {
    PostgresAdmin& admin;
    std::string name;
    ~Drop() {
      try {
        admin.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      } catch (...) {
      }
    }
  } drop{admin, name};
  const std::string password = postgres_test_password();
  auto store = open_postgres_store(postgres_uri_with(base, name), password);
  auto listener = open_postgres_store(postgres_uri_with(base, name), password);
  store->load();
  listener->wait_for_commits(1s);  // connects its notification connection
  CHECK(store->health().ok);
  CHECK(listener->health().ok);
  const std::string terminate =
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" + name + "'";

  // A session the server ends while it sits idle (a restart, a terminated
  // backend) costs the next call nothing: it tries once more on a new connection.
  CHECK(admin.exec(terminate) == "3");  // store: calls; listener: calls and LISTEN
  {
    Transaction tx(*store);
    CHECK(tx.base_seq() == 0);
  }
  CHECK(store->health().ok);
  // The listener notices at once and returns: then it connects again.
  auto started = Clock::now();
  listener->wait_for_commits(10s);
  CHECK(Clock::now() - started < 5s);
  listener->wait_for_commits(10s);
  CHECK(Clock::now() - started < 5s);
  CHECK(listener->health().ok);

  // The server ends every session on the database and takes no new ones.
  admin.exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false");
  admin.exec(terminate);

  // The waiting relay notices at once, not at its timeout.
  started = Clock::now();
  listener->wait_for_commits(10s);
  CHECK(Clock::now() - started < 5s);
  CHECK_FALSE(listener->health().ok);

  auto unavailable = [&](auto call) {
    try {
      call();
    } catch (const StoreError& e) {
      CHECK(e.unavailable);
      CHECK_THAT(e.what(), Contains("PostgreSQL"));
      if (!password.empty()) CHECK_THAT(e.what(), !Contains(password));
      return std::string(e.what());
    }
    FAIL("the call succeeded on a lost connection");
    return std::string();
  };
  // The ended connection, then one attempt at a new one, refused.
  unavailable([&] { store->begin(); });
  const auto down_since = store->health().since_ms;
  CHECK_FALSE(store->health().ok);
  CHECK(down_since > 0);
  // Within the backoff: refused at once, without trying the server. (A slow
  // machine may pass the first 250 ms backoff; the next is longer.)
  std::string reason;
  for (int i = 0; i < 3 && reason.find("next attempt in") == std::string::npos; ++i) {
    started = Clock::now();
    reason = unavailable([&] { store->load(); });
  }
  CHECK_THAT(reason, Contains("next attempt in"));
  CHECK(Clock::now() - started < 100ms);
  const auto health = store->health();
  CHECK_FALSE(health.ok);
  CHECK(health.since_ms == down_since);
  CHECK_THAT(health.problem, Contains("PostgreSQL"));

  // The server takes connections again: within a backoff (at most 5 s) the
  // store is back, and so is the notification connection, which returns at
  // once so that the relay catches up.
  admin.exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
  const auto deadline = Clock::now() + 10s;
  bool back = false;
  while (!back && Clock::now() < deadline) {
    try {
      store->load();
      back = true;
    } catch (const StoreError& e) {
      REQUIRE(e.unavailable);
      std::this_thread::sleep_for(50ms);
    }
  }
  REQUIRE(back);
  CHECK(store->health().ok);
  write_events(*store, 1);
  bool listening = false;
  while (!listening && Clock::now() < deadline) {
    listener->wait_for_commits(1s);
    listening = listener->health().ok;
  }
  CHECK(listening);
  // The listener's other connection, idle all along, was ended too: the call
  // finds out and tries once more on a new connection.
  auto events = listener->events_after(0, 10);
  REQUIRE(events);
  CHECK(events->size() == 1);
}
