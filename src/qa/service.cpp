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

Service::Service(const config::QaConfig& config, Clock clock, auth::Authority* authority)
    : config_(config),
      clock_(std::move(clock)),
      epoch_(auth::random_id()),
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
  store_ = std::make_unique<Store>((config_.data_dir / "qa.sqlite3").string(), config_.synchronous == "full");
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

  Store::Contents contents = store_->load();
  for (Room& room : contents.rooms) {
    next_room_ = std::max(next_room_, room.id + 1);
    const int64_t id = room.id;
    rooms_.emplace(id, RoomState{std::move(room), EventLog(config_.ws_resume_events), {}, {}, {}});
  }
  for (Attendee& a : contents.attendees) {
    next_attendee_ = std::max(next_attendee_, a.id + 1);
    attendee_by_token_[a.token_hash] = a.id;
    attendees_.emplace(a.id, std::move(a));
  }
  for (Question& q : contents.questions) {
    next_question_ = std::max(next_question_, q.id + 1);
    if (auto room = rooms_.find(q.room); room != rooms_.end()) room->second.questions.insert(q.id);
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

  if (auto it = contents.meta.find("current_room"); it != contents.meta.end()) {
    try {
      current_room_ = std::stoll(it->second);
    } catch (const std::exception&) {
      current_room_ = 0;
    }
  }
  if (rooms_.empty()) {
    Room room;
    room.id = next_room_++;
    room.title = config_.default_room_title;
    room.auto_approve = config_.auto_approve;
    room.slow_mode_s = config_.slow_mode_s;
    room.created_ms = clock_();
    Store::Transaction tx(*store_);
    store_->save_room(room);
    store_->set_meta("current_room", std::to_string(room.id));
    tx.commit();
    current_room_ = room.id;
    rooms_.emplace(room.id, RoomState{room, EventLog(config_.ws_resume_events), {}, {}, {}});
  }
  if (!rooms_.count(current_room_)) current_room_ = rooms_.begin()->first;

  relay::log::get("qa")->info("{} rooms, {} questions, {} attendees restored from {}", rooms_.size(),
                              questions_.size(), attendees_.size(), (config_.data_dir / "qa.sqlite3").string());
}

Service::~Service() { authority_->set_attendees(nullptr); }

Caller Service::authenticate(std::string_view bearer_token) const {
  if (bearer_token.empty()) refuse(Error::Code::unauthorized, "no_token", "a bearer token is required");
  if (auto caller = authority_->authenticate(bearer_token)) return *caller;
  refuse(Error::Code::unauthorized, "bad_token", "the token is not valid");
}

std::optional<int64_t> Service::attendee(const auth::Digest& token) const {
  std::lock_guard lock(mutex_);
  if (auto it = attendee_by_token_.find(auth::to_hex(token)); it != attendee_by_token_.end()) return it->second;
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
              {"seq", room.seq},
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

std::shared_ptr<Event> Service::make_event(RoomState& room, std::string_view type, Json body) {
  auto event = std::make_shared<Event>();
  event->seq = room.room.seq;
  event->room = room.room.id;
  body["type"] = type;
  body["seq"] = event->seq;
  body["room"] = event->room;
  body["time"] = clock_();
  event->staff = message(body);
  event->everyone = event->staff;
  return event;
}

void Service::publish(RoomState& room, std::shared_ptr<Event> event) {
  EventPtr shared = std::move(event);
  room.log.append(shared);
  for (auto& [subscriber, caller] : room.subscribers) subscriber->deliver(shared);
}

void Service::publish_question(RoomState& room, const Question& q, std::optional<State> before) {
  auto event = make_event(room, "question", Json{{"question", question_json(q, true)}});
  const Json header{{"seq", event->seq}, {"room", event->room}, {"time", clock_()}};
  auto with_header = [&](Json body) {
    body.update(header);
    return message(body);
  };
  if (is_public(q.state)) {
    event->everyone = with_header(Json{{"type", "question"}, {"question", question_json(q, false)}});
  } else if (before && is_public(*before)) {
    event->everyone = with_header(Json{{"type", "question_removed"}, {"id", q.id}});
  } else {
    event->everyone = nullptr;
  }
  if (q.author != 0) {
    Json own = question_json(q, false);
    own["own"] = true;
    event->author = q.author;
    event->for_author = with_header(Json{{"type", "question"}, {"question", own}});
  }
  publish(room, std::move(event));
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
                      {"seq", room.room.seq},
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
  WriteLock lock(*this);
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
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->save_attendee(a);
    tx.commit();
  });
  ++next_attendee_;
  attendee_by_token_[a.token_hash] = a.id;
  attendees_.emplace(a.id, a);
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
  WriteLock lock(*this);
  auto it = attendees_.find(attendee);
  if (it == attendees_.end()) refuse(Error::Code::not_found, "no_attendee", fmt::format("there is no attendee {}", attendee));
  Attendee a = it->second;
  a.timeout_until_ms = seconds == 0 ? 0 : clock_() + int64_t{seconds} * 1000;
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->save_attendee(a);
    tx.commit();
  });
  it->second = a;
  return Json{{"id", a.id}, {"timeout_until", a.timeout_until_ms}, {"banned", a.banned}};
}

