#pragma once
// The Q&A's durable state in one SQLite file (WAL journal). The domain keeps
// everything in memory and writes each change here, inside one transaction per
// operation, before it answers; on start it reads it all back. A transaction
// that committed is in the WAL file before the call returns, so an operation
// answered 2xx survives the process being killed (with synchronous=FULL also a
// power cut).
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "qa/types.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace relay::qa {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  struct Contents {
    std::vector<Room> rooms;
    std::vector<Attendee> attendees;
    std::vector<Question> questions;
    std::vector<std::pair<int64_t, int64_t>> votes;  // (question, attendee)
    std::map<std::string, std::string> meta;
  };

  // Opens or creates the database. Throws StoreError with the file name and the
  // reason, also when another process has it open: two relays writing one file
  // would hand out the same ids (a lock file next to it, released even on kill -9).
  // The database, its WAL and shared-memory files and the lock file are the
  // owner's only (0600).
  Store(const std::string& file, bool full_sync);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Contents load();

  // What purge() deleted.
  struct Purged {
    int64_t questions = 0;
    int64_t votes = 0;
    int64_t attendees = 0;
  };
  // Deletes, in one transaction, the questions (with their edits and answers)
  // and attendees (with their names) created before `before_ms`, and every vote
  // of either; recounts the votes of the questions left, then compacts the file
  // (VACUUM, WAL truncated) so the deleted text is not left in free pages. Ids
  // are never handed out again (meta next_question / next_attendee).
  Purged purge(int64_t before_ms);

  // All writes between begin() and commit() land together or not at all; a
  // Transaction destroyed without commit() rolls back.
  class Transaction {
   public:
    explicit Transaction(Store& store);
    ~Transaction();
    void commit();

   private:
    Store& store_;
    bool done_ = false;
  };

  void save_room(const Room& room);
  void save_attendee(const Attendee& attendee);
  void save_question(const Question& question);
  void add_vote(int64_t question, int64_t attendee);
  void remove_vote(int64_t question, int64_t attendee);
  // The question and its votes, gone from the file (secure_delete zeroes the pages).
  void delete_question(int64_t question);
  void set_meta(const std::string& key, const std::string& value);

 private:
  class Statement;
  void exec(const char* sql);
  int64_t count(const char* sql);
  [[noreturn]] void fail(const std::string& what) const;
  Statement& statement(const char* sql);

  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  std::string file_;
  std::map<const char*, std::unique_ptr<Statement>> statements_;
};

}  // namespace relay::qa
