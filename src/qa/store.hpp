#pragma once
// The Q&A's durable state, behind one interface with two engines: an SQLite file
// (the embedded default, one relay) and PostgreSQL (several relays sharing one
// database). The domain (qa::Service) keeps everything in memory and writes each
// change here, in one transaction per operation, before it answers.
//
// The database is also the event log all relays share. A write transaction
// first takes the one write lock every relay on the database shares (begin()),
// which hands back the last event number committed; the relay then reads and
// applies the events it has not seen (events_after()), checks the operation,
// writes its rows and its events numbered from there, and commits them together
// (commit()). Numbers are therefore handed out in commit order, without gaps
// in what a reader can see: a reader that sees event n sees every event before
// it. Another relay learns of a commit by wait_for_commits() (PostgreSQL
// LISTEN/NOTIFY; the notification carries no data, so a lost one costs latency,
// never an event) and reads the events from the table.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "qa/types.hpp"

namespace relay::qa {

class StoreError : public std::runtime_error {
 public:
  // `unavailable`: the database cannot be reached right now (connection lost,
  // server restarting); the operation may be retried, and the relay answers 503
  // with Retry-After. Otherwise the database refused or holds something wrong.
  explicit StoreError(const std::string& what, bool unavailable = false)
      : std::runtime_error(what), unavailable(unavailable) {}
  bool unavailable;
};

// One event as the database keeps it. The texts are built once by the relay that
// wrote it; every relay hands the same bytes to its subscribers.
struct StoredEvent {
  uint64_t seq = 0;
  int64_t room = 0;  // whose subscribers get it; 0 for a change no page is told of
  int64_t author = 0;
  int64_t created_ms = 0;
  std::string staff;       // message texts (JSON); empty: none for that audience
  std::string everyone;
  std::string for_author;
  std::string change;  // JSON: the rows the event changed, applied by every relay to its memory
};

class Store {
 public:
  struct Contents {
    std::vector<Room> rooms;
    std::vector<Attendee> attendees;
    std::vector<Question> questions;
    std::vector<std::pair<int64_t, int64_t>> votes;  // (question, attendee)
    std::map<std::string, std::string> meta;
    std::string epoch;  // made when the database was created; resume tokens name it
    uint64_t seq = 0;   // the last event committed; the contents are exactly as of it
  };

  // What purge() deleted.
  struct Purged {
    int64_t questions = 0;
    int64_t votes = 0;
    int64_t attendees = 0;
  };

  // The connection's state for health (thread-safe; PostgreSQL only ever degrades).
  struct Health {
    bool ok = true;
    std::string problem;   // why not, without secrets
    int64_t since_ms = 0;  // wall clock, when it went wrong
  };

  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // For logs and errors: the engine and where it is, never a password.
  virtual std::string describe() const = 0;
  // True when several relays may share it (PostgreSQL): the service then follows
  // the other relays' commits.
  virtual bool shared() const = 0;

  // Everything, as of one moment (seq). Creates the schema and the epoch when new.
  virtual Contents load() = 0;

  // A write: begin() takes the shared write lock (waiting for the writer before)
  // and returns the last committed seq; then the save/append calls; commit()
  // records `last_seq` (the highest seq appended, or the one begin() returned),
  // wakes the other relays and commits. rollback() undoes everything since
  // begin() and never throws. Calls outside begin()..commit() run on their own.
  virtual uint64_t begin() = 0;
  virtual void commit(uint64_t last_seq) = 0;
  virtual void rollback() noexcept = 0;

  virtual void save_room(const Room& room) = 0;
  virtual void save_attendee(const Attendee& attendee) = 0;
  virtual void save_question(const Question& question) = 0;
  virtual void add_vote(int64_t question, int64_t attendee) = 0;
  virtual void remove_vote(int64_t question, int64_t attendee) = 0;
  // The question and its votes, gone.
  virtual void delete_question(int64_t question) = 0;
  virtual void set_meta(const std::string& key, const std::string& value) = 0;
  virtual void append_event(const StoredEvent& event) = 0;

  // Within a write: blanks (texts and change emptied, the number kept) every
  // event, and deletes every idempotency answer, that holds one of `needles`:
  // a deleted question's text must not live on in the log.
  virtual void redact(const std::vector<std::string>& needles) = 0;

  // Idempotent writes: the answer an earlier request with this key got (the key
  // already names its caller), and recording one within the write.
  virtual std::optional<std::string> idempotent_answer(const std::string& key) = 0;
  virtual void save_idempotent_answer(const std::string& key, const std::string& answer, int64_t created_ms) = 0;

  // The events committed after `seq`, in order, at most `limit`; nullopt when
  // some of them are no longer kept (the caller must load() again).
  virtual std::optional<std::vector<StoredEvent>> events_after(uint64_t seq, size_t limit) = 0;
  // Deletes events created before `before_ms` (they are only for resuming), and
  // idempotency answers older than that.
  virtual void trim_events(int64_t before_ms) = 0;

  // Deletes, in one transaction, the questions (with their edits and answers)
  // and attendees (with their names) created before `before_ms`, every vote of
  // either, and the events older than that (they hold the same texts); recounts
  // the votes of the questions left. SQLite also compacts the file so the
  // deleted text is not left in free pages. Ids are never handed out again
  // (meta next_question / next_attendee).
  virtual Purged purge(int64_t before_ms) = 0;

  // Blocks up to `timeout` until another relay may have committed (a
  // notification), or the timeout passes. Called from one thread of its own,
  // alongside the other calls (its own connection). SQLite: just waits.
  virtual void wait_for_commits(std::chrono::milliseconds timeout) = 0;
  // Ends a wait_for_commits() early (on shutdown); thread-safe.
  virtual void interrupt() = 0;

  virtual Health health() const = 0;

 protected:
  Store() = default;
};

// All writes between construction and commit() land together or not at all; a
// Transaction destroyed without commit() rolls back.
class Transaction {
 public:
  explicit Transaction(Store& store) : store_(store), seq_(store.begin()) {}
  ~Transaction() {
    if (!done_) store_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // The last committed seq when the lock was taken.
  uint64_t base_seq() const { return seq_; }
  void commit(uint64_t last_seq) {
    store_.commit(last_seq);
    done_ = true;
  }
  void commit() { commit(seq_); }

 private:
  Store& store_;
  uint64_t seq_;
  bool done_ = false;
};

// The SQLite engine: `file` is created 0600 when missing; refuses a file another
// running relay holds (a lock file next to it, released even on kill -9).
std::unique_ptr<Store> open_sqlite_store(const std::string& file, bool full_sync);
// The PostgreSQL engine: `uri` is a postgresql:// URI without a password (libpq
// finds it in `password`, PGPASSWORD or ~/.pgpass). Connects now; throws
// StoreError with a clear reason (never the password) when it cannot.
std::unique_ptr<Store> open_postgres_store(const std::string& uri, const std::string& password);
// The engine qa.database names: SQLite in qa.data_dir/qa.sqlite3, or PostgreSQL.
std::unique_ptr<Store> open_store(const config::QaConfig& config);

}  // namespace relay::qa
