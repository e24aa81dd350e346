#include "qa/service.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "common/client_network.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"

namespace relay::qa {
namespace {

constexpr std::string_view kActionNames[] = {"approve", "reject", "edit", "star", "stage", "answer", "hide", "reopen"};
constexpr int kMaxRoomTitleChars = 200;
constexpr int kMaxAnswerChars = 2000;
constexpr int kMaxTimeoutS = 7 * 24 * 3600;
// Votes are idempotent, but every change is a database write: an attendee toggling
// a vote in a loop is slowed down. Far above what a person clicks.
constexpr double kVotesPerMinute = 120;
constexpr int kVoteBurst = 60;
// What a client waits before asking for an identity again when the Q&A holds qa.max_attendees.
constexpr int kFullRetryS = 60;
constexpr int64_t kDayMs = 24 * 3600 * 1000;
constexpr int64_t kEventKeepMs = 3600 * 1000;
constexpr int64_t kTrimIntervalMs = 10 * 60 * 1000;

int retry_seconds(int64_t wait_ms) { return static_cast<int>(std::min<int64_t>((wait_ms + 999) / 1000, INT32_MAX)); }

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

Message message(const Json& json) { return std::make_shared<const std::string>(dump(json)); }

[[noreturn]] void refuse(Error::Code code, std::string_view reason, const std::string& text, int retry_after_s = 0) {
  throw Error(code, reason, text, retry_after_s);
}

bool votable(State state) { return state == State::approved || state == State::starred || state == State::on_stage; }

// Spreadsheets run cells starting with these as formulas; a leading quote keeps them text.
std::string csv_field(const std::string& value) {
  std::string out = "\"";
  if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' || value[0] == '@' || value[0] == '\t'))
    out += '\'';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// config.word_list plus the lines of config.word_list_file (blank lines and # comments skipped).
std::vector<std::string> word_list(const config::QaConfig& config) {
  std::vector<std::string> words = config.word_list;
  if (config.word_list_file.empty()) return words;
  std::ifstream file(config.word_list_file);
  if (!file)
    throw StoreError(fmt::format("cannot read qa.word_list_file '{}': {}", config.word_list_file.string(),
                                 std::strerror(errno)));
  for (std::string line; std::getline(file, line);) {
    std::string word = normalize_text(line);
    if (!word.empty() && word[0] != '#') words.push_back(std::move(word));
  }
  return words;
}

// Checks a room change and applies it; refuses it whole if any part is bad.
void apply_patch(Room& room, const RoomPatch& patch) {
  Room changed = room;
  if (patch.title) {
    std::string title = normalize_text(*patch.title);
    auto count = count_code_points(title);
    if (!count || *count == 0 || *count > kMaxRoomTitleChars || title.find('\n') != std::string::npos)
      refuse(Error::Code::unprocessable, "bad_title",
             fmt::format("the title must be one line of 1..{} characters", kMaxRoomTitleChars));
    changed.title = title;
  }
  if (patch.open) changed.open = *patch.open;
  if (patch.auto_approve) changed.auto_approve = *patch.auto_approve;
  if (patch.slow_mode_s) {
    if (*patch.slow_mode_s < 0 || *patch.slow_mode_s > 3600)
      refuse(Error::Code::unprocessable, "bad_slow_mode", "slow_mode_s must be 0..3600");
    changed.slow_mode_s = *patch.slow_mode_s;
  }
  room = std::move(changed);
}

}  // namespace

std::optional<Action> action_from_string(std::string_view text) {
  for (size_t i = 0; i < std::size(kActionNames); ++i)
    if (kActionNames[i] == text) return static_cast<Action>(i);
  return std::nullopt;
}

// What one write changed: the rows as they are after it. It travels in the log
// (the first event of the write, as JSON), so every relay applies the same change.
struct Service::Change {
  std::vector<Room> rooms;
  std::vector<Attendee> attendees;
  std::vector<Question> questions;
  std::vector<int64_t> removed;  // questions deleted
  struct Vote {
    int64_t question = 0;
    int64_t attendee = 0;
    bool up = false;
  };
  std::vector<Vote> votes;
  std::optional<int64_t> current_room;
  std::optional<int64_t> purged_before;  // the attendees created before this are gone
  // A moderator's network ban: every relay that has seen the attendee's
  // network (addresses stay in memory) bans or frees it.
  struct NetworkBan {
    int64_t attendee = 0;
    bool banned = false;
  };
  std::optional<NetworkBan> network_ban;

  bool empty() const {
    return rooms.empty() && attendees.empty() && questions.empty() && removed.empty() && votes.empty() &&
           !current_room && !purged_before && !network_ban;
  }

  Json to_json() const {
    Json json = Json::object();
    if (!rooms.empty()) {
      Json list = Json::array();
      for (const Room& r : rooms)
        list.push_back({r.id, r.title, r.open, r.auto_approve, r.slow_mode_s, r.seq, r.created_ms});
      json["rooms"] = std::move(list);
    }
    if (!attendees.empty()) {
      Json list = Json::array();
      for (const Attendee& a : attendees)
        list.push_back({a.id, a.token_hash, a.name, a.created_ms, a.timeout_until_ms, a.banned});
      json["attendees"] = std::move(list);
    }
    if (!questions.empty()) {
      Json list = Json::array();
      for (const Question& q : questions)
        list.push_back({q.id, q.room, q.author, q.author_name, q.text, q.original_text, q.answer, to_string(q.state),
                        q.held, q.votes, q.created_ms, q.updated_ms});
      json["questions"] = std::move(list);
    }
    if (!removed.empty()) json["removed"] = removed;
    if (!votes.empty()) {
      Json list = Json::array();
      for (const Vote& v : votes) list.push_back({v.question, v.attendee, v.up});
      json["votes"] = std::move(list);
    }
    if (current_room) json["current_room"] = *current_room;
    if (purged_before) json["purged_before"] = *purged_before;
    if (network_ban) json["network_ban"] = {network_ban->attendee, network_ban->banned};
    return json;
  }

