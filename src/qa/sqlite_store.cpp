// The embedded engine: one SQLite file (WAL journal) that one relay owns. A
// transaction that committed is in the WAL file before the call returns, so an
// operation answered 2xx survives the process being killed (with
// synchronous=FULL also a power cut). begin() is BEGIN IMMEDIATE: the file's
// write lock is the shared write lock of store.hpp, with one writer.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "auth/tokens.hpp"
#include "qa/store.hpp"

namespace relay::qa {
namespace {

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& file, bool full_sync);
  ~SqliteStore() override;

  std::string describe() const override { return fmt::format("SQLite '{}'", file_); }
  bool shared() const override { return false; }
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
  void redact(const std::vector<std::string>& needles) override;
  std::optional<std::string> idempotent_answer(const std::string& key) override;
  void save_idempotent_answer(const std::string& key, const std::string& answer, int64_t created_ms) override;
  std::optional<std::vector<StoredEvent>> events_after(uint64_t seq, size_t limit) override;
  void trim_events(int64_t before_ms) override;
  Purged purge(int64_t before_ms) override;
  void wait_for_commits(std::chrono::milliseconds timeout) override;
  void interrupt() override;
  Health health() const override { return {}; }

 private:
  class Statement;
  void exec(const char* sql);
  int64_t count(const char* sql);
  [[noreturn]] void fail(const std::string& what) const;
  Statement& statement(const char* sql);
  int64_t changes() const { return sqlite3_changes64(db_); }

  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  std::string file_;
  std::map<const char*, std::unique_ptr<Statement>> statements_;
  std::mutex wait_mutex_;
  std::condition_variable woken_;
  bool interrupted_ = false;
};

