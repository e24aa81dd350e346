#pragma once
// The programme's API (docs/programme.md):
//   GET  /programme.ics                  the talks as iCalendar, public
//   GET  /api/programme                  talks with planned and actual times, on_stage, next; public
//   POST /api/programme/<talk>/start     put the talk on stage (ends the one on stage first)
//   POST /api/programme/<talk>/end       take it off the stage
//   POST /api/programme/next             end the talk on stage and start the next one
//   PUT  /api/programme/<talk>           change a talk's plan (admin): {"title"?, "speakers"?, "start"?,
//                                        "end"?, "language"?, "abstract"?}, checked as the config is
// The marks need a moderator or admin token, as the Q&A's moderation does.
// Starting a talk makes its Q&A room current: the room titled as the talk,
// created on its first start. Marks run on the Q&A's write thread, since they
// may create a room and move the current one (database commits).
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/work_queue.hpp"
#include "net/handler.hpp"
#include "programme/programme.hpp"
#include "qa/service.hpp"

namespace relay::api {

inline constexpr std::string_view kProgrammePrefix = "/api/programme";
inline constexpr std::string_view kProgrammeIcsPath = "/programme.ics";

class ProgrammeApi {
 public:
  // `questions` and `writes` outlive the api; null `writes` runs marks inline
  // (tests). `clock`: epoch milliseconds. `uid_domain` ends the calendar's UIDs.
  ProgrammeApi(programme::Programme programme, qa::Service& questions, WorkQueue* writes,
               std::function<int64_t()> clock, std::string uid_domain);

  net::Outcome handle(const net::Exchange& exchange) const;
  // The talks as planned now, for the recordings' listing (titles may change during the event).
  std::vector<programme::Talk> talks() const;

  // Told of every accepted mark (talk, start or end in epoch ms), on the thread
  // that marks; the recording journals them. Set before the server starts.
  using MarkListener = std::function<void(const std::string& talk, std::optional<int64_t> start_epoch_ms,
                                          std::optional<int64_t> end_epoch_ms)>;
  void set_mark_listener(MarkListener listener) { mark_listener_ = std::move(listener); }
  // Marks read back at start-up (unix seconds), before the server starts.
  bool restore_mark(const std::string& talk, std::optional<int64_t> start_s, std::optional<int64_t> end_s);

 private:
  net::Response mark(const net::Request& req, std::string_view path) const;
  net::Response change(const net::Request& req, std::string_view talk_id) const;
  qa::Json document() const;  // with mutex_ held
  // The Q&A room of a talk: the one remembered, else the room with the talk's
  // title (after a restart), else a new one. With mutex_ held.
  int64_t room_for(const qa::Caller& caller, const programme::Talk& talk) const;

  qa::Service& questions_;
  WorkQueue* writes_;
  std::function<int64_t()> clock_;
  std::string uid_domain_;
  mutable std::mutex mutex_;
  mutable programme::Programme programme_;
  mutable std::map<std::string, int64_t> rooms_;  // talk id -> Q&A room id
  MarkListener mark_listener_;
};

}  // namespace relay::api