  // Throws (nlohmann's exceptions, StoreError) on a record this relay cannot read.
  static Change from_json(const Json& json) {
    Change c;
    if (auto it = json.find("rooms"); it != json.end())
      for (const Json& r : *it)
        c.rooms.push_back({r.at(0).get<int64_t>(), r.at(1).get<std::string>(), r.at(2).get<bool>(),
                           r.at(3).get<bool>(), r.at(4).get<int>(), r.at(5).get<uint64_t>(), r.at(6).get<int64_t>()});
    if (auto it = json.find("attendees"); it != json.end())
      for (const Json& a : *it)
        c.attendees.push_back({a.at(0).get<int64_t>(), a.at(1).get<std::string>(), a.at(2).get<std::string>(),
                               a.at(3).get<int64_t>(), a.at(4).get<int64_t>(), a.at(5).get<bool>()});
    if (auto it = json.find("questions"); it != json.end()) {
      for (const Json& j : *it) {
        Question q;
        q.id = j.at(0).get<int64_t>();
        q.room = j.at(1).get<int64_t>();
        q.author = j.at(2).get<int64_t>();
        q.author_name = j.at(3).get<std::string>();
        q.text = j.at(4).get<std::string>();
        q.original_text = j.at(5).get<std::string>();
        q.answer = j.at(6).get<std::string>();
        auto state = state_from_string(j.at(7).get<std::string>());
        if (!state) throw StoreError(fmt::format("the Q&A log names an unknown state for question {}", q.id));
        q.state = *state;
        q.held = j.at(8).get<bool>();
        q.votes = j.at(9).get<int64_t>();
        q.created_ms = j.at(10).get<int64_t>();
        q.updated_ms = j.at(11).get<int64_t>();
        c.questions.push_back(std::move(q));
      }
    }
    if (auto it = json.find("removed"); it != json.end()) c.removed = it->get<std::vector<int64_t>>();
    if (auto it = json.find("votes"); it != json.end())
      for (const Json& v : *it) c.votes.push_back({v.at(0).get<int64_t>(), v.at(1).get<int64_t>(), v.at(2).get<bool>()});
    if (auto it = json.find("current_room"); it != json.end()) c.current_room = it->get<int64_t>();
    if (auto it = json.find("purged_before"); it != json.end()) c.purged_before = it->get<int64_t>();
    if (auto it = json.find("network_ban"); it != json.end())
      c.network_ban = NetworkBan{it->at(0).get<int64_t>(), it->at(1).get<bool>()};
    return c;
  }
};

// Runs a store call; a database out of reach becomes a 503 for the caller.
constexpr int kUnavailableRetryS = 2;
template <class Call>
auto guarded(Call&& call) {
  try {
    return call();
  } catch (const StoreError& e) {
    if (!e.unavailable) throw;
    relay::log::get("qa")->warn("{}", e.what());
    throw Error(Error::Code::unavailable, "database_unavailable",
                "the Q&A database cannot be reached right now; try again", kUnavailableRetryS);
  }
}

// One write. Construction takes write_mutex_, begins the database transaction
// (the shared write lock), applies what other relays committed before it, and
// then holds mutex_ while the operation checks and prepares its change.
// commit() writes the change's rows and the events, commits, and applies and
// publishes them; a Write destroyed without commit() rolls back. A database
// that cannot be reached turns into Error unavailable (503, Retry-After).
class Service::Write {
 public:
  explicit Write(Service& service) : service_(service), writing_(service.write_mutex_) {
    Store& store = *service_.store_;
    for (int attempt = 0;; ++attempt) {
      seq_ = guarded([&] { return store.begin(); });
      open_ = true;
      if (seq_ <= service_.applied_seq_) break;
      // Another relay committed since: apply it first, within this transaction.
      bool complete = true;
      while (service_.applied_seq_ < seq_) {
        auto events = guarded([&] { return store.events_after(service_.applied_seq_, kCatchUpBatch); });
        if (!events || events->empty()) {
          complete = false;
          break;
        }
        std::lock_guard state(service_.mutex_);
        service_.apply_stored(*events);
      }
      if (complete) break;
      // Too far behind: the log no longer holds what this relay missed.
      store.rollback();
      open_ = false;
      if (attempt > 0) throw StoreError("the Q&A log is missing events this relay has not applied");
      guarded([&] {
        service_.reload();
        return 0;
      });
    }
    state_ = std::unique_lock(service_.mutex_);
  }

  ~Write() {
    if (open_) service_.store_->rollback();
  }
  Write(const Write&) = delete;
  Write& operator=(const Write&) = delete;

  // The number of the next event of this write.
  uint64_t next_seq() { return seq_ + ++events_; }

  // Writes, commits, applies and publishes. `events` are numbered by next_seq()
  // in order; a write without events gets one no page is told of, so the
  // change still reaches the other relays.
  void commit(const Change& change, std::vector<StoredEvent> events, const std::string& idempotency_key = {},
              const std::string& answer = {}) {
    if (events.empty()) {
      StoredEvent silent;
      silent.seq = next_seq();
      silent.created_ms = service_.clock_();
      events.push_back(std::move(silent));
    }
    events.front().change = dump(change.to_json());
    const uint64_t last = events.back().seq;
    Store& store = *service_.store_;
    state_.unlock();
    try {
      guarded([&] {
        for (const Room& r : change.rooms) store.save_room(r);
        for (const Attendee& a : change.attendees) store.save_attendee(a);
        for (const Question& q : change.questions) store.save_question(q);
        for (int64_t id : change.removed) {
          store.delete_question(id);
          // Only writers change questions_, and this one holds write_mutex_.
          if (auto it = service_.questions_.find(id); it != service_.questions_.end())
            store.redact(service_.quoting(it->second));
        }
        for (const Change::Vote& v : change.votes) {
          if (v.up) {
            store.add_vote(v.question, v.attendee);
          } else {
            store.remove_vote(v.question, v.attendee);
          }
        }
        if (change.current_room) store.set_meta("current_room", std::to_string(*change.current_room));
        for (const StoredEvent& e : events) store.append_event(e);
        if (!idempotency_key.empty()) store.save_idempotent_answer(idempotency_key, answer, service_.clock_());
        open_ = false;
        store.commit(last);
        return 0;
      });
    } catch (...) {
      state_.lock();
      throw;
    }
    state_.lock();
    service_.apply(change, false);
    for (const StoredEvent& e : events) service_.deliver(e);
    service_.applied_seq_ = last;
  }

 private:
  static constexpr size_t kCatchUpBatch = 5000;