Json Service::ban(const Caller& caller, int64_t attendee, bool banned, bool network) {
  require_staff(caller);
  WriteLock lock(*this);
  auto it = attendees_.find(attendee);
  if (it == attendees_.end()) refuse(Error::Code::not_found, "no_attendee", fmt::format("there is no attendee {}", attendee));
  Attendee a = it->second;
  a.banned = banned;
  const int64_t now = clock_();
  // A ban hides what the attendee still has waiting for review.
  std::vector<Question> hidden;
  if (banned) {
    for (const auto& [id, q] : questions_) {
      if (q.author != attendee || q.state != State::pending) continue;
      Question changed = q;
      changed.state = State::hidden;
      changed.updated_ms = now;
      hidden.push_back(std::move(changed));
    }
  }
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->save_attendee(a);
    for (const Question& q : hidden) store_->save_question(q);
    std::map<int64_t, Room> bumped;
    for (const Question& q : hidden) {
      Room& r = bumped.try_emplace(q.room, rooms_.at(q.room).room).first->second;
      ++r.seq;
    }
    for (const auto& [id, r] : bumped) store_->save_room(r);
    tx.commit();
  });
  it->second = a;
  for (const Question& q : hidden) {
    RoomState& room = rooms_.at(q.room);
    ++room.room.seq;
    questions_[q.id] = q;
    publish_question(room, q, State::pending);
  }
  Json result{{"id", a.id}, {"banned", a.banned}, {"hidden", hidden.size()}, {"network", false}};
  // The network ban lives in memory only (no address on disk); an attendee not
  // seen since the relay started has no known network.
  if (auto seen = attendee_network_.find(attendee); seen != attendee_network_.end()) {
    if (banned && network) {
      std::erase_if(network_bans_, [now](const auto& entry) { return entry.second <= now; });
      const int64_t until = now + int64_t{kNetworkBanS} * 1000;
      network_bans_[seen->second] = until;
      result["network"] = true;
      result["network_until"] = until;
    } else if (!banned) {
      network_bans_.erase(seen->second);
    }
  }
  if (banned) {
    for (auto& [room_id, room] : rooms_)
      for (auto& [subscriber, subscribed] : room.subscribers)
        if (subscribed.role == Role::attendee && subscribed.attendee == attendee) subscriber->banned();
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
  WriteLock lock(*this);
  Room room;
  room.auto_approve = config_.auto_approve;
  room.slow_mode_s = config_.slow_mode_s;
  room.created_ms = clock_();
  apply_patch(room, patch);
  room.id = next_room_;
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->save_room(room);
    tx.commit();
  });
  ++next_room_;
  rooms_.emplace(room.id, RoomState{room, EventLog(config_.ws_resume_events), {}, {}, {}});
  return room_json(room);
}

Json Service::update_room(const Caller& caller, int64_t id, const RoomPatch& patch) {
  require_staff(caller);
  WriteLock lock(*this);
  RoomState& state = room_state(id);
  Room room = state.room;
  apply_patch(room, patch);
  ++room.seq;
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->save_room(room);
    tx.commit();
  });
  state.room = room;
  publish(state, make_event(state, "room", Json{{"room_info", room_json(room)}}));
  return room_json(room);
}

