// The PostgreSQL engine: several relays share one database, its qa_log row is
// the write lock they take in turn, and LISTEN/NOTIFY tells each of the others'
// commits. Two connections: one for the calls (the service's thread) and one
// that only listens, for wait_for_commits() on a thread of its own.
//
// A lost server is a normal event here, not a fault: every call that finds the
// connection gone throws StoreError(unavailable), and the next call reconnects,
// no more often than a backoff allows, so a relay whose database is restarting
// answers 503 at once instead of queueing connection attempts.
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

#include "auth/tokens.hpp"
#include "common/log.hpp"
#include "qa/store.hpp"

namespace relay::qa {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The channel every relay on the database listens on; notifications carry no data.
constexpr const char* kChannel = "seminar_relay_qa";
constexpr milliseconds kFirstBackoff{250};
constexpr milliseconds kMaxBackoff{5000};
// The advisory lock that serialises creating the schema when several relays
// start on a new database at once (any fixed number; this one spells "seminar").
constexpr const char* kSchemaLock = "7308889625484910962";

int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct ResultFree {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;
struct ConnectionFree {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
using Connection = std::unique_ptr<PGconn, ConnectionFree>;

// A libpq message on one line: they end in a newline and may hold several.
std::string one_line(const char* text) {
  std::string line = text ? text : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  for (size_t at = line.find('\n'); at != std::string::npos; at = line.find('\n', at)) line.replace(at, 1, "; ");
  std::erase(line, '\t');
  return line.empty() ? "no reason given" : line;
}

// SQLSTATEs that mean "not now" rather than "never": the connection or the
// server went away or is starting, resources ran out, a lock wait or the
// statement timeout ran out. A retry may succeed, so the relay answers 503.
bool transient(const char* sqlstate) {
  if (!sqlstate) return true;  // libpq's own failures (no server answer) carry none
  const std::string_view state(sqlstate);
  return state.starts_with("08") || state.starts_with("53") || state.starts_with("57P") || state == "57014" ||
         state.starts_with("40") || state == "55P03" || state.starts_with("58");
}

int64_t integer(const PGresult* result, int row, int column) {
  const char* text = PQgetvalue(result, row, column);
  int64_t value = 0;
  if (text) std::from_chars(text, text + std::strlen(text), value);
  return value;
}

std::string text(const PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column), static_cast<size_t>(PQgetlength(result, row, column)));
}

bool flag(const PGresult* result, int row, int column) { return integer(result, row, column) != 0; }

// Text parameters for one statement, kept alive until it has run.
class Params {
 public:
  Params& add(std::string value) {
    values_.push_back(std::move(value));
    return *this;
  }
  Params& add(int64_t value) { return add(std::to_string(value)); }
  Params& add(bool value) { return add(std::string(value ? "1" : "0")); }
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    for (const auto& v : values_) out.push_back(v.c_str());
    return out;
  }

 private:
  std::vector<std::string> values_;
};

// Every statement the calls run, prepared once per connection.
struct Statement {
  const char* name;
  const char* sql;
};
constexpr Statement kSaveRoom{
    "save_room",
    "INSERT INTO rooms (id, title, open, auto_approve, slow_mode_s, seq, created_ms) VALUES ($1, $2, $3, $4, $5, $6, "
    "$7) ON CONFLICT (id) DO UPDATE SET title = $2, open = $3, auto_approve = $4, slow_mode_s = $5, seq = $6"};
constexpr Statement kSaveAttendee{
    "save_attendee",
    "INSERT INTO attendees (id, token_hash, name, created_ms, timeout_until_ms, banned) VALUES ($1, $2, $3, $4, $5, "
    "$6) ON CONFLICT (id) DO UPDATE SET name = $3, timeout_until_ms = $5, banned = $6"};
constexpr Statement kSaveQuestion{
    "save_question",
    "INSERT INTO questions (id, room, author, author_name, text, original_text, answer, state, held, votes, "
    "created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE "
    "SET text = $5, original_text = $6, answer = $7, state = $8, held = $9, votes = $10, updated_ms = $12"};
constexpr Statement kAddVote{"add_vote",
                             "INSERT INTO votes (question, attendee) VALUES ($1, $2) ON CONFLICT DO NOTHING"};
constexpr Statement kRemoveVote{"remove_vote", "DELETE FROM votes WHERE question = $1 AND attendee = $2"};
constexpr Statement kDeleteQuestion{
    "delete_question",
    // One statement, one round trip: the votes go first (they reference the question).
    "WITH gone AS (DELETE FROM votes WHERE question = $1) DELETE FROM questions WHERE id = $1"};
constexpr Statement kSetMeta{
    "set_meta", "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2"};
constexpr Statement kGetMeta{"get_meta", "SELECT value FROM meta WHERE key = $1"};
constexpr Statement kAppendEvent{
    "append_event",
    "INSERT INTO events (seq, room, author, created_ms, staff, everyone, for_author, change) VALUES ($1, $2, $3, $4, "
    "$5, $6, $7, $8)"};