  Service& service_;
  std::lock_guard<std::mutex> writing_;
  std::unique_lock<std::mutex> state_;
  uint64_t seq_ = 0;
  uint64_t events_ = 0;
  bool open_ = false;
};

Service::Service(const config::QaConfig& config, Clock clock, auth::Authority* authority)
    : config_(config),
      clock_(std::move(clock)),
      authority_(authority),
      filter_(word_list(config)),
      question_limiter_(config.questions_per_minute, config.question_burst),
      attendee_limiter_(config.attendees_per_minute, config.attendee_burst),
      vote_limiter_(kVotesPerMinute, kVoteBurst),
      global_identity_limiter_(config.identities_per_minute_global,
                               std::max(1, static_cast<int>(config.identities_per_minute_global))),
      network_salt_(auth::random_token()) {
  std::error_code ec;
  // Only the relay's user may look into the folder of the questions and names.
  if (std::filesystem::create_directories(config_.data_dir, ec))
    std::filesystem::permissions(config_.data_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
  if (ec)
    throw StoreError(fmt::format("cannot create the Q&A data folder '{}' (qa.data_dir): {}", config_.data_dir.string(),
                                 ec.message()));
  store_ = open_store(config_);
  if (config_.retention_days > 0) {
    const Store::Purged purged = store_->purge(clock_() - config_.retention_days * kDayMs);
    if (purged.questions + purged.attendees > 0)
      relay::log::get("qa")->info("deleted {} questions, {} votes and {} attendees older than {} days (qa.retention_days)",
                                  purged.questions, purged.votes, purged.attendees, config_.retention_days);
  }

  if (!authority_) {
    own_authority_ = std::make_unique<auth::Authority>(config_);
    authority_ = own_authority_.get();
  }
  authority_->set_attendees(this);

  try {
    {
      std::lock_guard lock(mutex_);
      restore(store_->load());
    }
    // A fresh database gets its first room; of several relays starting at once
    // on one database, the first to take the lock makes it, and the others see it.
    if (rooms_.empty()) {
      Write write(*this);
      if (rooms_.empty()) {
        Room room;
        room.id = next_room_;
        room.title = config_.default_room_title;
        room.auto_approve = config_.auto_approve;
        room.slow_mode_s = config_.slow_mode_s;
        room.created_ms = clock_();
        Change change;
        change.rooms.push_back(room);
        change.current_room = room.id;
        write.commit(change, {});
      }
    }
  } catch (const Error& e) {
    authority_->set_attendees(nullptr);
    throw StoreError(fmt::format("{}: {}", store_->describe(), e.what()), true);
  } catch (...) {
    authority_->set_attendees(nullptr);
    throw;
  }

  relay::log::get("qa")->info("{} rooms, {} questions, {} attendees restored from {}", rooms_.size(),
                              questions_.size(), attendees_.size(), store_->describe());
  if (store_->shared()) follower_ = std::thread([this] { follow(); });
}

Service::~Service() {
  stopping_ = true;
  if (follower_.joinable()) {
    store_->interrupt();
    follower_.join();
  }
  authority_->set_attendees(nullptr);
}

void Service::restore(Store::Contents contents) {
  // Subscribers of the state being replaced start again from a snapshot.
  for (auto& [id, state] : rooms_)
    for (auto& [subscriber, caller] : state.subscribers) subscriber->resync();
  rooms_.clear();
  attendees_.clear();
  attendee_by_token_.clear();
  questions_.clear();
  voters_.clear();
  epoch_ = contents.epoch;
  applied_seq_ = contents.seq;
  for (Room& room : contents.rooms) {
    next_room_ = std::max(next_room_, room.id + 1);
    const int64_t id = room.id;
    rooms_.emplace(id, RoomState{std::move(room), EventLog(config_.ws_resume_events, applied_seq_), {}, {}, {}, {}});
  }
  for (Attendee& a : contents.attendees) {
    next_attendee_ = std::max(next_attendee_, a.id + 1);
    attendee_by_token_[a.token_hash] = a.id;
    attendees_.emplace(a.id, std::move(a));
  }
  for (Question& q : contents.questions) {
    next_question_ = std::max(next_question_, q.id + 1);
    if (auto room = rooms_.find(q.room); room != rooms_.end()) {
      room->second.questions.insert(q.id);
      if (q.author != 0) {
        int64_t& last = room->second.last_asked_ms[q.author];
        last = std::max(last, q.created_ms);
      }
    }
    questions_.emplace(q.id, std::move(q));
  }
  // A purge may have deleted the newest rows; their ids stay used.
  auto stored_next = [&](const char* key) -> int64_t {
    auto it = contents.meta.find(key);
    if (it == contents.meta.end()) return 0;
    try {
      return std::stoll(it->second);
    } catch (const std::exception&) {
      return 0;
    }
  };
  next_question_ = std::max(next_question_, stored_next("next_question"));
  next_attendee_ = std::max(next_attendee_, stored_next("next_attendee"));
  for (auto [question, attendee] : contents.votes) voters_[question].insert(attendee);
  // The stored count follows the votes table in every transaction; trust the table.
  for (auto& [id, q] : questions_) q.votes = static_cast<int64_t>(voters_.count(id) ? voters_[id].size() : 0);

  current_room_ = 0;
  if (auto it = contents.meta.find("current_room"); it != contents.meta.end()) {
    try {
      current_room_ = std::stoll(it->second);
    } catch (const std::exception&) {
      current_room_ = 0;
    }
  }
  if (!rooms_.empty() && !rooms_.count(current_room_)) current_room_ = rooms_.begin()->first;
}

void Service::reload() {
  Store::Contents contents = store_->load();
  std::lock_guard lock(mutex_);
  relay::log::get("qa")->warn("fell behind the Q&A log (seq {} → {}): loaded everything again", applied_seq_,
                              contents.seq);
  restore(std::move(contents));
}

void Service::catch_up() {
  std::lock_guard writing(write_mutex_);
  catch_up_locked();
}

void Service::catch_up_locked() {
  for (;;) {
    auto events = store_->events_after(applied_seq_, 5000);
    if (!events) {
      reload();
      return;
    }
    if (events->empty()) return;
    std::lock_guard state(mutex_);
    apply_stored(*events);
    if (events->size() < 5000) return;
  }
}

// The follower: woken by the database (or once a second, in case a
// notification was lost), applies what the other relays committed.
void Service::follow() {
  while (!stopping_) {
    store_->wait_for_commits(std::chrono::seconds(1));
    if (stopping_) break;
    try {
      catch_up();
    } catch (const std::exception& e) {
      // Health shows the connection; the store backs off its reconnects.
      relay::log::get("qa")->debug("following the Q&A log: {}", e.what());
    }
  }
}

void Service::apply_stored(const std::vector<StoredEvent>& events) {
  for (const StoredEvent& event : events) {
    if (event.seq <= applied_seq_) continue;
    if (!event.change.empty()) {
      Json json = Json::parse(event.change, nullptr, false);
      if (json.is_discarded()) {
        relay::log::get("qa")->error("Q&A log event {} holds a change that is not JSON; skipped", event.seq);
      } else {
        try {
          apply(Change::from_json(json), true);
        } catch (const std::exception& e) {
          relay::log::get("qa")->error("Q&A log event {}: {}; skipped", event.seq, e.what());
        }
      }
    }
    deliver(event);
    applied_seq_ = event.seq;
  }
}

void Service::apply(const Change& change, bool remote) {
  for (const Room& room : change.rooms) {
    next_room_ = std::max(next_room_, room.id + 1);
    auto it = rooms_.find(room.id);
    if (it == rooms_.end()) {
      rooms_.emplace(room.id, RoomState{room, EventLog(config_.ws_resume_events, applied_seq_), {}, {}, {}, {}});
    } else {
      const uint64_t seq = it->second.room.seq;
      it->second.room = room;
      it->second.room.seq = std::max(seq, room.seq);
    }
  }
  for (const Attendee& a : change.attendees) {
    next_attendee_ = std::max(next_attendee_, a.id + 1);
    auto it = attendees_.find(a.id);
    const bool newly_banned = a.banned && (it == attendees_.end() || !it->second.banned);
    if (it == attendees_.end()) {
      // Every relay counts every new identity against the limit for all networks.
      if (remote) global_identity_limiter_.take("", a.created_ms);
      attendee_by_token_[a.token_hash] = a.id;
      attendees_.emplace(a.id, a);
    } else {
      it->second = a;
    }
    if (newly_banned) {
      for (auto& [room_id, room] : rooms_)
        for (auto& [subscriber, subscribed] : room.subscribers)
          if (subscribed.role == Role::attendee && subscribed.attendee == a.id) subscriber->banned();
    }
  }
  for (const Question& q : change.questions) {
    next_question_ = std::max(next_question_, q.id + 1);
    auto it = questions_.find(q.id);
    if (it != questions_.end()) {
      it->second = q;
      continue;
    }
    questions_.emplace(q.id, q);
    auto room = rooms_.find(q.room);
    if (room == rooms_.end()) continue;
    room->second.questions.insert(q.id);
    if (q.author != 0) {
      room->second.last_asked_ms[q.author] = q.created_ms;
      // The asker's token bucket is the same on every relay: each takes the token.
      if (remote) question_limiter_.take(std::to_string(q.author), q.created_ms);
    }
  }
  for (int64_t id : change.removed) remove_question(id);
  for (const Change::Vote& v : change.votes) {
    if (v.up) {
      voters_[v.question].insert(v.attendee);
    } else if (auto it = voters_.find(v.question); it != voters_.end()) {
      it->second.erase(v.attendee);
    }
    if (remote) vote_limiter_.take(std::to_string(v.attendee), clock_());
  }
  if (change.current_room) current_room_ = *change.current_room;
  if (change.purged_before) forget_purged_attendees(*change.purged_before);
  if (change.network_ban) {
    const int64_t now = clock_();
    if (auto seen = attendee_network_.find(change.network_ban->attendee); seen != attendee_network_.end()) {
      if (change.network_ban->banned) {
        std::erase_if(network_bans_, [now](const auto& entry) { return entry.second <= now; });
        network_bans_[seen->second] = now + int64_t{kNetworkBanS} * 1000;
      } else {
        network_bans_.erase(seen->second);
      }
    }
  }
}

void Service::deliver(const StoredEvent& stored) {
  if (stored.room == 0) return;
  auto room = rooms_.find(stored.room);
  if (room == rooms_.end()) return;
  auto text = [](const std::string& s) -> Message { return s.empty() ? nullptr : std::make_shared<const std::string>(s); };
  auto event = std::make_shared<Event>();
  event->seq = stored.seq;
  event->room = stored.room;
  event->staff = text(stored.staff);
  // Most events read the same for everyone: one shared text.
  event->everyone = stored.everyone == stored.staff ? event->staff : text(stored.everyone);
  event->author = stored.author;
  event->for_author = text(stored.for_author);
  EventPtr shared = std::move(event);
  room->second.room.seq = stored.seq;
  room->second.log.append(shared);
  for (auto& [subscriber, caller] : room->second.subscribers) subscriber->deliver(shared);
}

// What the log's texts of a question hold and nothing else does: its record in
// a change, and its views (staff, the public's, the author's) in the events
// and in an idempotent answer. nlohmann's JSON keeps keys sorted, so the key
// after "id" tells a question from a room or a vote count.
std::vector<std::string> Service::quoting(const Question& q) const {
  return {fmt::format("[{},{},{},\"", q.id, q.room, q.author), fmt::format(",\"id\":{},\"original_text\":", q.id),
          fmt::format(",\"id\":{},\"room\":", q.id), fmt::format(",\"id\":{},\"own\":", q.id)};
}

std::string Service::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

uint64_t Service::applied_seq() const {
  std::lock_guard lock(mutex_);
  return applied_seq_;
}

std::string Service::idempotency_scope(const Caller& caller, std::string_view operation, const std::string& key) const {
  if (key.empty()) return {};
  const bool valid = key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
                     });
  if (!valid)
    refuse(Error::Code::bad_request, "bad_idempotency_key",
           "the Idempotency-Key must be 1..64 characters of A-Z, a-z, 0-9, '-' and '_'");
  // Keys are the client's: they only ever match the same caller's requests.
  const std::string who = caller.role == Role::attendee ? fmt::format("a{}", caller.attendee)
                                                        : std::string(to_string(caller.role));
  return fmt::format("{}:{}:{}", who, operation, key);
}

Caller Service::authenticate(std::string_view bearer_token) const {
  if (bearer_token.empty()) refuse(Error::Code::unauthorized, "no_token", "a bearer token is required");
  if (auto caller = authority_->authenticate(bearer_token)) return *caller;
  refuse(Error::Code::unauthorized, "bad_token", "the token is not valid");
}

std::optional<int64_t> Service::attendee(const auth::Digest& token) const {
  const std::string hash = auth::to_hex(token);
  {
    std::lock_guard lock(mutex_);
    if (auto it = attendee_by_token_.find(hash); it != attendee_by_token_.end()) return it->second;
  }
  // Made on another relay a moment ago (the attendee's next request came here
  // before the notification): look at the log once.
  if (!store_->shared()) return std::nullopt;
  try {
    const_cast<Service*>(this)->catch_up();
  } catch (const std::exception& e) {
    relay::log::get("qa")->debug("catching up for a token: {}", e.what());
  }
  std::lock_guard lock(mutex_);
  if (auto it = attendee_by_token_.find(hash); it != attendee_by_token_.end()) return it->second;
  return std::nullopt;
}

std::string Service::network_key(std::string_view client) const {
  return auth::to_hex(auth::sha256(network_salt_ + client_network(client)));
}

bool Service::network_banned(const std::string& key, int64_t now) const {
  auto it = network_bans_.find(key);
  return it != network_bans_.end() && it->second > now;
}

void Service::check_network(const Caller& caller, std::string_view client, int64_t now) {
  if (caller.role != Role::attendee || client.empty()) return;
  std::string key = network_key(client);
  if (network_banned(key, now)) refuse(Error::Code::forbidden, "banned", "your network has been banned from the Q&A");
  attendee_network_[caller.attendee] = std::move(key);
}

void Service::require_staff(const Caller& caller) const {
  if (!caller.is_staff()) refuse(Error::Code::forbidden, "forbidden", "only a moderator may do this");
}

void Service::require_attendee_may_act(const Caller& caller, int64_t now) const {
  if (caller.role != Role::attendee) return;
  auto it = attendees_.find(caller.attendee);
  if (it == attendees_.end()) refuse(Error::Code::unauthorized, "bad_token", "the token is not valid");
  if (it->second.banned) refuse(Error::Code::forbidden, "banned", "you have been banned from the Q&A");
  if (it->second.timeout_until_ms > now) {
    int seconds = static_cast<int>((it->second.timeout_until_ms - now + 999) / 1000);
    refuse(Error::Code::forbidden, "timed_out", fmt::format("you are timed out for another {} s", seconds), seconds);
  }
}

Service::RoomState& Service::room_state(int64_t room) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) refuse(Error::Code::not_found, "no_room", fmt::format("there is no room {}", room));
  return it->second;
}

