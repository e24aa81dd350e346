#pragma once
// Live captions in: the captioners' API under /api/captions/ (captioner or
// admin token).
//   GET  /api/captions          languages, the floor, the newest lines (the page's sign-in check)
//   POST /api/captions/<lang>   {"text", "duration_s"?, "replace_last"?, "author"?} -> 201 with the cue's times
//   POST /api/captions/floor    {"author"} -> this captioner has the floor now (a hand-over)
//   GET  /api/captions/feed     WebSocket for the captioner page: every line as posted and every
//                               hand-over; opens with {"type":"auth","token":"…"}
// One line per POST: that is what captioning software (StreamText-style CART
// tools, 1CapApp, scripts) sends, and it needs no connection kept open.
// The floor: two captioners take turns; one writes, the other watches and may
// take over. A line from someone else while one has the floor is refused (409),
// so two people never write over each other unknowingly.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authority.hpp"
#include "captions/cue_store.hpp"
#include "net/handler.hpp"

namespace relay::api {

inline constexpr std::string_view kCaptionsPrefix = "/api/captions";

class CaptionsApi {
 public:
  // Both outlive the api. `max_chars`: [captions] max_chars; `clock`: epoch ms.
  CaptionsApi(captions::CueStore& cues, auth::Authority& authority, size_t max_chars,
              std::function<int64_t()> clock);
  ~CaptionsApi();

  net::Outcome handle(const net::Exchange& exchange) const;

  // Who has the floor ("" when nobody yet).
  std::string floor_holder() const;

  // The floor and the captioner pages' feeds (captions_api.cpp).
  struct Desk;

 private:
  net::Response answer(const net::Exchange& exchange) const;

  captions::CueStore& cues_;
  auth::Authority& authority_;
  size_t max_chars_;
  std::function<int64_t()> clock_;
  std::shared_ptr<Desk> desk_;  // the floor and the captioner pages' feeds
};

}  // namespace relay::api