constexpr Statement kIdempotentAnswer{"idempotent_answer", "SELECT answer FROM idempotency WHERE key = $1"};
constexpr Statement kSaveIdempotentAnswer{"save_idempotent_answer",
                                          "INSERT INTO idempotency (key, answer, created_ms) VALUES ($1, $2, $3)"};
// The log's seq and the events after `seq` in one statement, so one snapshot:
// a committed seq n means every event up to n is visible with it.
constexpr Statement kEventsAfter{
    "events_after",
    "SELECT l.seq, e.seq, e.room, e.author, e.created_ms, e.staff, e.everyone, e.for_author, e.change FROM qa_log l "
    "LEFT JOIN LATERAL (SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2) e ON true WHERE l.id = 1 "
    "ORDER BY e.seq"};
constexpr Statement kRedactEvents{
    "redact_events",
    "UPDATE events SET staff = '', everyone = '', for_author = '', change = '' WHERE strpos(staff, $1) > 0 OR "
    "strpos(everyone, $1) > 0 OR strpos(for_author, $1) > 0 OR strpos(change, $1) > 0"};
constexpr Statement kRedactIdempotency{"redact_idempotency", "DELETE FROM idempotency WHERE strpos(answer, $1) > 0"};
constexpr Statement kTrimEvents{"trim_events", "DELETE FROM events WHERE created_ms < $1"};
constexpr Statement kTrimIdempotency{"trim_idempotency", "DELETE FROM idempotency WHERE created_ms < $1"};
constexpr Statement kPurgeVotes{
    "purge_votes",
    "DELETE FROM votes WHERE question IN (SELECT id FROM questions WHERE created_ms < $1) OR attendee IN "
    "(SELECT id FROM attendees WHERE created_ms < $1)"};
constexpr Statement kPurgeQuestions{"purge_questions", "DELETE FROM questions WHERE created_ms < $1"};
constexpr Statement kPurgeAttendees{"purge_attendees", "DELETE FROM attendees WHERE created_ms < $1"};
constexpr Statement kStatements[] = {kSaveRoom,        kSaveAttendee,         kSaveQuestion,   kAddVote,
                                     kRemoveVote,      kDeleteQuestion,       kSetMeta,        kGetMeta,
                                     kAppendEvent,     kIdempotentAnswer,     kSaveIdempotentAnswer,
                                     kEventsAfter,     kRedactEvents,         kRedactIdempotency, kTrimEvents,           kTrimIdempotency,
                                     kPurgeVotes,      kPurgeQuestions,       kPurgeAttendees};

// The same tables, columns and meaning as the SQLite engine's (0/1 integers for
// flags), so exports and tests read either alike.
constexpr const char* kSchema = R"(
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS rooms (
    id BIGINT PRIMARY KEY, title TEXT NOT NULL, open INTEGER NOT NULL, auto_approve INTEGER NOT NULL,
    slow_mode_s INTEGER NOT NULL, seq BIGINT NOT NULL, created_ms BIGINT NOT NULL);
  CREATE TABLE IF NOT EXISTS attendees (
    id BIGINT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_ms BIGINT NOT NULL,
    timeout_until_ms BIGINT NOT NULL, banned INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS questions (
    id BIGINT PRIMARY KEY, room BIGINT NOT NULL REFERENCES rooms(id), author BIGINT NOT NULL,
    author_name TEXT NOT NULL, text TEXT NOT NULL, original_text TEXT NOT NULL, answer TEXT NOT NULL,
    state TEXT NOT NULL, held INTEGER NOT NULL, votes BIGINT NOT NULL, created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL);
  CREATE TABLE IF NOT EXISTS votes (
    question BIGINT NOT NULL REFERENCES questions(id), attendee BIGINT NOT NULL,
    PRIMARY KEY (question, attendee));
  CREATE TABLE IF NOT EXISTS qa_log (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL,
    seq BIGINT NOT NULL);
  CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY, room BIGINT NOT NULL, author BIGINT NOT NULL, created_ms BIGINT NOT NULL,
    staff TEXT NOT NULL, everyone TEXT NOT NULL, for_author TEXT NOT NULL, change TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created_ms BIGINT NOT NULL);
  CREATE INDEX IF NOT EXISTS questions_by_room ON questions(room, id);
  CREATE INDEX IF NOT EXISTS questions_by_created ON questions(created_ms);
  CREATE INDEX IF NOT EXISTS attendees_by_created ON attendees(created_ms);
  CREATE INDEX IF NOT EXISTS votes_by_attendee ON votes(attendee);
  CREATE INDEX IF NOT EXISTS events_by_created ON events(created_ms);
  CREATE INDEX IF NOT EXISTS idempotency_by_created ON idempotency(created_ms);
)";