const Service::RoomState& Service::room_state(int64_t room) const {
  return const_cast<Service*>(this)->room_state(room);
}

Question& Service::find_question(int64_t id) {
  auto it = questions_.find(id);
  if (it == questions_.end()) refuse(Error::Code::not_found, "no_question", fmt::format("there is no question {}", id));
  return it->second;
}

const Question& Service::find_question(int64_t id) const { return const_cast<Service*>(this)->find_question(id); }

std::string Service::check_text(const std::string& raw, std::string_view what) const {
  std::string text = normalize_text(raw);
  auto count = count_code_points(text);
  if (!count)
    refuse(Error::Code::unprocessable, "invalid_text",
           fmt::format("the {} must be valid UTF-8 without control characters", what));
  if (*count == 0) refuse(Error::Code::unprocessable, "empty", fmt::format("the {} is empty", what));
  const size_t limit = what == "answer" ? kMaxAnswerChars : static_cast<size_t>(config_.max_question_chars);
  if (*count > limit)
    refuse(Error::Code::unprocessable, "too_long",
           fmt::format("the {} has {} characters, at most {} are allowed", what, *count, limit));
  return text;
}

std::string Service::check_name(const std::string& raw) const {
  std::string name = normalize_text(raw);
  auto count = count_code_points(name);
  if (!count || name.find('\n') != std::string::npos)
    refuse(Error::Code::unprocessable, "invalid_name", "the name must be one line of valid UTF-8");
  if (*count > static_cast<size_t>(config_.max_name_chars))
    refuse(Error::Code::unprocessable, "too_long",
           fmt::format("the name has {} characters, at most {} are allowed", *count, config_.max_name_chars));
  return name;
}

