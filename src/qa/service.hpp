#pragma once
// The audience Q&A: rooms, attendees, questions, votes and moderation, checked
// on the server for every caller. Plain C++: the state lives in memory, and
// every operation that changes it is a write to the Store (store.hpp), which
// may be shared with other relays. A write takes the database's write lock,
// first applies the events other relays committed since (so it checks against
// the current state), then writes its rows and events, commits, applies its
// change in memory and hands its events to the rooms' subscribers. Events reach
// every subscriber of every relay in seq order: a relay applies the log in
// order, its own writes and, woken by the database, the others'. Time comes
// from a clock function so tests control it. Answers are JSON, the same views
// the events carry.
#include <cstdint>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "qa/events.hpp"
#include "qa/rate_limit.hpp"
#include "qa/store.hpp"
#include "qa/text_rules.hpp"
#include "auth/authority.hpp"
#include "qa/types.hpp"

namespace relay::qa {

using Json = nlohmann::json;
using Clock = std::function<int64_t()>;  // wall-clock milliseconds since the epoch

// A change to a room; absent members stay as they are.
struct RoomPatch {
  std::optional<std::string> title;
  std::optional<bool> open;
  std::optional<bool> auto_approve;
  std::optional<int> slow_mode_s;
};

enum class Action { approve, reject, edit, star, stage, answer, hide, reopen };
std::optional<Action> action_from_string(std::string_view text);

// What a new subscriber gets before live events: a snapshot of the room, or a
// "resumed" note and the events it missed.
struct Join {
  std::vector<Message> messages;
  bool resumed = false;
};

class Service : public auth::AttendeeDirectory {
 public:
  // How long a network ban lasts: addresses change hands, so not for good.
  static constexpr int kNetworkBanS = 24 * 3600;