// One connection and when it may next be tried.
struct Link {
  Connection conn;
  Clock::time_point next_attempt{};
  milliseconds backoff = kFirstBackoff;

  bool up() const { return conn && PQstatus(conn.get()) == CONNECTION_OK; }
  // A failed attempt: wait longer before the next one.
  void failed() {
    conn.reset();
    next_attempt = Clock::now() + backoff;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  // An established connection broke: the next call may try again at once (a
  // restarted server is usually back), then the backoff applies.
  void broke() {
    conn.reset();
    next_attempt = Clock::now();
    backoff = kFirstBackoff;
  }
  void connected(Connection c) {
    conn = std::move(c);
    backoff = kFirstBackoff;
  }
};

class PostgresStore final : public Store {
 public:
  PostgresStore(const std::string& uri, const std::string& password);
  ~PostgresStore() override;

  std::string describe() const override { return description_; }
  bool shared() const override { return true; }

  Contents load() override;
  uint64_t begin() override;
  void commit(uint64_t last_seq) override;
  void rollback() noexcept override;

  void save_room(const Room& room) override;
  void save_attendee(const Attendee& attendee) override;
  void save_question(const Question& question) override;
  void add_vote(int64_t question, int64_t attendee) override;
  void remove_vote(int64_t question, int64_t attendee) override;
  void delete_question(int64_t question) override;
  void set_meta(const std::string& key, const std::string& value) override;
  void append_event(const StoredEvent& event) override;

  std::optional<std::string> idempotent_answer(const std::string& key) override;
  void save_idempotent_answer(const std::string& key, const std::string& answer, int64_t created_ms) override;

  std::optional<std::vector<StoredEvent>> events_after(uint64_t seq, size_t limit) override;
  void trim_events(int64_t before_ms) override;
  void redact(const std::vector<std::string>& needles) override;
  Purged purge(int64_t before_ms) override;

  void wait_for_commits(milliseconds timeout) override;
  void interrupt() override;
  Health health() const override;

 private:
  enum class Tx { none, open, failed };

  Connection connect();
  void prepare(PGconn* conn);
  PGconn* calls();
  Result run(const Statement& statement, const Params& params);
  Result run_once(const Statement& statement, const Params& params);
  template <class Call>
  auto retry_stale(Call&& call) -> decltype(call());
  Contents load_once();
  uint64_t begin_once();
  Result exec(std::string_view what, const std::string& sql, ExecStatusType expected);
  [[noreturn]] void fail(std::string_view what, const PGresult* result);
  void set_down(bool listen, const std::string& problem);
  void set_up(bool listen);
  bool listen_connect();
  void wait_event(milliseconds timeout, int socket);

  const std::string uri_;
  const std::string password_;
  std::string description_;
  Link calls_;
  Tx tx_ = Tx::none;
  uint64_t base_seq_ = 0;
  Link listen_;
  int wake_fd_ = -1;

  // Health, read from any thread.
  mutable std::mutex health_mutex_;
  std::string calls_problem_, listen_problem_;
  int64_t calls_down_ms_ = 0, listen_down_ms_ = 0;
};

PostgresStore::PostgresStore(const std::string& uri, const std::string& password)
    : uri_(uri), password_(password) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (!options) {
    // libpq's reason names the part it could not read; the URI itself is not
    // repeated (the config refuses one with a password, but be sure).
    std::string reason = error ? one_line(error) : "out of memory";
    PQfreemem(error);
    throw StoreError(fmt::format("qa.database is not a PostgreSQL URI libpq accepts: {}", reason));
  }
  std::string user, host, port, dbname;
  bool has_password = false;
  for (auto* o = options; o->keyword; ++o) {
    const std::string_view key(o->keyword);
    const std::string value = o->val ? o->val : "";
    if (key == "user") user = value;
    if (key == "host") host = value;
    if (key == "hostaddr" && host.empty()) host = value;
    if (key == "port") port = value;
    if (key == "dbname") dbname = value;
    if (key == "password" && !value.empty()) has_password = true;
  }
  PQconninfoFree(options);
  if (has_password)
    throw StoreError("qa.database holds a password; put it in qa.database_password_file, PGPASSWORD or ~/.pgpass");
  // Until a connection says what libpq chose: the URI's parts, with libpq's defaults.
  description_ = fmt::format("PostgreSQL {}{}:{}/{}", user.empty() ? "" : user + "@", host.empty() ? "localhost" : host,
                             port.empty() ? "5432" : port, dbname.empty() ? user : dbname);

  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw StoreError(fmt::format("eventfd: {}", std::strerror(errno)));
  try {
    calls_.connected(connect());
  } catch (...) {
    ::close(wake_fd_);
    throw;
  }
  PGconn* conn = calls_.conn.get();
  // What libpq actually used (defaults and environment included).
  description_ = fmt::format("PostgreSQL {}@{}:{}/{}", PQuser(conn), PQhost(conn), PQport(conn), PQdb(conn));
}