Json Service::room_json(const Room& room) const {
  return Json{{"id", room.id},
              {"title", room.title},
              {"open", room.open},
              {"auto_approve", room.auto_approve},
              {"slow_mode_s", room.slow_mode_s},
              {"seq", applied_seq_},  // the log's last event, as a snapshot now would start
              {"current", room.id == current_room_}};
}

Json Service::question_json(const Question& q, bool staff) const {
  Json json{{"id", q.id},       {"room", q.room},     {"text", q.text},           {"author_name", q.author_name},
            {"state", to_string(q.state)}, {"votes", q.votes}, {"answer", q.answer}, {"created", q.created_ms},
            {"updated", q.updated_ms}};
  if (staff) {
    json["author"] = q.author;
    json["original_text"] = q.original_text;
    json["held"] = q.held;
  }
  return json;
}

bool Service::may_see(const Caller& caller, const Question& q) const {
  if (caller.is_staff() || is_public(q.state)) return true;
  return caller.role == Role::attendee && q.author != 0 && q.author == caller.attendee;
}

StoredEvent Service::make_event(uint64_t seq, int64_t room, std::string_view type, Json body) const {
  StoredEvent event;
  event.seq = seq;
  event.room = room;
  event.created_ms = clock_();
  body["type"] = type;
  body["seq"] = seq;
  body["room"] = room;
  body["time"] = event.created_ms;
  event.staff = dump(body);
  event.everyone = event.staff;
  return event;
}

StoredEvent Service::question_event(uint64_t seq, const Question& q, std::optional<State> before) const {
  StoredEvent event = make_event(seq, q.room, "question", Json{{"question", question_json(q, true)}});
  const Json header{{"seq", seq}, {"room", q.room}, {"time", event.created_ms}};
  auto with_header = [&](Json body) {
    body.update(header);
    return dump(body);
  };
  if (is_public(q.state)) {
    event.everyone = with_header(Json{{"type", "question"}, {"question", question_json(q, false)}});
  } else if (before && is_public(*before)) {
    event.everyone = with_header(Json{{"type", "question_removed"}, {"id", q.id}});
  } else {
    event.everyone.clear();
  }
  if (q.author != 0) {
    Json own = question_json(q, false);
    own["own"] = true;
    event.author = q.author;
    event.for_author = with_header(Json{{"type", "question"}, {"question", own}});
  }
  return event;
}

// The questions of a room the caller may see, as the caller sees them.
Json Service::visible_items(int64_t room_id, const Caller& caller) const {
  Json items = Json::array();
  for (int64_t id : room_state(room_id).questions) {
    const Question& q = questions_.at(id);
    if (!may_see(caller, q)) continue;
    Json item = question_json(q, caller.is_staff());
    if (caller.role == Role::attendee) {
      if (q.author == caller.attendee) item["own"] = true;
      auto it = voters_.find(id);
      item["voted"] = it != voters_.end() && it->second.count(caller.attendee) > 0;
    }
    items.push_back(std::move(item));
  }
  return items;
}

Message Service::snapshot(const RoomState& room, const Caller& caller) const {
  Json items = visible_items(room.room.id, caller);
  return message(Json{{"type", "snapshot"},
                      {"epoch", epoch_},
                      {"seq", applied_seq_},
                      {"room", room.room.id},
                      {"time", clock_()},
                      {"room_info", room_json(room.room)},
                      {"current_room", current_room_},
                      {"role", to_string(caller.role)},
                      {"items", std::move(items)}});
}

Json Service::create_attendee(const std::string& raw_name, const std::string& client) {
  std::string name = check_name(raw_name);
  std::string token = auth::random_token();
  Write write(*this);
  const int64_t now = clock_();
  const std::string network = network_key(client);
  if (network_banned(network, now))
    refuse(Error::Code::forbidden, "banned", "your network has been banned from the Q&A");
  if (attendees_.size() >= static_cast<size_t>(config_.max_attendees))
    refuse(Error::Code::rate_limited, "too_many_attendees",
           fmt::format("the Q&A has reached its {} participants (qa.max_attendees)", config_.max_attendees),
           kFullRetryS);
  if (int64_t wait = attendee_limiter_.take(network, now)) {
    int seconds = retry_seconds(wait);
    refuse(Error::Code::rate_limited, "rate_limited",
           fmt::format("too many new attendees from this network; try again in {} s", seconds), seconds);
  }
  // Last, so a network already over its own limit does not use up everyone's.
  if (int64_t wait = global_identity_limiter_.take("", now)) {
    int seconds = retry_seconds(wait);
    refuse(Error::Code::rate_limited, "rate_limited",
           fmt::format("too many new attendees right now; try again in {} s", seconds), seconds);
  }
  Attendee a;
  a.id = next_attendee_;
  a.token_hash = auth::to_hex(auth::sha256(token));
  a.name = name;
  a.created_ms = now;
  Change change;
  change.attendees.push_back(a);
  write.commit(change, {});
  attendee_network_[a.id] = network;
  if (attendees_.size() % 1024 == 0) attendee_limiter_.prune(now);
  return Json{{"id", a.id}, {"token", token}, {"name", a.name}};
}

Json Service::describe(const Caller& caller) const {
  std::lock_guard lock(mutex_);
  Json json{{"role", to_string(caller.role)}, {"current_room", current_room_}};
  if (caller.role == Role::attendee) {
    auto it = attendees_.find(caller.attendee);
    json["id"] = caller.attendee;
    if (it != attendees_.end()) {
      json["name"] = it->second.name;
      json["banned"] = it->second.banned;
      json["timeout_until"] = it->second.timeout_until_ms;
    }
  }
  return json;
}

Json Service::timeout(const Caller& caller, int64_t attendee, int seconds) {
  require_staff(caller);
  if (seconds < 0 || seconds > kMaxTimeoutS)
    refuse(Error::Code::unprocessable, "bad_seconds", fmt::format("seconds must be 0..{}", kMaxTimeoutS));
  Write write(*this);
  auto it = attendees_.find(attendee);
  if (it == attendees_.end()) refuse(Error::Code::not_found, "no_attendee", fmt::format("there is no attendee {}", attendee));
  Attendee a = it->second;
  a.timeout_until_ms = seconds == 0 ? 0 : clock_() + int64_t{seconds} * 1000;
  Change change;
  change.attendees.push_back(a);
  write.commit(change, {});
  return Json{{"id", a.id}, {"timeout_until", a.timeout_until_ms}, {"banned", a.banned}};
}

