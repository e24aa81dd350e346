#pragma once
// The one authority for roles and tokens. Every API (Q&A, health, incidents,
// the technician's stream and thumbnail) asks it; a config reload replaces its
// role tokens atomically, and long-lived connections (a WebSocket, an event
// stream) registered as grants are checked again and ended when their token no
// longer grants what opened them. Attendee tokens are the Q&A's (they live in
// its database): the authority asks an AttendeeDirectory for them.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "auth/role.hpp"
#include "auth/tokens.hpp"
#include "config/config.hpp"

namespace relay::auth {

// Attendees by token digest; the Q&A implements it.
class AttendeeDirectory {
 public:
  virtual ~AttendeeDirectory() = default;
  virtual std::optional<int64_t> attendee(const Digest& token) const = 0;
};

// A long-lived connection that a token opened. revoke() is called (from the
// reloading thread) when the token no longer grants `needs`; it must only post.
class Grant {
 public:
  virtual ~Grant() = default;
  virtual void revoke() = 0;
};

class Authority {
 public:
  // The role tokens of qa.{moderator,speaker,technician,admin}_tokens.
  explicit Authority(const config::QaConfig& config);
  Authority(const Authority&) = delete;
  Authority& operator=(const Authority&) = delete;

  void set_attendees(const AttendeeDirectory* directory);

  // Replaces the role tokens, as a config reload does, and revokes every grant
  // whose token lost what it was given for. Any thread.
  void reload(const config::QaConfig& config);

  // The caller a bearer token stands for; nullopt when it is empty or unknown.
  // Every role token is compared, whatever matched, so timing says nothing about which.
  std::optional<Caller> authenticate(std::string_view token) const;
  // The staff role of a token, attendee tokens not considered.
  std::optional<Role> staff_role(std::string_view token) const;

  // Whether any technician or admin token is configured (what a refusal tells the operator to do).
  bool technicians_configured() const;
  // True when the technician's surfaces may be used with this token: a technician
  // or admin token. Without any configured they are closed on the public port;
  // health.listen is the operator's way in without tokens.
  bool allows_technician(std::string_view token) const;

  // The tokens that may push media to /ingest/ (ingest.push_tokens), replaced
  // whole at start and on every reload. Any thread.
  void set_push_tokens(const std::vector<std::string>& tokens);
  bool push_configured() const;
  // Every push token is compared, so timing says nothing about which matched.
  bool allows_push(std::string_view token) const;

  // Registers a connection opened with `token` for a role that passes `still_allowed`
  // (checked on every reload). The grant is held weakly; it goes with its connection.
  void watch(std::string_view token, std::function<bool(const Authority&, std::string_view token)> still_allowed,
             std::weak_ptr<Grant> grant);
  size_t watched() const;  // live grants, for tests
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  struct Tokens {
    std::vector<std::pair<Digest, Role>> roles;
    bool technicians = false;  // any technician or admin token
  };
  struct Watch {
    std::string token;  // kept to check it again; never logged
    std::function<bool(const Authority&, std::string_view)> still_allowed;
    std::weak_ptr<Grant> grant;
  };
  static std::shared_ptr<const Tokens> hash(const config::QaConfig& config);
  std::shared_ptr<const Tokens> tokens() const;

  mutable std::mutex mutex_;
  std::shared_ptr<const Tokens> tokens_;  // swapped whole under mutex_
  std::shared_ptr<const std::vector<Digest>> push_tokens_ = std::make_shared<const std::vector<Digest>>();  // under mutex_
  std::atomic<uint64_t> generation_{0};
  std::atomic<const AttendeeDirectory*> attendees_{nullptr};
  mutable std::mutex watch_mutex_;
  std::vector<Watch> watches_;
};

}  // namespace relay::auth