PostgresStore::~PostgresStore() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// A new connection with the schema in place and the statements prepared;
// throws StoreError (unavailable unless retrying cannot help).
Connection PostgresStore::connect() {
  // Our defaults first, so a URI's own settings win; after it what must hold
  // whatever the URI says (the texts are UTF-8), and the password, outside any
  // string that might be logged. keepalives and tcp_user_timeout notice a
  // server that vanished without closing the connection within ~10 s.
  std::vector<const char*> keys{"connect_timeout",  "keepalives",       "keepalives_idle",  "keepalives_interval",
                                "keepalives_count", "tcp_user_timeout", "application_name", "dbname",
                                "client_encoding"};
  std::vector<const char*> values{"5", "1", "5", "2", "3", "10000", "seminar-relay", uri_.c_str(), "UTF8"};
  if (!password_.empty()) {
    keys.push_back("password");
    values.push_back(password_.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Connection conn(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!conn) throw StoreError(fmt::format("{}: cannot connect: out of memory", description_), true);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    if (PQconnectionNeedsPassword(conn.get()))
      throw StoreError(fmt::format("{}: the server asks for a password: set qa.database_password_file, PGPASSWORD "
                                   "or ~/.pgpass",
                                   description_));
    const std::string reason = one_line(PQerrorMessage(conn.get()));
    // libpq checks the options' values (port, sslmode, ...) only when it
    // connects; a bad one is a configuration error, not an outage.
    if (reason.starts_with("invalid "))
      throw StoreError(fmt::format("qa.database is not a PostgreSQL URI libpq accepts: {}", reason));
    throw StoreError(fmt::format("{}: cannot connect: {}", description_, reason), true);
  }
  // The server's notices ("relation already exists, skipping") are not for the relay's stderr.
  PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  prepare(conn.get());
  return conn;
}

void PostgresStore::prepare(PGconn* conn) {
  auto check = [&](PGresult* raw, ExecStatusType expected, std::string_view what) {
    Result result(raw);
    if (PQresultStatus(result.get()) != expected) {
      const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
      throw StoreError(fmt::format("{}: {}: {}", description_, what,
                                   one_line(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn))),
                       transient(state) || PQstatus(conn) != CONNECTION_OK);
    }
  };
  // A write waits for the relay before it (the qa_log row lock); a statement
  // that takes longer than this is a stuck server or a stuck relay, and the
  // caller hears "unavailable" rather than hanging.
  check(PQexec(conn, "SET statement_timeout = '15s'"), PGRES_COMMAND_OK, "cannot set statement_timeout");
  // The schema, made once: the advisory lock keeps relays that start together
  // on a new database from racing on CREATE TABLE. Checked first, so a role that
  // may use but not create tables can run on a schema made for it.
  Result present(PQexec(conn,
                        "SELECT to_regclass('meta') IS NOT NULL AND to_regclass('rooms') IS NOT NULL AND "
                        "to_regclass('attendees') IS NOT NULL AND to_regclass('questions') IS NOT NULL AND "
                        "to_regclass('votes') IS NOT NULL AND to_regclass('qa_log') IS NOT NULL AND "
                        "to_regclass('events') IS NOT NULL AND to_regclass('idempotency') IS NOT NULL"));
  if (PQresultStatus(present.get()) != PGRES_TUPLES_OK)
    check(present.release(), PGRES_TUPLES_OK, "cannot read the schema");  // throws
  if (std::string_view(PQgetvalue(present.get(), 0, 0)) != "t") {
    const std::string create = fmt::format(
        "BEGIN; SELECT pg_advisory_xact_lock({}); {} INSERT INTO qa_log (id, epoch, seq) VALUES (1, '{}', "
        "(SELECT COALESCE(MAX(seq), 0) FROM rooms)) ON CONFLICT (id) DO NOTHING; COMMIT",
        kSchemaLock, kSchema, auth::random_id());
    Result made(PQexec(conn, create.c_str()));
    if (PQresultStatus(made.get()) != PGRES_COMMAND_OK) {
      Result(PQexec(conn, "ROLLBACK"));
      check(made.release(), PGRES_COMMAND_OK, "cannot create the Q&A tables");
    }
  }
  for (const auto& statement : kStatements)
    check(PQprepare(conn, statement.name, statement.sql, 0, nullptr), PGRES_COMMAND_OK,
          fmt::format("cannot prepare {}", statement.name));
}

void PostgresStore::set_down(bool listen, const std::string& problem) {
  std::lock_guard lock(health_mutex_);
  auto& since = listen ? listen_down_ms_ : calls_down_ms_;
  auto& text = listen ? listen_problem_ : calls_problem_;
  if (since == 0) {
    since = wall_ms();
    relay::log::get("qa")->warn("{} ({} connection)", problem, listen ? "notification" : "write");
  }
  text = problem;
}