Json Service::ban(const Caller& caller, int64_t attendee, bool banned, bool network) {
  require_staff(caller);
  Write write(*this);
  auto it = attendees_.find(attendee);
  if (it == attendees_.end()) refuse(Error::Code::not_found, "no_attendee", fmt::format("there is no attendee {}", attendee));
  Change change;
  Attendee a = it->second;
  a.banned = banned;
  change.attendees.push_back(a);
  const int64_t now = clock_();
  // A ban hides what the attendee still has waiting for review.
  std::vector<StoredEvent> events;
  if (banned) {
    for (const auto& [id, q] : questions_) {
      if (q.author != attendee || q.state != State::pending) continue;
      Question changed = q;
      changed.state = State::hidden;
      changed.updated_ms = now;
      events.push_back(question_event(write.next_seq(), changed, State::pending));
      change.questions.push_back(std::move(changed));
    }
  }
  // The network ban lives in memory only (no address on disk): each relay that
  // has seen the attendee's network since it started bans it (Change::NetworkBan).
  if (network || !banned) change.network_ban = Change::NetworkBan{attendee, banned && network};
  const bool known_network = attendee_network_.count(attendee) > 0;
  write.commit(change, std::move(events));
  Json result{{"id", a.id}, {"banned", a.banned}, {"hidden", change.questions.size()}, {"network", false}};
  if (banned && network && known_network) {
    result["network"] = true;
    result["network_until"] = now + int64_t{kNetworkBanS} * 1000;
  }
  return result;
}

bool Service::is_banned(const Caller& caller) const {
  if (caller.role != Role::attendee) return false;
  std::lock_guard lock(mutex_);
  auto it = attendees_.find(caller.attendee);
  return it != attendees_.end() && it->second.banned;
}

Json Service::rooms() const {
  std::lock_guard lock(mutex_);
  Json list = Json::array();
  for (const auto& [id, state] : rooms_) list.push_back(room_json(state.room));
  return Json{{"rooms", std::move(list)},
              {"current_room", current_room_},
              {"max_question_chars", config_.max_question_chars},
              {"max_name_chars", config_.max_name_chars}};
}

int64_t Service::current_room() const {
  std::lock_guard lock(mutex_);
  return current_room_;
}

Json Service::create_room(const Caller& caller, const RoomPatch& patch) {
  require_staff(caller);
  if (!patch.title) refuse(Error::Code::unprocessable, "no_title", "a room needs a title");
  Write write(*this);
  Room room;
  room.auto_approve = config_.auto_approve;
  room.slow_mode_s = config_.slow_mode_s;
  room.created_ms = clock_();
  apply_patch(room, patch);
  room.id = next_room_;
  Change change;
  change.rooms.push_back(room);
  write.commit(change, {});
  return room_json(room);
}

Json Service::update_room(const Caller& caller, int64_t id, const RoomPatch& patch) {
  require_staff(caller);
  Write write(*this);
  RoomState& state = room_state(id);
  Room room = state.room;
  apply_patch(room, patch);
  room.seq = write.next_seq();
  Change change;
  change.rooms.push_back(room);
  std::vector<StoredEvent> events;
  events.push_back(make_event(room.seq, id, "room", Json{{"room_info", room_json(room)}}));
  write.commit(change, std::move(events));
  return room_json(room);
}

Json Service::set_current_room(const Caller& caller, int64_t id) {
  require_staff(caller);
  Write write(*this);
  room_state(id);
  Change change;
  change.current_room = id;
  // Every room's subscribers learn it, so the pages can follow the talk that is on.
  std::vector<StoredEvent> events;
  for (auto& [room_id, state] : rooms_)
    events.push_back(make_event(write.next_seq(), room_id, "current_room", Json{{"current_room", id}}));
  write.commit(change, std::move(events));
  return room_json(rooms_.at(id).room);
}

Json Service::ask(const Caller& caller, int64_t room_id, const std::string& raw_text,
                  const std::optional<std::string>& raw_name, std::string_view client,
                  const std::string& idempotency_key) {
  if (caller.role != Role::attendee && !caller.is_staff())
    refuse(Error::Code::forbidden, "forbidden", "only attendees and moderators may ask");
  std::string text = check_text(raw_text, "question");
  std::optional<std::string> name;
  if (raw_name) name = check_name(*raw_name);
  const std::string key = idempotency_scope(caller, "ask", idempotency_key);

  Write write(*this);
  if (!key.empty())
    if (auto answer = guarded([&] { return store_->idempotent_answer(key); })) return Json::parse(*answer);
  const int64_t now = clock_();
  require_attendee_may_act(caller, now);
  check_network(caller, client, now);
  RoomState& state = room_state(room_id);
  if (!state.room.open && !caller.is_staff())
    refuse(Error::Code::conflict, "closed", "questions are closed in this room");
  if (state.questions.size() >= static_cast<size_t>(config_.max_questions_per_room))
    refuse(Error::Code::conflict, "room_full",
           fmt::format("this room holds its {} questions (qa.max_questions_per_room)", config_.max_questions_per_room));

  if (caller.role == Role::attendee) {
    // Moderators are exempt from both limits.
    if (state.room.slow_mode_s > 0) {
      if (auto it = state.last_asked_ms.find(caller.attendee); it != state.last_asked_ms.end()) {
        const int64_t next = it->second + int64_t{state.room.slow_mode_s} * 1000;
        if (next > now) {
          int seconds = static_cast<int>((next - now + 999) / 1000);
          refuse(Error::Code::rate_limited, "slow_mode",
                 fmt::format("slow mode: one question per {} s; try again in {} s", state.room.slow_mode_s, seconds),
                 seconds);
        }
      }
    }
    if (question_limiter_.size() > 4096) question_limiter_.prune(now);
    if (int64_t wait = question_limiter_.take(std::to_string(caller.attendee), now)) {
      int seconds = static_cast<int>((wait + 999) / 1000);
      refuse(Error::Code::rate_limited, "rate_limited",
             fmt::format("too many questions; try again in {} s", seconds), seconds);
    }
  }

  Question q;
  q.id = next_question_;
  q.room = room_id;
  q.text = text;
  q.created_ms = q.updated_ms = now;
  if (caller.role == Role::attendee) {
    q.author = caller.attendee;
    const Attendee& a = attendees_.at(caller.attendee);
    q.author_name = name ? *name : a.name;
  } else {
    q.author_name = name ? *name : std::string();
  }
  q.held = filter_.match(text).has_value();
  q.state = state.room.auto_approve && !q.held ? State::approved : State::pending;

  Json json = question_json(q, caller.is_staff());
  json["own"] = caller.role == Role::attendee;
  Change change;
  change.questions.push_back(q);
  std::vector<StoredEvent> events;
  events.push_back(question_event(write.next_seq(), q, std::nullopt));
  write.commit(change, std::move(events), key, dump(json));
  return json;
}

Json Service::questions(const Caller& caller, int64_t room_id) const {
  std::lock_guard lock(mutex_);
  const RoomState& state = room_state(room_id);
  Json items = visible_items(room_id, caller);
  return Json{{"room", room_json(state.room)}, {"seq", state.room.seq}, {"epoch", epoch_}, {"items", std::move(items)}};
}