  // Opens (or creates) the database qa.database names (`<data_dir>/qa.sqlite3`
  // by default, creating the folder) and restores its contents; a fresh
  // database gets one room. With a shared database (PostgreSQL) a thread
  // follows the other relays' commits. Throws StoreError.
  // Role tokens are `authority`'s, which must outlive the service; without one
  // the service keeps its own, made from `config` (for tests and tools).
  Service(const config::QaConfig& config, Clock clock, auth::Authority* authority = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Every operation below throws Error when refused.

  // unauthorized when the token is empty or unknown (asks the authority).
  Caller authenticate(std::string_view bearer_token) const;
  // The attendee a token digest belongs to (AttendeeDirectory).
  std::optional<int64_t> attendee(const auth::Digest& token) const override;
  auth::Authority& authority() const { return *authority_; }
  // {id, token, name}. `client` is the caller's address: new tokens are limited
  // per client network (an IPv4 address, an IPv6 /64) and in all, and refused
  // to a network a moderator banned.
  Json create_attendee(const std::string& name, const std::string& client);
  Json describe(const Caller& caller) const;

  Json rooms() const;
  Json create_room(const Caller& caller, const RoomPatch& patch);
  Json update_room(const Caller& caller, int64_t room, const RoomPatch& patch);
  Json set_current_room(const Caller& caller, int64_t room);
  int64_t current_room() const;

  // 201-worthy: the question as its author sees it. `client` (when known) is
  // the caller's address: an attendee from a banned network is refused, and
  // the network is remembered (in memory only) for a network ban. With an
  // idempotency key (1..64 of A-Z a-z 0-9 _ -), a repeat by the same caller
  // gets the first answer and changes nothing.
  Json ask(const Caller& caller, int64_t room, const std::string& text, const std::optional<std::string>& name,
           std::string_view client = {}, const std::string& idempotency_key = {});
  // The questions of a room the caller may see, with "voted" for attendees.
  Json questions(const Caller& caller, int64_t room) const;
  Json vote(const Caller& caller, int64_t question, bool up, std::string_view client = {},
            const std::string& idempotency_key = {});
  // The author deletes their own question: gone from the database, and the live
  // pages get question_removed.
  Json delete_question(const Caller& caller, int64_t question);
  // `text` is the new text for edit and the answer for answer.
  Json moderate(const Caller& caller, int64_t question, Action action, const std::optional<std::string>& text);
  // seconds == 0 lifts a timeout.
  Json timeout(const Caller& caller, int64_t attendee, int seconds);
  // Banning also ends the attendee's open feeds (Subscriber::banned). With
  // `network`, the network the attendee was last seen from may not create
  // identities, ask or vote for kNetworkBanS (or until the attendee is unbanned).
  Json ban(const Caller& caller, int64_t attendee, bool banned, bool network = false);
  // A banned attendee may not open a feed with their token.
  bool is_banned(const Caller& caller) const;
  std::string export_csv(const Caller& caller, int64_t room) const;
  // The answered questions of a room for publishing with its recording (docs/vod.md):
  // text, votes, the text answer and times, nothing of who asked. {"questions": [...]}.
  Json answered_questions(int64_t room) const;
  // The same as CSV: asked,answered,votes,question,answer.
  std::string answered_questions_csv(int64_t room) const;

  // Deletes what is older than qa.retention_days (Store::purge), from the
  // database and from memory; the live pages get question_removed. Runs at
  // start and once a day. Nothing when retention_days is 0.
  Store::Purged purge_expired();

  // Sends the vote counts changed since the last call as one event per room.
  // The edge calls it every qa.vote_interval_ms.
  void flush_votes();

  // Registers `subscriber` for the room's events. With `since` (and the epoch
  // the client was given, if it has one) the missed events are returned if they
  // are still kept; otherwise, or without `since`, a snapshot.
  Join subscribe(int64_t room, const Caller& caller, Subscriber* subscriber, std::optional<uint64_t> since,
                 const std::string& epoch);
  void unsubscribe(int64_t room, Subscriber* subscriber);

  // Questions waiting for a moderator (pending, word-list holds included), for
  // every room, by room id; for the technician's /metrics.
  std::map<int64_t, uint64_t> pending_questions() const;

  // The database connection's state, for /api/health (thread-safe).
  Store::Health database_health() const { return store_->health(); }
  // "sqlite" or "postgresql".
  std::string_view database_engine() const { return store_->shared() ? "postgresql" : "sqlite"; }
  // Applies the events other relays committed that this one has not seen
  // (the follower thread does this when woken; tests call it).
  void catch_up();

  // For tests and diagnostics.
  std::optional<Question> question(int64_t id) const;
  std::optional<Room> room(int64_t id) const;
  std::string epoch() const;
  uint64_t applied_seq() const;
  size_t subscriber_count() const;

 private:
  struct RoomState {
    Room room;
    EventLog log;
    std::vector<std::pair<Subscriber*, Caller>> subscribers;
    std::set<int64_t> dirty_votes;  // questions whose count changed since the last flush
    std::map<int64_t, int64_t> last_asked_ms;  // per attendee, for slow mode
    std::set<int64_t> questions;  // ids of the room's questions, so a listing reads only its own
  };

  struct Change;
  class Write;
  friend class Write;

  // Restores memory from the database's contents (start, or a relay that fell
  // too far behind); subscribers are told to resync.
  void restore(Store::Contents contents);
  void reload();
  // With write_mutex_ held: reads and applies the events after applied_seq_.
  void catch_up_locked();
  // With mutex_ held: applies the changes and hands out the messages of events
  // read from the log, in order.
  void apply_stored(const std::vector<StoredEvent>& events);
  // With mutex_ held: the change in memory; `remote` when another relay made it
  // (its rate-limit tokens are then taken here too).
  void apply(const Change& change, bool remote);
  // With mutex_ held: appends the event to its room's log and delivers it.
  void deliver(const StoredEvent& event);
  void follow();
  std::vector<std::string> quoting(const Question& q) const;
  std::string idempotency_scope(const Caller& caller, std::string_view operation, const std::string& key) const;

  void require_staff(const Caller& caller) const;
  void require_attendee_may_act(const Caller& caller, int64_t now) const;
  // The key a client address counts and is banned under: a salted hash of its
  // network, so the Q&A's memory holds no address. The salt is new per process.
  std::string network_key(std::string_view client) const;
  // Refuses an attendee's request from a banned network and remembers where
  // the attendee was seen.
  void check_network(const Caller& caller, std::string_view client, int64_t now);
  bool network_banned(const std::string& key, int64_t now) const;
  // Removes the attendees a purge deleted from memory, with their votes.
  void forget_purged_attendees(int64_t before_ms);
  void remove_question(int64_t id);
  RoomState& room_state(int64_t room);
  const RoomState& room_state(int64_t room) const;
  Question& find_question(int64_t id);
  const Question& find_question(int64_t id) const;
  std::string check_text(const std::string& text, std::string_view what) const;
  std::string check_name(const std::string& name) const;

  Json room_json(const Room& room) const;
  Json question_json(const Question& q, bool staff) const;
  bool may_see(const Caller& caller, const Question& q) const;

  // An event of `room` numbered `seq`, with the same text for every audience.
  StoredEvent make_event(uint64_t seq, int64_t room, std::string_view type, Json body) const;
  // The event for a question that changed from `before` (nullopt when new).
  StoredEvent question_event(uint64_t seq, const Question& q, std::optional<State> before) const;
  // The questions of a room the caller may see, as the caller sees them.
  Json visible_items(int64_t room_id, const Caller& caller) const;
  Message snapshot(const RoomState& room, const Caller& caller) const;

  config::QaConfig config_;
  Clock clock_;
  auth::Authority* authority_;
  std::unique_ptr<auth::Authority> own_authority_;  // when none was given
  std::unique_ptr<Store> store_;
  WordFilter filter_;

  // A write holds write_mutex_ throughout (one at a time per relay, and the one
  // user of the store's connection), and mutex_, which readers take, except
  // while the database works, so a reader (a page loading the questions, a
  // WebSocket subscribing, a token being checked) never waits for a commit.
  mutable std::mutex write_mutex_;
  mutable std::mutex mutex_;
  std::string epoch_;
  uint64_t applied_seq_ = 0;  // the last event of the log applied in memory
  int64_t last_trim_ms_ = 0;
  std::map<int64_t, RoomState> rooms_;
  int64_t current_room_ = 0;
  std::unordered_map<int64_t, Attendee> attendees_;
  std::unordered_map<std::string, int64_t> attendee_by_token_;
  std::map<int64_t, Question> questions_;
  std::unordered_map<int64_t, std::set<int64_t>> voters_;  // question -> attendees
  int64_t next_question_ = 1;
  int64_t next_attendee_ = 1;
  int64_t next_room_ = 1;
  RateLimiter question_limiter_;
  RateLimiter attendee_limiter_;
  RateLimiter vote_limiter_;
  RateLimiter global_identity_limiter_;  // one bucket, all networks
  const std::string network_salt_;
  // In memory only, never on disk: the network key each attendee was last seen
  // from (for a network ban), and the banned networks with the time their ban
  // ends. Both are lost on restart.
  std::unordered_map<int64_t, std::string> attendee_network_;
  std::unordered_map<std::string, int64_t> network_bans_;

  std::atomic<bool> stopping_{false};
  std::thread follower_;  // shared databases only
};

}  // namespace relay::qa