void PostgresStore::set_up(bool listen) {
  std::lock_guard lock(health_mutex_);
  auto& since = listen ? listen_down_ms_ : calls_down_ms_;
  if (since != 0)
    relay::log::get("qa")->info("{}: {} connection restored after {} ms", description_,
                                listen ? "notification" : "write", wall_ms() - since);
  since = 0;
  (listen ? listen_problem_ : calls_problem_).clear();
}

// The calls' connection, (re)connected when the backoff allows.
PGconn* PostgresStore::calls() {
  if (calls_.up()) return calls_.conn.get();
  if (calls_.conn) {
    calls_.broke();
    set_down(false, fmt::format("{}: the connection was lost", description_));
  }
  const auto now = Clock::now();
  if (now < calls_.next_attempt) {
    std::string problem;
    {
      std::lock_guard lock(health_mutex_);
      problem = calls_problem_;
    }
    throw StoreError(fmt::format("{} (next attempt in {} ms)", problem,
                                 std::chrono::ceil<milliseconds>(calls_.next_attempt - now).count()),
                     true);
  }
  try {
    calls_.connected(connect());
  } catch (const StoreError& e) {
    calls_.failed();
    set_down(false, e.what());
    throw;
  }
  set_up(false);
  return calls_.conn.get();
}

// A failed statement: in a write, the transaction is rolled back at once so
// nothing half-done can be committed by a later call; a lost connection is
// dropped for the next call to replace.
void PostgresStore::fail(std::string_view what, const PGresult* result) {
  PGconn* conn = calls_.conn.get();
  const bool lost = PQstatus(conn) != CONNECTION_OK;
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string reason = one_line(result && *PQresultErrorMessage(result) ? PQresultErrorMessage(result)
                                                                              : PQerrorMessage(conn));
  const std::string message = fmt::format("{}: {}: {}", description_, what, reason);
  if (tx_ == Tx::open) tx_ = Tx::failed;
  if (lost) {
    calls_.broke();
    set_down(false, message);
  } else if (tx_ == Tx::failed) {
    Result(PQexec(conn, "ROLLBACK"));
  }
  throw StoreError(message, lost || transient(state));
}

// Runs `call`; when it found that the server had ended the connection while it
// sat idle (a restart, an idle timeout, a terminated session), once more on a
// fresh one, so that the first request after a restart does not fail. Only
// where nothing of a write is lost by it: outside a write, or at its begin().
template <class Call>
auto PostgresStore::retry_stale(Call&& call) -> decltype(call()) {
  const bool was_up = calls_.up();
  try {
    return call();
  } catch (const StoreError& e) {
    if (!e.unavailable || !was_up || calls_.conn) throw;  // not a lost connection, or a fresh one that failed
    return call();
  }
}

Result PostgresStore::run(const Statement& statement, const Params& params) {
  if (tx_ == Tx::none) return retry_stale([&] { return run_once(statement, params); });
  return run_once(statement, params);
}

Result PostgresStore::run_once(const Statement& statement, const Params& params) {
  if (tx_ == Tx::failed)
    throw StoreError(fmt::format("{}: {} in a write that already failed (roll back first)", description_,
                                 statement.name));
  PGconn* conn = calls();
  const auto values = params.pointers();
  Result result(PQexecPrepared(conn, statement.name, params.size(), values.data(), nullptr, nullptr, 0));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(statement.name, result.get());
  return result;
}

Result PostgresStore::exec(std::string_view what, const std::string& sql, ExecStatusType expected) {
  PGconn* conn = calls();
  Result result(PQexec(conn, sql.c_str()));
  if (PQresultStatus(result.get()) != expected) fail(what, result.get());
  return result;
}

Store::Contents PostgresStore::load() {
  if (tx_ != Tx::none) throw StoreError(fmt::format("{}: load() inside a write", description_));
  return retry_stale([&] { return load_once(); });
}

