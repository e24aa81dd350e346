#include "qa/types.hpp"

namespace relay::qa {

namespace {
constexpr std::string_view kStateNames[] = {"pending", "approved", "rejected", "starred",
                                            "on_stage", "answered", "hidden"};
}

std::string_view to_string(State state) { return kStateNames[static_cast<int>(state)]; }

std::optional<State> state_from_string(std::string_view text) {
  for (int i = 0; i < static_cast<int>(std::size(kStateNames)); ++i)
    if (kStateNames[i] == text) return static_cast<State>(i);
  return std::nullopt;
}

bool is_public(State state) {
  return state == State::approved || state == State::starred || state == State::on_stage || state == State::answered;
}

int http_status(Error::Code code) {
  switch (code) {
    case Error::Code::bad_request: return 400;
    case Error::Code::unauthorized: return 401;
    case Error::Code::forbidden: return 403;
    case Error::Code::not_found: return 404;
    case Error::Code::conflict: return 409;
    case Error::Code::too_large: return 413;
    case Error::Code::unprocessable: return 422;
    case Error::Code::rate_limited: return 429;
    case Error::Code::unavailable: return 503;
  }
  return 500;
}

}  // namespace relay::qa