// A prepared statement, reset after each use so the next one starts clean.
class SqliteStore::Statement {
 public:
  Statement(SqliteStore& store, const char* sql) : store_(store) {
    if (sqlite3_prepare_v3(store.db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
      store.fail(fmt::format("cannot prepare '{}'", sql));
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int index, int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& bind(int index, const std::string& value) {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
    return *this;
  }
  // One step; true while rows come.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(stmt_);
    store_.fail("write failed");
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) store_.fail("bind failed");
  }
  SqliteStore& store_;
  sqlite3_stmt* stmt_ = nullptr;
};

SqliteStore::SqliteStore(const std::string& file, bool full_sync) : file_(file) {
  const std::string lock_file = file + ".lock";
  lock_fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0 || ::fchmod(lock_fd_, 0600) != 0) {
    const int error = errno;
    if (lock_fd_ >= 0) ::close(lock_fd_);
    throw StoreError(fmt::format("cannot create '{}' (qa.data_dir): {}", lock_file, std::strerror(error)));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw StoreError(error == EWOULDBLOCK
                         ? fmt::format("the Q&A database '{}' is in use by another running relay; give each relay "
                                       "its own qa.data_dir, or share a PostgreSQL qa.database",
                                       file)
                         : fmt::format("cannot lock '{}': {}", lock_file, std::strerror(error)));
  }
  // SQLite creates its WAL and shared-memory files with the database's
  // permissions, so the database is made (or narrowed to) 0600 before it opens.
  if (const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd < 0 || ::fchmod(fd, 0600) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    ::close(lock_fd_);
    throw StoreError(fmt::format("cannot create the Q&A database '{}': {}", file, std::strerror(error)));
  } else {
    ::close(fd);
  }
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string reason = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    ::close(lock_fd_);
    throw StoreError(fmt::format("cannot open the Q&A database '{}': {}", file, reason));
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    exec("PRAGMA journal_mode=WAL");
    exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    // A deleted question's text is overwritten in the file, not left in a free page.
    exec("PRAGMA secure_delete=ON");
    exec(R"(
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rooms (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, open INTEGER NOT NULL, auto_approve INTEGER NOT NULL,
        slow_mode_s INTEGER NOT NULL, seq INTEGER NOT NULL, created_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS attendees (
        id INTEGER PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_ms INTEGER NOT NULL,
        timeout_until_ms INTEGER NOT NULL, banned INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS questions (
        id INTEGER PRIMARY KEY, room INTEGER NOT NULL REFERENCES rooms(id), author INTEGER NOT NULL,
        author_name TEXT NOT NULL, text TEXT NOT NULL, original_text TEXT NOT NULL, answer TEXT NOT NULL,
        state TEXT NOT NULL, held INTEGER NOT NULL, votes INTEGER NOT NULL, created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS votes (
        question INTEGER NOT NULL REFERENCES questions(id), attendee INTEGER NOT NULL,
        PRIMARY KEY (question, attendee)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS qa_log (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL,
        seq INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY, room INTEGER NOT NULL, author INTEGER NOT NULL, created_ms INTEGER NOT NULL,
        staff TEXT NOT NULL, everyone TEXT NOT NULL, for_author TEXT NOT NULL, change TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, answer TEXT NOT NULL,
        created_ms INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS questions_by_room ON questions(room, id);
      CREATE INDEX IF NOT EXISTS questions_by_created ON questions(created_ms);
      CREATE INDEX IF NOT EXISTS attendees_by_created ON attendees(created_ms);
      CREATE INDEX IF NOT EXISTS votes_by_attendee ON votes(attendee);
      CREATE INDEX IF NOT EXISTS events_by_created ON events(created_ms);
      CREATE INDEX IF NOT EXISTS idempotency_by_created ON idempotency(created_ms);
    )");
    // A database from before the shared log: its numbering goes on from the
    // highest room counter, under a new epoch.
    statement("INSERT OR IGNORE INTO qa_log (id, epoch, seq) VALUES (1, ?1, (SELECT COALESCE(MAX(seq), 0) FROM rooms))")
        .bind(1, auth::random_id())
        .run();
  } catch (...) {
    statements_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    ::close(lock_fd_);
    throw;
  }
}

SqliteStore::~SqliteStore() {
  statements_.clear();
  if (db_) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void SqliteStore::fail(const std::string& what) const {
  throw StoreError(fmt::format("Q&A database '{}': {}: {}", file_, what, sqlite3_errmsg(db_)));
}

void SqliteStore::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string reason = error ? error : "unknown error";
    sqlite3_free(error);
    throw StoreError(fmt::format("Q&A database '{}': {}", file_, reason));
  }
}

int64_t SqliteStore::count(const char* sql) {
  auto& s = statement(sql);
  const int64_t value = s.step() ? s.integer(0) : 0;
  s.reset();
  return value;
}

SqliteStore::Statement& SqliteStore::statement(const char* sql) {
  auto& slot = statements_[sql];
  if (!slot) slot = std::make_unique<Statement>(*this, sql);
  return *slot;
}

Store::Contents SqliteStore::load() {
  Contents contents;
  // One read transaction: the rows are exactly as of the log's seq.
  exec("BEGIN");
  struct End {
    SqliteStore& store;
    ~End() { sqlite3_exec(store.db_, "COMMIT", nullptr, nullptr, nullptr); }
  } end{*this};
  {
    auto& s = statement("SELECT epoch, seq FROM qa_log WHERE id = 1");
    if (s.step()) {
      contents.epoch = s.text(0);
      contents.seq = static_cast<uint64_t>(s.integer(1));
    }
    s.reset();
  }
  {
    auto& s = statement("SELECT key, value FROM meta");
    while (s.step()) contents.meta[s.text(0)] = s.text(1);
    s.reset();
  }
  {
    auto& s = statement("SELECT id, title, open, auto_approve, slow_mode_s, seq, created_ms FROM rooms ORDER BY id");
    while (s.step()) {
      contents.rooms.push_back({s.integer(0), s.text(1), s.integer(2) != 0, s.integer(3) != 0,
                                static_cast<int>(s.integer(4)), static_cast<uint64_t>(s.integer(5)), s.integer(6)});
    }
    s.reset();
  }
  {
    auto& s = statement(
        "SELECT id, token_hash, name, created_ms, timeout_until_ms, banned FROM attendees ORDER BY id");
    while (s.step())
      contents.attendees.push_back({s.integer(0), s.text(1), s.text(2), s.integer(3), s.integer(4), s.integer(5) != 0});
    s.reset();
  }
  {
    auto& s = statement(
        "SELECT id, room, author, author_name, text, original_text, answer, state, held, votes, created_ms, "
        "updated_ms FROM questions ORDER BY id");
    while (s.step()) {
      Question q;
      q.id = s.integer(0);
      q.room = s.integer(1);
      q.author = s.integer(2);
      q.author_name = s.text(3);
      q.text = s.text(4);
      q.original_text = s.text(5);
      q.answer = s.text(6);
      auto state = state_from_string(s.text(7));
      if (!state) {
        const std::string text = s.text(7);
        s.reset();
        throw StoreError(fmt::format("Q&A database '{}': question {} has unknown state '{}'", file_, q.id, text));
      }
      q.state = *state;
      q.held = s.integer(8) != 0;
      q.votes = s.integer(9);
      q.created_ms = s.integer(10);
      q.updated_ms = s.integer(11);
      contents.questions.push_back(std::move(q));
    }
    s.reset();
  }
  {
    auto& s = statement("SELECT question, attendee FROM votes");
    while (s.step()) contents.votes.emplace_back(s.integer(0), s.integer(1));
    s.reset();
  }
  return contents;
}

uint64_t SqliteStore::begin() {
  exec("BEGIN IMMEDIATE");
  return static_cast<uint64_t>(count("SELECT seq FROM qa_log WHERE id = 1"));
}

void SqliteStore::commit(uint64_t last_seq) {
  statement("UPDATE qa_log SET seq = ?1 WHERE id = 1").bind(1, static_cast<int64_t>(last_seq)).run();
  exec("COMMIT");
}

void SqliteStore::rollback() noexcept {
  char* error = nullptr;
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, &error);
  sqlite3_free(error);
}

void SqliteStore::save_room(const Room& r) {
  statement(
      "INSERT INTO rooms (id, title, open, auto_approve, slow_mode_s, seq, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, "
      "?6, ?7) ON CONFLICT(id) DO UPDATE SET title = ?2, open = ?3, auto_approve = ?4, slow_mode_s = ?5, seq = ?6")
      .bind(1, r.id)
      .bind(2, r.title)
      .bind(3, r.open ? 1 : 0)
      .bind(4, r.auto_approve ? 1 : 0)
      .bind(5, r.slow_mode_s)
      .bind(6, static_cast<int64_t>(r.seq))
      .bind(7, r.created_ms)
      .run();
}

void SqliteStore::save_attendee(const Attendee& a) {
  statement(
      "INSERT INTO attendees (id, token_hash, name, created_ms, timeout_until_ms, banned) VALUES (?1, ?2, ?3, ?4, "
      "?5, ?6) ON CONFLICT(id) DO UPDATE SET name = ?3, timeout_until_ms = ?5, banned = ?6")
      .bind(1, a.id)
      .bind(2, a.token_hash)
      .bind(3, a.name)
      .bind(4, a.created_ms)
      .bind(5, a.timeout_until_ms)
      .bind(6, a.banned ? 1 : 0)
      .run();
}

void SqliteStore::save_question(const Question& q) {
  statement(
      "INSERT INTO questions (id, room, author, author_name, text, original_text, answer, state, held, votes, "
      "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(id) DO UPDATE "
      "SET text = ?5, original_text = ?6, answer = ?7, state = ?8, held = ?9, votes = ?10, updated_ms = ?12")
      .bind(1, q.id)
      .bind(2, q.room)
      .bind(3, q.author)
      .bind(4, q.author_name)
      .bind(5, q.text)
      .bind(6, q.original_text)
      .bind(7, q.answer)
      .bind(8, std::string(to_string(q.state)))
      .bind(9, q.held ? 1 : 0)
      .bind(10, q.votes)
      .bind(11, q.created_ms)
      .bind(12, q.updated_ms)
      .run();
}

void SqliteStore::add_vote(int64_t question, int64_t attendee) {
  statement("INSERT OR IGNORE INTO votes (question, attendee) VALUES (?1, ?2)").bind(1, question).bind(2, attendee).run();
}

void SqliteStore::remove_vote(int64_t question, int64_t attendee) {
  statement("DELETE FROM votes WHERE question = ?1 AND attendee = ?2").bind(1, question).bind(2, attendee).run();
}

void SqliteStore::set_meta(const std::string& key, const std::string& value) {
  statement("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2")
      .bind(1, key)
      .bind(2, value)
      .run();
}

void SqliteStore::delete_question(int64_t question) {
  statement("DELETE FROM votes WHERE question = ?1").bind(1, question).run();
  statement("DELETE FROM questions WHERE id = ?1").bind(1, question).run();
}

void SqliteStore::append_event(const StoredEvent& e) {
  statement(
      "INSERT INTO events (seq, room, author, created_ms, staff, everyone, for_author, change) VALUES (?1, ?2, ?3, "
      "?4, ?5, ?6, ?7, ?8)")
      .bind(1, static_cast<int64_t>(e.seq))
      .bind(2, e.room)
      .bind(3, e.author)
      .bind(4, e.created_ms)
      .bind(5, e.staff)
      .bind(6, e.everyone)
      .bind(7, e.for_author)
      .bind(8, e.change)
      .run();
}

void SqliteStore::redact(const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    statement(
        "UPDATE events SET staff = '', everyone = '', for_author = '', change = '' WHERE instr(staff, ?1) > 0 OR "
        "instr(everyone, ?1) > 0 OR instr(for_author, ?1) > 0 OR instr(change, ?1) > 0")
        .bind(1, needle)
        .run();
    statement("DELETE FROM idempotency WHERE instr(answer, ?1) > 0").bind(1, needle).run();
  }
}

std::optional<std::string> SqliteStore::idempotent_answer(const std::string& key) {
  auto& s = statement("SELECT answer FROM idempotency WHERE key = ?1").bind(1, key);
  std::optional<std::string> answer;
  if (s.step()) answer = s.text(0);
  s.reset();
  return answer;
}

void SqliteStore::save_idempotent_answer(const std::string& key, const std::string& answer, int64_t created_ms) {
  statement("INSERT INTO idempotency (key, answer, created_ms) VALUES (?1, ?2, ?3)")
      .bind(1, key)
      .bind(2, answer)
      .bind(3, created_ms)
      .run();
}

std::optional<std::vector<StoredEvent>> SqliteStore::events_after(uint64_t seq, size_t limit) {
  // One writer: nothing commits between the two reads but our own.
  const auto last = static_cast<uint64_t>(count("SELECT seq FROM qa_log WHERE id = 1"));
  std::vector<StoredEvent> events;
  if (last <= seq) return events;
  auto& s = statement(
                "SELECT seq, room, author, created_ms, staff, everyone, for_author, change FROM events WHERE seq > ?1 "
                "ORDER BY seq LIMIT ?2")
                .bind(1, static_cast<int64_t>(seq))
                .bind(2, static_cast<int64_t>(limit));
  while (s.step()) {
    events.push_back({static_cast<uint64_t>(s.integer(0)), s.integer(1), s.integer(2), s.integer(3), s.text(4),
                      s.text(5), s.text(6), s.text(7)});
  }
  s.reset();
  if (events.empty() || events.front().seq != seq + 1) return std::nullopt;
  return events;
}

void SqliteStore::trim_events(int64_t before_ms) {
  statement("DELETE FROM events WHERE created_ms < ?1").bind(1, before_ms).run();
  statement("DELETE FROM idempotency WHERE created_ms < ?1").bind(1, before_ms).run();
}

Store::Purged SqliteStore::purge(int64_t before_ms) {
  Purged purged;
  {
    Transaction tx(*this);
    // Ids go on from where they were, even when the newest rows are deleted.
    for (auto [key, sql] : {std::pair{"next_question", "SELECT COALESCE(MAX(id), 0) + 1 FROM questions"},
                            std::pair{"next_attendee", "SELECT COALESCE(MAX(id), 0) + 1 FROM attendees"}}) {
      auto& meta = statement("SELECT value FROM meta WHERE key = ?1").bind(1, std::string(key));
      const int64_t stored = meta.step() ? std::stoll(meta.text(0)) : 0;
      meta.reset();
      set_meta(key, std::to_string(std::max(stored, count(sql))));
    }
    auto run = [&](const char* sql) {
      statement(sql).bind(1, before_ms).run();
      return changes();
    };
    purged.votes = run(
        "DELETE FROM votes WHERE question IN (SELECT id FROM questions WHERE created_ms < ?1) OR attendee IN "
        "(SELECT id FROM attendees WHERE created_ms < ?1)");
    purged.questions = run("DELETE FROM questions WHERE created_ms < ?1");
    purged.attendees = run("DELETE FROM attendees WHERE created_ms < ?1");
    // Events and idempotency answers quote the texts and names.
    run("DELETE FROM events WHERE created_ms < ?1");
    run("DELETE FROM idempotency WHERE created_ms < ?1");
    if (purged.votes > 0)
      exec("UPDATE questions SET votes = (SELECT COUNT(*) FROM votes WHERE votes.question = questions.id)");
    tx.commit();
  }
  if (purged.questions + purged.votes + purged.attendees > 0) {
    exec("VACUUM");
    exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return purged;
}

// One relay owns the file: nobody else commits, so there is nothing to wait for.
void SqliteStore::wait_for_commits(std::chrono::milliseconds timeout) {
  std::unique_lock lock(wait_mutex_);
  woken_.wait_for(lock, timeout, [this] { return interrupted_; });
  interrupted_ = false;
}

void SqliteStore::interrupt() {
  std::lock_guard lock(wait_mutex_);
  interrupted_ = true;
  woken_.notify_all();
}

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& file, bool full_sync) {
  return std::make_unique<SqliteStore>(file, full_sync);
}

std::unique_ptr<Store> open_store(const config::QaConfig& config) {
  if (config.database == "sqlite")
    return open_sqlite_store((config.data_dir / "qa.sqlite3").string(), config.synchronous == "full");
  return open_postgres_store(config.database, config.database_password);
}

}  // namespace relay::qa