Json Service::vote(const Caller& caller, int64_t id, bool up, std::string_view client,
                   const std::string& idempotency_key) {
  if (caller.role != Role::attendee) refuse(Error::Code::forbidden, "forbidden", "only attendees vote");
  const std::string key = idempotency_scope(caller, up ? "vote" : "unvote", idempotency_key);
  Write write(*this);
  if (!key.empty())
    if (auto answer = guarded([&] { return store_->idempotent_answer(key); })) return Json::parse(*answer);
  require_attendee_may_act(caller, clock_());
  check_network(caller, client, clock_());
  Question& q = find_question(id);
  if (!may_see(caller, q)) refuse(Error::Code::not_found, "no_question", fmt::format("there is no question {}", id));
  const std::set<int64_t>& voters = voters_[id];
  const bool voted = voters.count(caller.attendee) > 0;
  if (up == voted) return Json{{"id", id}, {"votes", q.votes}, {"voted", voted}};
  if (up && !votable(q.state))
    refuse(Error::Code::conflict, "not_votable", fmt::format("question {} is {} and cannot be voted for", id, to_string(q.state)));
  if (vote_limiter_.size() > 4096) vote_limiter_.prune(clock_());
  if (int64_t wait = vote_limiter_.take(std::to_string(caller.attendee), clock_())) {
    int seconds = static_cast<int>((wait + 999) / 1000);
    refuse(Error::Code::rate_limited, "rate_limited", fmt::format("too many votes; try again in {} s", seconds),
           seconds);
  }

  Question changed = q;
  changed.votes += up ? 1 : -1;
  Json answer{{"id", id}, {"votes", changed.votes}, {"voted", up}};
  Change change;
  change.questions.push_back(changed);
  change.votes.push_back({id, caller.attendee, up});
  write.commit(change, {}, key, dump(answer));
  // This relay sends the new count with its next votes event (flush_votes).
  rooms_.at(changed.room).dirty_votes.insert(id);
  return answer;
}

Json Service::delete_question(const Caller& caller, int64_t id) {
  Write write(*this);
  const Question& q = find_question(id);
  if (!may_see(caller, q)) refuse(Error::Code::not_found, "no_question", fmt::format("there is no question {}", id));
  // Moderators reject or hide; deleting is the author's right over their own text.
  if (caller.role != Role::attendee || q.author != caller.attendee)
    refuse(Error::Code::forbidden, "not_author", "only the author may delete a question");
  Change change;
  change.removed.push_back(id);
  std::vector<StoredEvent> events;
  events.push_back(make_event(write.next_seq(), q.room, "question_removed", Json{{"id", id}}));
  write.commit(change, std::move(events));
  return Json{{"id", id}, {"deleted", true}};
}

// Memory follows the database; the pages learn it from the question_removed
// event that comes with the change.
void Service::remove_question(int64_t id) {
  auto it = questions_.find(id);
  if (it == questions_.end()) return;
  if (auto room = rooms_.find(it->second.room); room != rooms_.end()) {
    room->second.questions.erase(id);
    room->second.dirty_votes.erase(id);
  }
  questions_.erase(it);
  voters_.erase(id);
}

Store::Purged Service::purge_expired() {
  if (config_.retention_days <= 0) return {};
  const int64_t before = clock_() - config_.retention_days * kDayMs;
  Store::Purged purged;
  try {
    std::lock_guard writing(write_mutex_);
    purged = store_->purge(before);
  } catch (const StoreError& e) {
    relay::log::get("qa")->error("retention: {}", e.what());
    return {};
  }
  // Every relay forgets the same: the deleted questions (each page is told)
  // and attendees. A relay that purged nothing itself still tells the others
  // when its memory holds what another relay's purge deleted.
  try {
    Write write(*this);
    Change change;
    std::vector<StoredEvent> events;
    for (const auto& [id, q] : questions_) {
      if (q.created_ms >= before) continue;
      change.removed.push_back(id);
      events.push_back(make_event(write.next_seq(), q.room, "question_removed", Json{{"id", id}}));
    }
    const bool old_attendees = std::any_of(attendees_.begin(), attendees_.end(),
                                           [&](const auto& entry) { return entry.second.created_ms < before; });
    if (!events.empty() || old_attendees) {
      change.purged_before = before;
      // The votes of the deleted attendees on the questions that stay.
      for (auto& [id, voters] : voters_) {
        const size_t kept = static_cast<size_t>(std::count_if(voters.begin(), voters.end(), [&](int64_t attendee) {
          auto a = attendees_.find(attendee);
          return a == attendees_.end() || a->second.created_ms >= before;
        }));
        auto q = questions_.find(id);
        if (kept == voters.size() || q == questions_.end() || q->second.created_ms < before) continue;
        Question changed = q->second;
        changed.votes = static_cast<int64_t>(kept);
        change.questions.push_back(changed);
        rooms_.at(changed.room).dirty_votes.insert(id);
      }
      write.commit(change, std::move(events));
    }
  } catch (const std::exception& e) {
    relay::log::get("qa")->error("retention: {}", e.what());
  }
  if (purged.questions + purged.votes + purged.attendees > 0)
    relay::log::get("qa")->info("deleted {} questions, {} votes and {} attendees older than {} days (qa.retention_days)",
                                purged.questions, purged.votes, purged.attendees, config_.retention_days);
  return purged;
}

void Service::forget_purged_attendees(int64_t before_ms) {
  std::set<int64_t> gone;
  for (auto it = attendees_.begin(); it != attendees_.end();) {
    if (it->second.created_ms >= before_ms) {
      ++it;
      continue;
    }
    gone.insert(it->first);
    attendee_by_token_.erase(it->second.token_hash);
    attendee_network_.erase(it->first);
    it = attendees_.erase(it);
  }
  if (gone.empty()) return;
  for (auto& [id, voters] : voters_)
    std::erase_if(voters, [&](int64_t attendee) { return gone.count(attendee) > 0; });
}

void Service::flush_votes() {
  const int64_t now = clock_();
  {
    std::lock_guard writing(write_mutex_);
    // The log is for resuming clients and relays that were away a moment; an
    // hour of it is plenty (older events also go with qa.retention_days).
    if (now - last_trim_ms_ > kTrimIntervalMs) {
      last_trim_ms_ = now;
      try {
        store_->trim_events(now - kEventKeepMs);
      } catch (const StoreError& e) {
        relay::log::get("qa")->warn("trimming the Q&A log: {}", e.what());
      }
    }
    std::lock_guard state(mutex_);
    if (std::all_of(rooms_.begin(), rooms_.end(), [](const auto& room) { return room.second.dirty_votes.empty(); }))
      return;
  }
  try {
    Write write(*this);
    std::vector<StoredEvent> events;
    std::map<int64_t, std::set<int64_t>> sent;
    for (auto& [room_id, state] : rooms_) {
      if (state.dirty_votes.empty()) continue;
      Json counts = Json::array();
      for (int64_t id : state.dirty_votes) {
        auto it = questions_.find(id);
        if (it != questions_.end() && is_public(it->second.state))
          counts.push_back(Json{{"id", id}, {"votes", it->second.votes}});
      }
      sent[room_id] = std::move(state.dirty_votes);
      state.dirty_votes.clear();
      if (!counts.empty()) events.push_back(make_event(write.next_seq(), room_id, "votes", Json{{"votes", std::move(counts)}}));
    }
    if (events.empty()) return;
    try {
      write.commit(Change{}, std::move(events));
    } catch (...) {
      // Sent with the next flush.
      for (auto& [room_id, ids] : sent) rooms_.at(room_id).dirty_votes.merge(ids);
      throw;
    }
  } catch (const std::exception& e) {
    relay::log::get("qa")->warn("vote counts: {}", e.what());
  }
}