Json Service::set_current_room(const Caller& caller, int64_t id) {
  require_staff(caller);
  WriteLock lock(*this);
  room_state(id);
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->set_meta("current_room", std::to_string(id));
    for (auto& [room_id, state] : rooms_) {
      Room room = state.room;
      ++room.seq;
      store_->save_room(room);
    }
    tx.commit();
  });
  current_room_ = id;
  // Every room's subscribers learn it, so the pages can follow the talk that is on.
  for (auto& [room_id, state] : rooms_) {
    ++state.room.seq;
    publish(state, make_event(state, "current_room", Json{{"current_room", id}}));
  }
  return room_json(rooms_.at(id).room);
}

Json Service::ask(const Caller& caller, int64_t room_id, const std::string& raw_text,
                  const std::optional<std::string>& raw_name, std::string_view client) {
  if (caller.role != Role::attendee && !caller.is_staff())
    refuse(Error::Code::forbidden, "forbidden", "only attendees and moderators may ask");
  std::string text = check_text(raw_text, "question");
  std::optional<std::string> name;
  if (raw_name) name = check_name(*raw_name);

  WriteLock lock(*this);
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

  Room room = state.room;
  ++room.seq;
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->save_question(q);
    store_->save_room(room);
    tx.commit();
  });

  ++next_question_;
  state.room = room;
  if (caller.role == Role::attendee) state.last_asked_ms[caller.attendee] = now;
  questions_.emplace(q.id, q);
  state.questions.insert(q.id);
  publish_question(state, q, std::nullopt);
  Json json = question_json(q, caller.is_staff());
  json["own"] = caller.role == Role::attendee;
  return json;
}

Json Service::questions(const Caller& caller, int64_t room_id) const {
  std::lock_guard lock(mutex_);
  const RoomState& state = room_state(room_id);
  Json items = visible_items(room_id, caller);
  return Json{{"room", room_json(state.room)}, {"seq", state.room.seq}, {"epoch", epoch_}, {"items", std::move(items)}};
}

Json Service::vote(const Caller& caller, int64_t id, bool up, std::string_view client) {
  if (caller.role != Role::attendee) refuse(Error::Code::forbidden, "forbidden", "only attendees vote");
  WriteLock lock(*this);
  require_attendee_may_act(caller, clock_());
  check_network(caller, client, clock_());
  Question& q = find_question(id);
  if (!may_see(caller, q)) refuse(Error::Code::not_found, "no_question", fmt::format("there is no question {}", id));
  std::set<int64_t>& voters = voters_[id];
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
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    if (up) {
      store_->add_vote(id, caller.attendee);
    } else {
      store_->remove_vote(id, caller.attendee);
    }
    store_->save_question(changed);
    tx.commit();
  });
  if (up) {
    voters.insert(caller.attendee);
  } else {
    voters.erase(caller.attendee);
  }
  q.votes = changed.votes;
  rooms_.at(q.room).dirty_votes.insert(id);
  return Json{{"id", id}, {"votes", q.votes}, {"voted", up}};
}

Json Service::delete_question(const Caller& caller, int64_t id) {
  WriteLock lock(*this);
  const Question& q = find_question(id);
  if (!may_see(caller, q)) refuse(Error::Code::not_found, "no_question", fmt::format("there is no question {}", id));
  // Moderators reject or hide; deleting is the author's right over their own text.
  if (caller.role != Role::attendee || q.author != caller.attendee)
    refuse(Error::Code::forbidden, "not_author", "only the author may delete a question");
  RoomState& state = rooms_.at(q.room);
  Room room = state.room;
  ++room.seq;
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
    store_->delete_question(id);
    store_->save_room(room);
    tx.commit();
  });
  state.room = room;
  remove_question(state, id);
  return Json{{"id", id}, {"deleted", true}};
}

// After the store deleted it: memory follows, and every page drops it. The
// room's seq must already count the event.
void Service::remove_question(RoomState& room, int64_t id) {
  questions_.erase(id);
  voters_.erase(id);
  room.questions.erase(id);
  room.dirty_votes.erase(id);
  publish(room, make_event(room, "question_removed", Json{{"id", id}}));
}

