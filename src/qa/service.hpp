#pragma once
// The audience Q&A: rooms, attendees, questions, votes and moderation, checked
// on the server for every caller. Plain C++ with one mutex: every operation
// validates, writes its changes to the Store in one transaction, applies them in
// memory, numbers the resulting events and hands them to the room's subscribers,
// all under the lock, so events reach every subscriber in seq order. Time comes
// from a clock function so tests control it. Answers are JSON, the same views
// the events carry.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
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

  // Opens (or creates) `<data_dir>/qa.sqlite3`, creating the folder, and
  // restores its contents; a fresh database gets one room. Throws StoreError.
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
  // the network is remembered (in memory only) for a network ban.
  Json ask(const Caller& caller, int64_t room, const std::string& text, const std::optional<std::string>& name,
           std::string_view client = {});
  // The questions of a room the caller may see, with "voted" for attendees.
  Json questions(const Caller& caller, int64_t room) const;
  Json vote(const Caller& caller, int64_t question, bool up, std::string_view client = {});
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

  // For tests and diagnostics.
  std::optional<Question> question(int64_t id) const;
  std::optional<Room> room(int64_t id) const;
  const std::string& epoch() const { return epoch_; }
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

  // What an operation that changes something holds: write_mutex_ throughout, so
  // such operations run one at a time, in order; mutex_ (the state readers take)
  // except while its transaction runs, so a reader (a page loading the
  // questions, a WebSocket subscribing, a token being checked) never waits for
  // a commit's fsync. Memory changes only under both, after the commit.
  class WriteLock {
   public:
    explicit WriteLock(const Service& service) : writing_(service.write_mutex_), state_(service.mutex_) {}
    template <class Commit>
    void commit_unlocked(Commit&& commit) {
      state_.unlock();
      struct Relock {
        std::unique_lock<std::mutex>& lock;
        ~Relock() { lock.lock(); }
      } relock{state_};
      commit();
    }

   private:
    std::lock_guard<std::mutex> writing_;
    std::unique_lock<std::mutex> state_;
  };

  void require_staff(const Caller& caller) const;
  void require_attendee_may_act(const Caller& caller, int64_t now) const;
  // The key a client address counts and is banned under: a salted hash of its
  // network, so the Q&A's memory holds no address. The salt is new per process.
  std::string network_key(std::string_view client) const;
  // Refuses an attendee's request from a banned network and remembers where
  // the attendee was seen.
  void check_network(const Caller& caller, std::string_view client, int64_t now);
  bool network_banned(const std::string& key, int64_t now) const;
  // Removes the questions and attendees a purge deleted from memory; publishes removals.
  void forget_purged(int64_t before_ms);
  void remove_question(RoomState& room, int64_t id);
  RoomState& room_state(int64_t room);
  const RoomState& room_state(int64_t room) const;
  Question& find_question(int64_t id);
  const Question& find_question(int64_t id) const;
  std::string check_text(const std::string& text, std::string_view what) const;
  std::string check_name(const std::string& name) const;

  Json room_json(const Room& room) const;
  Json question_json(const Question& q, bool staff) const;
  bool may_see(const Caller& caller, const Question& q) const;

  // Numbers and publishes events; call after the transaction committed. The
  // room's seq must already have been bumped in memory and the store.
  void publish(RoomState& room, std::shared_ptr<Event> event);
  std::shared_ptr<Event> make_event(RoomState& room, std::string_view type, Json body);
  // Events for a question that changed from `before` (nullopt when new).
  void publish_question(RoomState& room, const Question& q, std::optional<State> before);
  // The questions of a room the caller may see, as the caller sees them.
  Json visible_items(int64_t room_id, const Caller& caller) const;
  Message snapshot(const RoomState& room, const Caller& caller) const;

  config::QaConfig config_;
  Clock clock_;
  std::string epoch_;
  auth::Authority* authority_;
  std::unique_ptr<auth::Authority> own_authority_;  // when none was given
  std::unique_ptr<Store> store_;
  WordFilter filter_;

  mutable std::mutex write_mutex_;  // see WriteLock
  mutable std::mutex mutex_;
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
};

}  // namespace relay::qa
