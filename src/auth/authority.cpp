#include "auth/authority.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace relay::auth {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::attendee: return "attendee";
    case Role::moderator: return "moderator";
    case Role::speaker: return "speaker";
    case Role::technician: return "technician";
    case Role::admin: return "admin";
    case Role::viewer: return "viewer";
    case Role::captioner: return "captioner";
  }
  return "?";
}

Authority::Authority(const config::QaConfig& config) : tokens_(hash(config)) {}

std::shared_ptr<const Authority::Tokens> Authority::hash(const config::QaConfig& config) {
  auto tokens = std::make_shared<Tokens>();
  auto add = [&](const std::vector<std::string>& list, Role role) {
    for (const auto& token : list) tokens->roles.emplace_back(sha256(token), role);
  };
  add(config.moderator_tokens, Role::moderator);
  add(config.speaker_tokens, Role::speaker);
  add(config.technician_tokens, Role::technician);
  add(config.admin_tokens, Role::admin);
  add(config.captioner_tokens, Role::captioner);
  tokens->technicians = !config.technician_tokens.empty() || !config.admin_tokens.empty();
  return tokens;
}

std::shared_ptr<const Authority::Tokens> Authority::tokens() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

void Authority::set_attendees(const AttendeeDirectory* directory) {
  attendees_.store(directory, std::memory_order_release);
}

void Authority::reload(const config::QaConfig& config) {
  auto tokens = hash(config);
  const size_t count = tokens->roles.size();
  {
    std::lock_guard lock(mutex_);
    tokens_ = std::move(tokens);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  // Check every watched connection against the new tokens, outside the lock
  // the revocations post from.
  std::vector<std::shared_ptr<Grant>> revoked;
  size_t kept = 0;
  {
    std::lock_guard lock(watch_mutex_);
    auto it = watches_.begin();
    while (it != watches_.end()) {
      auto grant = it->grant.lock();
      if (!grant) {
        it = watches_.erase(it);
      } else if (!it->still_allowed(*this, it->token)) {
        revoked.push_back(std::move(grant));
        it = watches_.erase(it);
      } else {
        ++kept;
        ++it;
      }
    }
  }
  for (auto& grant : revoked) grant->revoke();
  relay::log::get("auth")->info("{} role tokens; {} open connections kept, {} closed as their token was withdrawn",
                                count, kept, revoked.size());
}

std::optional<Role> Authority::staff_role(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  const Digest digest = sha256(token);
  auto current = tokens();
  std::optional<Role> role;
  for (const auto& [candidate, candidate_role] : current->roles)
    if (digests_equal(candidate, digest) && !role) role = candidate_role;
  return role;
}

std::optional<Caller> Authority::authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  if (auto role = staff_role(token)) return Caller{*role, 0};
  if (const AttendeeDirectory* attendees = attendees_.load(std::memory_order_acquire)) {
    if (auto id = attendees->attendee(sha256(token))) return Caller{Role::attendee, *id};
  }
  return std::nullopt;
}

bool Authority::technicians_configured() const { return tokens()->technicians; }

bool Authority::allows_technician(std::string_view token) const {
  auto role = staff_role(token);
  return role && (*role == Role::technician || *role == Role::admin);
}

void Authority::set_push_tokens(const std::vector<std::string>& tokens) {
  auto digests = std::make_shared<std::vector<Digest>>();
  for (const auto& token : tokens) digests->push_back(sha256(token));
  std::lock_guard lock(mutex_);
  push_tokens_ = std::move(digests);
}

bool Authority::push_configured() const {
  std::lock_guard lock(mutex_);
  return !push_tokens_->empty();
}

bool Authority::allows_push(std::string_view token) const {
  if (token.empty()) return false;
  std::shared_ptr<const std::vector<Digest>> current;
  {
    std::lock_guard lock(mutex_);
    current = push_tokens_;
  }
  const Digest digest = sha256(token);
  bool allowed = false;
  for (const auto& candidate : *current) allowed = digests_equal(candidate, digest) || allowed;
  return allowed;
}

void Authority::watch(std::string_view token,
                      std::function<bool(const Authority&, std::string_view token)> still_allowed,
                      std::weak_ptr<Grant> grant) {
  std::lock_guard lock(watch_mutex_);
  // Connections come and go; the dead ones go whenever the list has doubled.
  if (watches_.size() >= 64 && watches_.size() == watches_.capacity())
    watches_.erase(std::remove_if(watches_.begin(), watches_.end(), [](const Watch& w) { return w.grant.expired(); }),
                   watches_.end());
  watches_.push_back({std::string(token), std::move(still_allowed), std::move(grant)});
}

size_t Authority::watched() const {
  std::lock_guard lock(watch_mutex_);
  return static_cast<size_t>(
      std::count_if(watches_.begin(), watches_.end(), [](const Watch& w) { return !w.grant.expired(); }));
}

}  // namespace relay::auth
