#pragma once
// Who a caller is: an attendee (by an attendee token the Q&A minted), one of
// the staff roles a token in the config grants, or a viewer without a token.
#include <cstdint>
#include <string_view>

namespace relay::auth {

// viewer: no token at all; reads what every attendee may read (the public
// questions, the live feed) and nothing else. An identity is needed only to
// ask or vote.
enum class Role { attendee, moderator, speaker, technician, admin, viewer, captioner };

std::string_view to_string(Role role);

struct Caller {
  Role role = Role::attendee;
  int64_t attendee = 0;  // for Role::attendee
  bool is_staff() const { return role == Role::moderator || role == Role::admin; }
  // The technician's surfaces (incidents, live dashboard, thumbnail): technicians and admins.
  bool is_technician() const { return role == Role::technician || role == Role::admin; }
  // Live captions (/captioner, /api/captions/): captioners and admins.
  bool is_captioner() const { return role == Role::captioner || role == Role::admin; }
};

}  // namespace relay::auth