Store::Contents PostgresStore::load_once() {
  PGconn* conn = calls();
  // One read-only snapshot, sent as one query: the rows are exactly as of the log's seq.
  constexpr const char* sql =
      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
      "SELECT epoch, seq FROM qa_log WHERE id = 1; "
      "SELECT key, value FROM meta; "
      "SELECT id, title, open, auto_approve, slow_mode_s, seq, created_ms FROM rooms ORDER BY id; "
      "SELECT id, token_hash, name, created_ms, timeout_until_ms, banned FROM attendees ORDER BY id; "
      "SELECT id, room, author, author_name, text, original_text, answer, state, held, votes, created_ms, updated_ms "
      "FROM questions ORDER BY id; "
      "SELECT question, attendee FROM votes ORDER BY question, attendee; "
      "COMMIT";
  if (!PQsendQuery(conn, sql)) fail("load", nullptr);
  std::vector<Result> results;
  Result error;
  while (PGresult* raw = PQgetResult(conn)) {
    Result result(raw);
    const auto status = PQresultStatus(raw);
    if (status == PGRES_TUPLES_OK)
      results.push_back(std::move(result));
    else if (status != PGRES_COMMAND_OK && !error)
      error = std::move(result);
  }
  if (error || results.size() != 6) {
    if (PQtransactionStatus(conn) == PQTRANS_INERROR || PQtransactionStatus(conn) == PQTRANS_INTRANS)
      Result(PQexec(conn, "ROLLBACK"));
    fail("load", error.get());
  }

  Contents contents;
  const PGresult* log = results[0].get();
  if (PQntuples(log) != 1) throw StoreError(fmt::format("{}: the qa_log row is missing", description_));
  contents.epoch = text(log, 0, 0);
  contents.seq = static_cast<uint64_t>(integer(log, 0, 1));
  const PGresult* meta = results[1].get();
  for (int row = 0; row < PQntuples(meta); ++row) contents.meta[text(meta, row, 0)] = text(meta, row, 1);
  const PGresult* rooms = results[2].get();
  for (int row = 0; row < PQntuples(rooms); ++row) {
    contents.rooms.push_back({integer(rooms, row, 0), text(rooms, row, 1), flag(rooms, row, 2), flag(rooms, row, 3),
                              static_cast<int>(integer(rooms, row, 4)), static_cast<uint64_t>(integer(rooms, row, 5)),
                              integer(rooms, row, 6)});
  }
  const PGresult* attendees = results[3].get();
  for (int row = 0; row < PQntuples(attendees); ++row) {
    contents.attendees.push_back({integer(attendees, row, 0), text(attendees, row, 1), text(attendees, row, 2),
                                  integer(attendees, row, 3), integer(attendees, row, 4), flag(attendees, row, 5)});
  }
  const PGresult* questions = results[4].get();
  for (int row = 0; row < PQntuples(questions); ++row) {
    Question q;
    q.id = integer(questions, row, 0);
    q.room = integer(questions, row, 1);
    q.author = integer(questions, row, 2);
    q.author_name = text(questions, row, 3);
    q.text = text(questions, row, 4);
    q.original_text = text(questions, row, 5);
    q.answer = text(questions, row, 6);
    const auto state = state_from_string(text(questions, row, 7));
    if (!state)
      throw StoreError(fmt::format("{}: question {} has unknown state '{}'", description_, q.id,
                                   text(questions, row, 7)));
    q.state = *state;
    q.held = flag(questions, row, 8);
    q.votes = integer(questions, row, 9);
    q.created_ms = integer(questions, row, 10);
    q.updated_ms = integer(questions, row, 11);
    contents.questions.push_back(std::move(q));
  }
  const PGresult* votes = results[5].get();
  for (int row = 0; row < PQntuples(votes); ++row)
    contents.votes.emplace_back(integer(votes, row, 0), integer(votes, row, 1));
  return contents;
}

uint64_t PostgresStore::begin() {
  if (tx_ != Tx::none) rollback();
  return retry_stale([&] { return begin_once(); });
}

uint64_t PostgresStore::begin_once() {
  // Open before the query, so a failure in it (a lock wait that timed out)
  // rolls back; a failed begin leaves no write in progress.
  tx_ = Tx::open;
  try {
    // One round trip: BEGIN and the shared write lock, which hands back the last seq.
    Result locked = exec("cannot take the write lock", "BEGIN; SELECT seq FROM qa_log WHERE id = 1 FOR UPDATE",
                         PGRES_TUPLES_OK);
    if (PQntuples(locked.get()) != 1) fail("the qa_log row is missing", nullptr);
    base_seq_ = static_cast<uint64_t>(integer(locked.get(), 0, 0));
  } catch (...) {
    tx_ = Tx::none;
    throw;
  }
  return base_seq_;
}

void PostgresStore::commit(uint64_t last_seq) {
  if (tx_ != Tx::open)
    throw StoreError(fmt::format("{}: commit() without a write in progress", description_),
                     tx_ == Tx::failed && !calls_.up());
  if (last_seq < base_seq_) {
    rollback();
    throw StoreError(fmt::format("{}: commit({}) would move the log back from {}", description_, last_seq, base_seq_));
  }
  // A write that appended events records the new seq and wakes the other relays
  // (NOTIFY is delivered at COMMIT, and only then); all in one round trip.
  const std::string sql =
      last_seq == base_seq_
          ? std::string("COMMIT")
          : fmt::format("UPDATE qa_log SET seq = {0} WHERE id = 1; SELECT pg_notify('{1}', '{0}'); COMMIT", last_seq,
                        kChannel);
  // Whatever happens, the write is over: committed, rolled back, or (the
  // connection lost during COMMIT) unknown until the log is read again.
  Result done;
  try {
    done = exec("cannot commit", sql, PGRES_COMMAND_OK);
  } catch (...) {
    tx_ = Tx::none;
    throw;
  }
  tx_ = Tx::none;
  // COMMIT of a transaction the server had already aborted answers ROLLBACK.
  if (std::string_view(PQcmdStatus(done.get())) != "COMMIT")
    throw StoreError(fmt::format("{}: the write was rolled back", description_));
}

