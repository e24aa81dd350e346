#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <memory>

#include "auth/authority.hpp"

using namespace relay;
using auth::Role;

namespace {

config::QaConfig tokens(std::vector<std::string> moderators, std::vector<std::string> technicians = {},
                        std::vector<std::string> admins = {}) {
  config::QaConfig cfg;
  cfg.moderator_tokens = std::move(moderators);
  cfg.technician_tokens = std::move(technicians);
  cfg.admin_tokens = std::move(admins);
  return cfg;
}

struct Directory : auth::AttendeeDirectory {
  std::map<std::string, int64_t> by_hex;
  std::optional<int64_t> attendee(const auth::Digest& token) const override {
    auto it = by_hex.find(auth::to_hex(token));
    return it == by_hex.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
};

struct CountingGrant : auth::Grant {
  std::atomic<int> revoked{0};
  void revoke() override { ++revoked; }
};

}  // namespace

TEST_CASE("authority: staff roles, attendees and unknown tokens", "[auth]") {
  config::QaConfig cfg = tokens({"mod-token-0123456789"}, {"tech-token-0123456789"});
  cfg.speaker_tokens = {"speaker-token-0123456789"};
  auth::Authority authority(cfg);
  CHECK(authority.authenticate("mod-token-0123456789")->role == Role::moderator);
  CHECK(authority.authenticate("speaker-token-0123456789")->role == Role::speaker);
  CHECK(authority.authenticate("tech-token-0123456789")->role == Role::technician);
  CHECK_FALSE(authority.authenticate(""));
  CHECK_FALSE(authority.authenticate("mod-token-0123456789x"));
  CHECK_FALSE(authority.authenticate("attendee-token"));

  Directory attendees;
  attendees.by_hex[auth::to_hex(auth::sha256("attendee-token"))] = 7;
  authority.set_attendees(&attendees);
  auto ann = authority.authenticate("attendee-token");
  REQUIRE(ann);
  CHECK(ann->role == Role::attendee);
  CHECK(ann->attendee == 7);
  // A staff token is never taken for an attendee's, and attendee tokens grant no staff role.
  CHECK_FALSE(authority.staff_role("attendee-token"));
  authority.set_attendees(nullptr);
  CHECK_FALSE(authority.authenticate("attendee-token"));
}

TEST_CASE("authority: the technician's surfaces are closed without a technician or admin token", "[auth]") {
  auth::Authority authority(tokens({"mod-token-0123456789"}));
  CHECK_FALSE(authority.technicians_configured());
  CHECK_FALSE(authority.allows_technician(""));
  CHECK_FALSE(authority.allows_technician("anything"));
  CHECK_FALSE(authority.allows_technician("mod-token-0123456789"));

  authority.reload(tokens({"mod-token-0123456789"}, {}, {"admin-token-0123456789"}));
  CHECK(authority.technicians_configured());
  CHECK_FALSE(authority.allows_technician(""));
  CHECK_FALSE(authority.allows_technician("mod-token-0123456789"));
  CHECK(authority.allows_technician("admin-token-0123456789"));
}

TEST_CASE("authority: a reload replaces the tokens and revokes the grants it no longer allows", "[auth]") {
  auth::Authority authority(tokens({"mod-a-0123456789", "mod-b-0123456789"}));
  const uint64_t before = authority.generation();
  auto moderator_still = [](const auth::Authority& a, std::string_view t) { return a.staff_role(t) == Role::moderator; };
  auto a = std::make_shared<CountingGrant>();
  auto b = std::make_shared<CountingGrant>();
  auto open_dashboard = std::make_shared<CountingGrant>();
  authority.watch("mod-a-0123456789", moderator_still, a);
  authority.watch("mod-b-0123456789", moderator_still, b);
  authority.watch("tech-0123456789", [](const auth::Authority& x, std::string_view t) { return x.allows_technician(t); },
                  open_dashboard);
  {
    auto gone = std::make_shared<CountingGrant>();
    authority.watch("mod-a-0123456789", moderator_still, gone);
  }
  CHECK(authority.watched() == 3);

  // mod-b withdrawn, and the technician token that opened the dashboard too.
  authority.reload(tokens({"mod-a-0123456789"}, {"tech-other-0123456789"}));
  CHECK(authority.generation() == before + 1);
  CHECK(a->revoked == 0);
  CHECK(b->revoked == 1);
  CHECK(open_dashboard->revoked == 1);
  CHECK(authority.authenticate("mod-a-0123456789"));
  CHECK_FALSE(authority.authenticate("mod-b-0123456789"));
  CHECK(authority.watched() == 1);

  // A token added back grants again; a revoked grant is not revoked twice.
  authority.reload(tokens({"mod-a-0123456789", "mod-b-0123456789"}));
  CHECK(authority.authenticate("mod-b-0123456789")->role == Role::moderator);
  CHECK(b->revoked == 1);
  CHECK(a->revoked == 0);
}