Json Service::moderate(const Caller& caller, int64_t id, Action action, const std::optional<std::string>& raw_text) {
  require_staff(caller);
  std::optional<std::string> text;
  if (action == Action::edit) {
    if (!raw_text) refuse(Error::Code::unprocessable, "no_text", "edit needs the new text");
    text = check_text(*raw_text, "question");
  } else if (action == Action::answer && raw_text && !normalize_text(*raw_text).empty()) {
    text = check_text(*raw_text, "answer");
  }

  Write write(*this);
  const Question& current = find_question(id);
  Question q = current;
  const State before = q.state;
  auto conflict = [&] {
    refuse(Error::Code::conflict, "bad_transition",
           fmt::format("cannot {} a question that is {}", kActionNames[static_cast<int>(action)], to_string(before)));
  };
  std::optional<Question> unstaged;  // the question that leaves the stage for this one
  switch (action) {
    case Action::approve:
      if (before == State::approved) break;
      if (before != State::pending && before != State::starred) conflict();
      q.state = State::approved;
      q.held = false;
      break;
    case Action::reject:
      if (before == State::rejected) break;
      if (before != State::pending && before != State::approved && before != State::starred) conflict();
      q.state = State::rejected;
      break;
    case Action::edit:
      if (q.original_text.empty()) q.original_text = q.text;
      q.text = *text;
      break;
    case Action::star:
      if (before == State::starred) break;
      if (before != State::approved) conflict();
      q.state = State::starred;
      break;
    case Action::stage:
      if (before == State::on_stage) break;
      if (before != State::approved && before != State::starred && before != State::answered) conflict();
      q.state = State::on_stage;
      for (int64_t other_id : rooms_.at(q.room).questions) {
        const Question& other = questions_.at(other_id);
        if (other.state == State::on_stage && other_id != id) {
          unstaged = other;
          unstaged->state = State::answered;
          unstaged->updated_ms = clock_();
        }
      }
      break;
    case Action::answer:
      if (before != State::approved && before != State::starred && before != State::on_stage &&
          before != State::answered)
        conflict();
      q.state = State::answered;
      if (text) q.answer = *text;
      break;
    case Action::hide:
      q.state = State::hidden;
      break;
    case Action::reopen:
      if (before == State::rejected || before == State::hidden) {
        q.state = State::pending;
      } else if (before == State::answered) {
        q.state = State::approved;
      } else {
        conflict();
      }
      break;
  }
  const bool changed = q.state != before || q.text != current.text || q.answer != current.answer ||
                       q.held != current.held;
  if (!changed) return question_json(current, true);
  q.updated_ms = clock_();

  Change change;
  std::vector<StoredEvent> events;
  if (unstaged) {
    events.push_back(question_event(write.next_seq(), *unstaged, State::on_stage));
    change.questions.push_back(*unstaged);
  }
  events.push_back(question_event(write.next_seq(), q, before));
  change.questions.push_back(q);
  write.commit(change, std::move(events));
  return question_json(q, true);
}

std::string Service::export_csv(const Caller& caller, int64_t room_id) const {
  require_staff(caller);
  std::lock_guard lock(mutex_);
  const RoomState& room = room_state(room_id);
  std::string out = "id,state,votes,created,author_name,text,original_text,answer\r\n";
  for (int64_t id : room.questions) {
    const Question& q = questions_.at(id);
    out += fmt::format("{},{},{},{},{},{},{},{}\r\n", q.id, to_string(q.state), q.votes,
                       format_iso8601_ms(q.created_ms), csv_field(q.author_name), csv_field(q.text),
                       csv_field(q.original_text), csv_field(q.answer));
  }
  return out;
}

Json Service::answered_questions(int64_t room_id) const {
  std::lock_guard lock(mutex_);
  const RoomState& room = room_state(room_id);
  Json items = Json::array();
  for (int64_t id : room.questions) {
    const Question& q = questions_.at(id);
    if (q.state != State::answered) continue;
    items.push_back(Json{{"text", q.text},
                         {"votes", q.votes},
                         {"answer", q.answer},
                         {"asked", format_iso8601_ms(q.created_ms)},
                         {"answered", format_iso8601_ms(q.updated_ms)}});
  }
  return Json{{"room", room.room.title}, {"questions", std::move(items)}};
}

std::string Service::answered_questions_csv(int64_t room_id) const {
  std::string out = "asked,answered,votes,question,answer\r\n";
  const Json answered = answered_questions(room_id);
  for (const Json& q : answered.at("questions"))
    out += fmt::format("{},{},{},{},{}\r\n", q.at("asked").get<std::string>(), q.at("answered").get<std::string>(),
                       q.at("votes").get<int64_t>(), csv_field(q.at("text").get<std::string>()),
                       csv_field(q.at("answer").get<std::string>()));
  return out;
}

Join Service::subscribe(int64_t room_id, const Caller& caller, Subscriber* subscriber, std::optional<uint64_t> since,
                        const std::string& epoch) {
  // A client coming from a relay that is ahead of this one: catch up first, so
  // it resumes rather than stepping back to an older snapshot.
  if (since && store_->shared() && since > applied_seq() && epoch == this->epoch()) {
    try {
      catch_up();
    } catch (const std::exception& e) {
      relay::log::get("qa")->debug("catching up for a resuming client: {}", e.what());
    }
  }
  std::lock_guard lock(mutex_);
  RoomState& state = room_state(room_id);
  Join join;
  if (since && (epoch.empty() || epoch == epoch_) && *since <= applied_seq_) {
    std::vector<EventPtr> missed;
    if (state.log.after(*since, missed)) {
      join.resumed = true;
      join.messages.push_back(message(Json{{"type", "resumed"},
                                           {"epoch", epoch_},
                                           {"since", *since},
                                           {"latest", applied_seq_},
                                           {"room", room_id},
                                           {"time", clock_()}}));
      for (const EventPtr& event : missed)
        if (const Message& m = event->for_caller(caller)) join.messages.push_back(m);
    }
  }
  if (!join.resumed) join.messages.push_back(snapshot(state, caller));
  state.subscribers.emplace_back(subscriber, caller);
  return join;
}

void Service::unsubscribe(int64_t room_id, Subscriber* subscriber) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;
  auto& list = it->second.subscribers;
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].first == subscriber) {
      list[i] = list.back();
      list.pop_back();
      return;
    }
  }
}

size_t Service::subscriber_count() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [id, state] : rooms_) n += state.subscribers.size();
  return n;
}

std::map<int64_t, uint64_t> Service::pending_questions() const {
  std::lock_guard lock(mutex_);
  std::map<int64_t, uint64_t> pending;
  for (const auto& [id, state] : rooms_) pending[id] = 0;
  for (const auto& [id, q] : questions_) {
    if (q.state == State::pending) ++pending[q.room];
  }
  return pending;
}

std::optional<Question> Service::question(int64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = questions_.find(id);
  if (it == questions_.end()) return std::nullopt;
  return it->second;
}

std::optional<Room> Service::room(int64_t id) const {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(id);
  if (it == rooms_.end()) return std::nullopt;
  return it->second.room;
}

}  // namespace relay::qa