Store::Purged Service::purge_expired() {
  if (config_.retention_days <= 0) return {};
  WriteLock lock(*this);
  const int64_t before = clock_() - config_.retention_days * kDayMs;
  // Each removal is an event of its room; the rooms' counters are saved with them.
  std::map<int64_t, Room> bumped;
  for (const auto& [id, q] : questions_)
    if (q.created_ms < before) ++bumped.try_emplace(q.room, rooms_.at(q.room).room).first->second.seq;
  Store::Purged purged;
  try {
    lock.commit_unlocked([&] {
      purged = store_->purge(before);
      Store::Transaction tx(*store_);
      for (const auto& [id, room] : bumped) store_->save_room(room);
      tx.commit();
    });
  } catch (const StoreError& e) {
    relay::log::get("qa")->error("retention: {}", e.what());
    return {};
  }
  if (purged.questions + purged.votes + purged.attendees == 0) return purged;
  forget_purged(before);
  relay::log::get("qa")->info("deleted {} questions, {} votes and {} attendees older than {} days (qa.retention_days)",
                              purged.questions, purged.votes, purged.attendees, config_.retention_days);
  return purged;
}

void Service::forget_purged(int64_t before_ms) {
  std::set<int64_t> gone_attendees;
  for (auto it = attendees_.begin(); it != attendees_.end();) {
    if (it->second.created_ms >= before_ms) {
      ++it;
      continue;
    }
    gone_attendees.insert(it->first);
    attendee_by_token_.erase(it->second.token_hash);
    attendee_network_.erase(it->first);
    it = attendees_.erase(it);
  }
  std::vector<int64_t> gone_questions;
  for (const auto& [id, q] : questions_)
    if (q.created_ms < before_ms) gone_questions.push_back(id);
  for (int64_t id : gone_questions) {
    RoomState& room = rooms_.at(questions_.at(id).room);
    ++room.room.seq;
    remove_question(room, id);
  }
  // The votes of deleted attendees on questions that stay.
  for (auto& [id, voters] : voters_) {
    size_t before = voters.size();
    std::erase_if(voters, [&](int64_t attendee) { return gone_attendees.count(attendee) > 0; });
    if (voters.size() == before) continue;
    Question& q = questions_.at(id);
    q.votes = static_cast<int64_t>(voters.size());
    rooms_.at(q.room).dirty_votes.insert(id);
  }
}

void Service::flush_votes() {
  WriteLock lock(*this);
  for (auto& [room_id, state] : rooms_) {
    if (state.dirty_votes.empty()) continue;
    Json counts = Json::array();
    for (int64_t id : state.dirty_votes) {
      auto it = questions_.find(id);
      if (it != questions_.end() && is_public(it->second.state))
        counts.push_back(Json{{"id", id}, {"votes", it->second.votes}});
    }
    state.dirty_votes.clear();
    if (counts.empty()) continue;
    Room room = state.room;
    ++room.seq;
    try {
      lock.commit_unlocked([&] {
        Store::Transaction tx(*store_);
        store_->save_room(room);
        tx.commit();
      });
    } catch (const StoreError& e) {
      relay::log::get("qa")->error("{}", e.what());
      continue;
    }
    state.room = room;
    publish(state, make_event(state, "votes", Json{{"votes", std::move(counts)}}));
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

  WriteLock lock(*this);
  Question& current = find_question(id);
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

  RoomState& state = rooms_.at(q.room);
  Room room = state.room;
  room.seq += unstaged ? 2 : 1;
  lock.commit_unlocked([&] {
    Store::Transaction tx(*store_);
  if (unstaged) store_->save_question(*unstaged);
  store_->save_question(q);
  store_->save_room(room);
  tx.commit();
  });

  if (unstaged) {
    questions_[unstaged->id] = *unstaged;
    ++state.room.seq;
    publish_question(state, *unstaged, State::on_stage);
  }
  current = q;
  ++state.room.seq;
  publish_question(state, q, before);
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

Join Service::subscribe(int64_t room_id, const Caller& caller, Subscriber* subscriber, std::optional<uint64_t> since,
                        const std::string& epoch) {
  std::lock_guard lock(mutex_);
  RoomState& state = room_state(room_id);
  Join join;
  if (since && (epoch.empty() || epoch == epoch_)) {
    std::vector<EventPtr> missed;
    if (state.log.after(*since, state.room.seq, missed)) {
      join.resumed = true;
      join.messages.push_back(message(Json{{"type", "resumed"},
                                           {"epoch", epoch_},
                                           {"since", *since},
                                           {"latest", state.room.seq},
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