void PostgresStore::rollback() noexcept {
  if (tx_ == Tx::none) return;
  if (tx_ == Tx::open && calls_.up()) {
    Result(PQexec(calls_.conn.get(), "ROLLBACK"));
    if (!calls_.up()) {
      calls_.broke();
      try {
        set_down(false, fmt::format("{}: the connection was lost", description_));
      } catch (...) {
      }
    }
  }
  tx_ = Tx::none;
}

void PostgresStore::save_room(const Room& r) {
  run(kSaveRoom, Params()
                     .add(r.id)
                     .add(r.title)
                     .add(r.open)
                     .add(r.auto_approve)
                     .add(int64_t{r.slow_mode_s})
                     .add(static_cast<int64_t>(r.seq))
                     .add(r.created_ms));
}

void PostgresStore::save_attendee(const Attendee& a) {
  run(kSaveAttendee,
      Params().add(a.id).add(a.token_hash).add(a.name).add(a.created_ms).add(a.timeout_until_ms).add(a.banned));
}

void PostgresStore::save_question(const Question& q) {
  run(kSaveQuestion, Params()
                         .add(q.id)
                         .add(q.room)
                         .add(q.author)
                         .add(q.author_name)
                         .add(q.text)
                         .add(q.original_text)
                         .add(q.answer)
                         .add(std::string(to_string(q.state)))
                         .add(q.held)
                         .add(q.votes)
                         .add(q.created_ms)
                         .add(q.updated_ms));
}

void PostgresStore::add_vote(int64_t question, int64_t attendee) {
  run(kAddVote, Params().add(question).add(attendee));
}

void PostgresStore::remove_vote(int64_t question, int64_t attendee) {
  run(kRemoveVote, Params().add(question).add(attendee));
}

void PostgresStore::delete_question(int64_t question) { run(kDeleteQuestion, Params().add(question)); }

void PostgresStore::set_meta(const std::string& key, const std::string& value) {
  run(kSetMeta, Params().add(key).add(value));
}

void PostgresStore::append_event(const StoredEvent& e) {
  run(kAppendEvent, Params()
                        .add(static_cast<int64_t>(e.seq))
                        .add(e.room)
                        .add(e.author)
                        .add(e.created_ms)
                        .add(e.staff)
                        .add(e.everyone)
                        .add(e.for_author)
                        .add(e.change));
}

std::optional<std::string> PostgresStore::idempotent_answer(const std::string& key) {
  Result result = run(kIdempotentAnswer, Params().add(key));
  if (PQntuples(result.get()) == 0) return std::nullopt;
  return text(result.get(), 0, 0);
}

void PostgresStore::save_idempotent_answer(const std::string& key, const std::string& answer, int64_t created_ms) {
  run(kSaveIdempotentAnswer, Params().add(key).add(answer).add(created_ms));
}

