#pragma once
// Video on demand from the recordings (docs/vod.md):
//   GET  /api/vod                                   events, their talks and the URLs below (JSON)
//   POST /api/vod/session                           {"code": "..."}: the event code, answered with a session cookie
//   GET  /vod/<event>/<talk>/master.m3u8            a talk's VOD presentation, and its media playlists
//   GET  /vod/<event>/<talk>/<rendition>/index.m3u8   (cut on segment boundaries at the talk's journaled marks)
//   GET  /vod/<event>/all/master.m3u8               the whole event, every run, one DATERANGE per talk
//   GET  /vod/<event>/all/<rendition>/index.m3u8
//   GET  /vod/<event>/chapters.vtt                  WebVTT chapters of the whole event, one cue per talk
//   GET  /vod/<event>/media/<rendition>/<file>      a recorded init section or segment (journaled names only)
//   GET  /vod/<event>/<talk>/<rendition>.mp4        downloads, made on first request (docs/vod.md)
//   GET  /vod/<event>/<talk>/captions-<lang>.vtt
//   GET  /vod/<event>/<talk>/questions.csv|.json    the talk's answered questions, without who asked
// The page itself (/vod/) is a static page of the router.
//
// With vod.access = "event_code" every route but the session needs the cookie
// the right code earns. Everything that reads the disk runs on the VOD's own
// worker thread (a Deferred response), never on an edge thread.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/tokens.hpp"
#include "common/work_queue.hpp"
#include "config/config.hpp"
#include "net/handler.hpp"
#include "qa/rate_limit.hpp"
#include "recording/journal.hpp"

namespace relay::api {

inline constexpr std::string_view kVodApiPath = "/api/vod";
inline constexpr std::string_view kVodPrefix = "/vod/";
inline constexpr std::string_view kVodCookie = "relay_vod";

// What VOD knows of a talk from the programme.
struct VodTalk {
  std::string id;
  std::string title;
  std::vector<std::string> speakers;
  std::string language;
};

// Signs and checks the session cookie: "<expiry unix seconds>.<hex HMAC-SHA256>".
class VodSessions {
 public:
  // An empty key is replaced by 32 random bytes (sessions then end with the process).
  VodSessions(std::string key, int64_t lifetime_s);
  std::string issue(int64_t now_s) const;
  bool valid(std::string_view cookie_value, int64_t now_s) const;
  int64_t lifetime_s() const { return lifetime_s_; }

 private:
  std::string sign(std::string_view expiry) const;
  std::string key_;
  int64_t lifetime_s_;
};

// The value of cookie `name` in a Cookie header, if present.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name);

class VodApi {
 public:
  using Talks = std::function<std::vector<VodTalk>()>;
  // A talk's answered questions in `format` ("json" or "csv"); null when the talk has no Q&A room.
  using AnsweredQuestions = std::function<std::optional<std::string>(const VodTalk& talk, std::string_view format)>;

  // `recording_dir` holds the events; `talks` is asked for the programme on each
  // listing (titles may change); `clock` gives epoch milliseconds.
  VodApi(const config::VodConfig& config, std::filesystem::path recording_dir, Talks talks,
         std::function<int64_t()> clock);
  ~VodApi();

  void set_answered_questions(AnsweredQuestions source) { answered_ = std::move(source); }

  net::Outcome handle(const net::Exchange& exchange) const;

 private:
  struct Cached;
  struct Request;
  net::Response session(const net::Exchange& exchange) const;
  bool authorized(const net::Request& req) const;
  // On the worker thread.
  // nullopt: `complete` is called later, from another thread (a download being made).
  std::optional<net::Response> serve(const Request& request, const net::Deferred::Complete& complete) const;
  net::Response listing() const;
  std::optional<net::Response> serve_event(const Request& request, std::string_view event, std::string_view rest,
                                           const net::Deferred::Complete& complete) const;
  std::optional<net::Response> download(
      const Request& request, const std::shared_ptr<const Cached>& cached, std::string_view talk,
      std::string_view rendition,
      const std::function<std::vector<const recording::SegmentEntry*>(std::string_view)>& cut,
      const net::Deferred::Complete& complete) const;
  std::shared_ptr<const Cached> load(std::string_view event) const;

  bool public_;
  std::filesystem::path dir_;
  Talks talks_;
  AnsweredQuestions answered_;
  std::function<int64_t()> clock_;
  VodSessions sessions_;
  auth::Digest code_digest_;  // of the event code, compared in constant time
  mutable std::mutex mutex_;
  mutable qa::RateLimiter wrong_codes_;                         // per client address
  mutable std::map<std::string, std::shared_ptr<const Cached>, std::less<>> cache_;  // by event
  std::unique_ptr<WorkQueue> worker_;  // playlists, segments, listings; joined first
  std::unique_ptr<WorkQueue> remux_;   // MP4 downloads being made
};

}  // namespace relay::api