std::optional<std::vector<StoredEvent>> PostgresStore::events_after(uint64_t seq, size_t limit) {
  Result result = run(kEventsAfter, Params()
                                        .add(static_cast<int64_t>(seq))
                                        .add(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
  const PGresult* rows = result.get();
  if (PQntuples(rows) == 0) throw StoreError(fmt::format("{}: the qa_log row is missing", description_));
  const auto last = static_cast<uint64_t>(integer(rows, 0, 0));
  std::vector<StoredEvent> events;
  if (last <= seq || limit == 0) return events;
  for (int row = 0; row < PQntuples(rows); ++row) {
    if (PQgetisnull(rows, row, 1)) continue;  // the log's row alone: no event kept after seq
    events.push_back({static_cast<uint64_t>(integer(rows, row, 1)), integer(rows, row, 2), integer(rows, row, 3),
                      integer(rows, row, 4), text(rows, row, 5), text(rows, row, 6), text(rows, row, 7),
                      text(rows, row, 8)});
  }
  // The log went past seq, but the next event is not kept: trimmed.
  if (events.empty() || events.front().seq != seq + 1) return std::nullopt;
  return events;
}

void PostgresStore::redact(const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    run(kRedactEvents, Params().add(needle));
    run(kRedactIdempotency, Params().add(needle));
  }
}

void PostgresStore::trim_events(int64_t before_ms) {
  run(kTrimEvents, Params().add(before_ms));
  run(kTrimIdempotency, Params().add(before_ms));
}

Store::Purged PostgresStore::purge(int64_t before_ms) {
  // Inside the caller's write, or a write of its own (under the shared lock, so
  // no relay writes a vote for a question being deleted).
  const bool own = tx_ == Tx::none;
  if (own) begin();
  try {
    Purged purged;
    // Ids go on from where they were, even when the newest rows are deleted.
    for (auto [key, table] : {std::pair{"next_question", "questions"}, std::pair{"next_attendee", "attendees"}}) {
      Result stored = run(kGetMeta, Params().add(std::string(key)));
      int64_t next = PQntuples(stored.get()) ? integer(stored.get(), 0, 0) : 0;
      Result highest = exec("purge", fmt::format("SELECT COALESCE(MAX(id), 0) + 1 FROM {}", table), PGRES_TUPLES_OK);
      next = std::max(next, integer(highest.get(), 0, 0));
      set_meta(key, std::to_string(next));
    }
    auto count = [&](const Statement& statement) {
      Result result = run(statement, Params().add(before_ms));
      int64_t rows = 0;
      const char* tuples = PQcmdTuples(result.get());
      std::from_chars(tuples, tuples + std::strlen(tuples), rows);
      return rows;
    };
    purged.votes = count(kPurgeVotes);
    purged.questions = count(kPurgeQuestions);
    purged.attendees = count(kPurgeAttendees);
    // Events and idempotency answers quote the texts and names.
    count(kTrimEvents);
    count(kTrimIdempotency);
    if (purged.votes > 0)
      exec("purge",
           "UPDATE questions SET votes = (SELECT COUNT(*) FROM votes WHERE votes.question = questions.id) "
           "WHERE votes <> (SELECT COUNT(*) FROM votes WHERE votes.question = questions.id)",
           PGRES_COMMAND_OK);
    if (own) commit(base_seq_);
    return purged;
  } catch (...) {
    if (own) rollback();
    throw;
  }
}

// The notification connection: LISTEN on a fresh connection. False when the
// server cannot be reached (the backoff then applies).
bool PostgresStore::listen_connect() {
  try {
    Connection conn = connect();
    const std::string sql = fmt::format("LISTEN {}", kChannel);
    Result listening(PQexec(conn.get(), sql.c_str()));
    if (PQresultStatus(listening.get()) != PGRES_COMMAND_OK)
      throw StoreError(fmt::format("{}: cannot LISTEN: {}", description_, one_line(PQerrorMessage(conn.get()))), true);
    listen_.connected(std::move(conn));
  } catch (const StoreError& e) {
    listen_.failed();
    set_down(true, e.what());
    return false;
  }
  set_up(true);
  return true;
}

// Sleeps until `timeout`, interrupt(), or the socket (if any) can be read.
void PostgresStore::wait_event(milliseconds timeout, int socket) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const int ready = ::poll(fds, socket >= 0 ? 2 : 1, static_cast<int>(std::max<int64_t>(timeout.count(), 0)));
  if (ready > 0 && (fds[0].revents & POLLIN)) {
    uint64_t count = 0;
    [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof count);
  }
}

void PostgresStore::wait_for_commits(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (!listen_.up()) {
    if (listen_.conn) {
      listen_.broke();
      set_down(true, fmt::format("{}: the notification connection was lost", description_));
    }
    const auto now = Clock::now();
    if (now < listen_.next_attempt) {
      wait_event(std::chrono::ceil<milliseconds>(std::min(deadline, listen_.next_attempt) - now), -1);
      return;
    }
    // Connected again: commits may have been missed while down, so the caller
    // reads the log now rather than after a notification.
    if (listen_connect()) return;
    wait_event(std::chrono::ceil<milliseconds>(std::min(deadline, listen_.next_attempt) - Clock::now()), -1);
    return;
  }
  PGconn* conn = listen_.conn.get();
  auto drained = [&] {
    bool any = false;
    while (PGnotify* note = PQnotifies(conn)) {
      PQfreemem(note);
      any = true;
    }
    return any;
  };
  if (drained()) return;
  for (;;) {
    const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return;
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {PQsocket(conn), POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return;
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      uint64_t count = 0;
      [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof count);
      return;
    }
    if (ready > 0 && fds[1].revents) {
      if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
        set_down(true, fmt::format("{}: the notification connection was lost: {}", description_,
                                   one_line(PQerrorMessage(conn))));
        listen_.broke();
        return;
      }
      if (drained()) return;
    }
  }
}

void PostgresStore::interrupt() {
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

Store::Health PostgresStore::health() const {
  std::lock_guard lock(health_mutex_);
  Health health;
  if (calls_down_ms_ == 0 && listen_down_ms_ == 0) return health;
  health.ok = false;
  health.problem = calls_down_ms_ != 0 ? calls_problem_ : listen_problem_;
  health.since_ms = calls_down_ms_ == 0     ? listen_down_ms_
                    : listen_down_ms_ == 0 ? calls_down_ms_
                                           : std::min(calls_down_ms_, listen_down_ms_);
  return health;
}

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& uri, const std::string& password) {
  return std::make_unique<PostgresStore>(uri, password);
}

}  // namespace relay::qa
