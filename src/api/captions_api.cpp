#include "api/captions_api.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <optional>

#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/text.hpp"
#include "net/feed.hpp"

namespace relay::api {
namespace http = boost::beast::http;
using Json = nlohmann::json;

namespace {

constexpr size_t kMaxAuthorChars = 40;
constexpr double kMinDuration_s = 0.5, kMaxDuration_s = 30;
// Lines a captioner page gets when it (re)connects, per language.
constexpr size_t kRecentLines = 20;
// Captioner pages open at once; a relay has two or three captioners.
constexpr size_t kMaxFeeds = 32;
constexpr uint16_t kCloseTokenWithdrawn = 4001;
constexpr uint16_t kCloseUnauthorized = 4003;
constexpr uint16_t kCloseTooMany = 4029;

spdlog::logger& captions_log() {
  static const auto logger = relay::log::get("captions");
  return *logger;
}

std::string dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

net::Response json_response(http::status status, const Json& body) {
  return net::make_json_response(status, dump(body));
}

// A refusal on its way out of the request's handling.
struct Refusal {
  http::status status;
  std::string reason;
  std::string message;
};

[[noreturn]] void refuse(http::status status, std::string reason, std::string message) {
  throw Refusal{status, std::move(reason), std::move(message)};
}

Json cue_json(const captions::Cue& cue, std::string_view language) {
  return {{"id", cue.id},         {"lang", language},         {"text", cue.text},
          {"author", cue.author}, {"start_ms", cue.start_ms}, {"end_ms", cue.end_ms}};
}

}  // namespace

// The captioners' shared state: who has the floor, the newest lines, and the
// pages watching. Shared with the feeds, which may outlive a request.
struct CaptionsApi::Desk {
  mutable std::mutex mutex;
  std::string holder;
  int64_t holder_since_ms = 0;
  std::vector<std::weak_ptr<net::FeedSink>> sinks;
  std::deque<Json> recent;  // newest last, at most kRecentLines × languages

  Json floor_json() const { return {{"type", "floor"}, {"holder", holder}, {"since_ms", holder_since_ms}}; }

  // With the lock held: one message built once, pushed to every page. The pages
  // are kept alive in `hold`, which the caller declares before taking the lock:
  // a session whose last reference went here would end its feed, and so take
  // this lock, in its destructor.
  void broadcast_locked(const Json& message, std::vector<std::shared_ptr<net::FeedSink>>& hold) {
    Bytes bytes = make_bytes(dump(message));
    std::erase_if(sinks, [](const std::weak_ptr<net::FeedSink>& s) { return s.expired(); });
    for (auto& weak : sinks) {
      if (auto sink = weak.lock()) {
        sink->push(bytes);
        hold.push_back(std::move(sink));
      }
    }
  }
};

namespace {

// One captioner page's live feed: the lines as they are posted and the
// hand-overs. It opens with the first message's token, never one in the URL,
// and ends when a reload withdraws that token.
class CaptionFeed : public net::Feed, public auth::Grant, public std::enable_shared_from_this<CaptionFeed> {
 public:
  CaptionFeed(std::shared_ptr<CaptionsApi::Desk> desk, auth::Authority& authority,
              const captions::CueStore& cues)
      : desk_(std::move(desk)), authority_(authority), cues_(cues) {}

  bool opens_on_first_message() const override { return true; }

  std::vector<Bytes> open(std::weak_ptr<net::FeedSink> sink, std::string_view first_message) override {
    const Json json = Json::parse(first_message, nullptr, false);
    std::string token;
    if (json.is_object() && json.value("type", "") == "auth" && json.contains("token") && json["token"].is_string())
      token = json["token"].get<std::string>();
    auto caller = authority_.authenticate(token);
    if (!caller || !caller->is_captioner())
      throw net::FeedRefused(kCloseUnauthorized, "a captioner or admin token is needed");
    // A reload that withdraws the token ends the feed.
    authority_.watch(
        token,
        [](const auth::Authority& a, std::string_view t) {
          auto c = a.authenticate(t);
          return c && c->is_captioner();
        },
        std::static_pointer_cast<auth::Grant>(shared_from_this()));
    sink_ = sink;
    Json hello = {{"type", "hello"}, {"languages", Json::array()}, {"lines", Json::array()}};
    for (const auto& l : cues_.languages()) hello["languages"].push_back({{"code", l.code}, {"name", l.name}});
    std::lock_guard lock(desk_->mutex);
    std::erase_if(desk_->sinks, [](const std::weak_ptr<net::FeedSink>& s) { return s.expired(); });
    if (desk_->sinks.size() >= kMaxFeeds) throw net::FeedRefused(kCloseTooMany, "too many captioner pages open");
    desk_->sinks.push_back(std::move(sink));
    hello["floor"] = desk_->floor_json();
    for (const auto& line : desk_->recent) hello["lines"].push_back(line);
    return {make_bytes(dump(hello))};
  }

  void close() override {
    // Compared by owner, never locked here: the session may be in its destructor.
    std::lock_guard lock(desk_->mutex);
    std::erase_if(desk_->sinks, [&](const std::weak_ptr<net::FeedSink>& s) {
      return s.expired() || (!s.owner_before(sink_) && !sink_.owner_before(s));
    });
  }

  void revoke() override {
    if (auto sink = sink_.lock()) sink->end(kCloseTokenWithdrawn, "token withdrawn");
  }

 private:
  std::shared_ptr<CaptionsApi::Desk> desk_;
  auth::Authority& authority_;
  const captions::CueStore& cues_;
  std::weak_ptr<net::FeedSink> sink_;
};

Json parse_body(const net::Request& req) {
  Json json = Json::parse(req.body(), nullptr, false);
  if (json.is_discarded()) refuse(http::status::bad_request, "bad_json", "the body is not valid JSON");
  if (!json.is_object()) refuse(http::status::bad_request, "bad_json", "the body must be a JSON object");
  return json;
}

// The label shown beside a captioner's lines: what they call themselves, else their role.
std::string author_of(const Json& body, const auth::Caller& caller) {
  auto it = body.find("author");
  if (it == body.end() || it->is_null()) return caller.role == auth::Role::admin ? "Admin" : "Captioner";
  if (!it->is_string()) refuse(http::status::bad_request, "bad_field", "'author' must be a string");
  std::string author = captions::normalize_line(it->get<std::string>());
  if (author.empty() || captions::code_points(author) > kMaxAuthorChars)
    refuse(http::status::bad_request, "bad_author", fmt::format("'author' must be 1..{} characters", kMaxAuthorChars));
  return author;
}

}  // namespace

CaptionsApi::CaptionsApi(captions::CueStore& cues, auth::Authority& authority, size_t max_chars,
                         std::function<int64_t()> clock)
    : cues_(cues),
      authority_(authority),
      max_chars_(max_chars),
      clock_(std::move(clock)),
      desk_(std::make_shared<Desk>()) {}

CaptionsApi::~CaptionsApi() = default;

std::string CaptionsApi::floor_holder() const {
  std::lock_guard lock(desk_->mutex);
  return desk_->holder;
}

net::Outcome CaptionsApi::handle(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  if (boost::beast::websocket::is_upgrade(req)) {
    if (exchange.target.path != std::string(kCaptionsPrefix) + "/feed") {
      net::Response res = net::make_json_error(http::status::not_found, "not_found", "no WebSocket here");
      res.keep_alive(false);
      return res;
    }
    return net::Upgrade{std::make_shared<CaptionFeed>(desk_, authority_, cues_), nullptr};
  }
  try {
    return answer(exchange);
  } catch (const Refusal& r) {
    net::Response res = net::make_json_error(r.status, r.reason, r.message);
    if (r.status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"captions\"");
    return res;
  } catch (const std::exception& e) {
    captions_log().error("{} {}: {}", req.method_string(), exchange.target.path, e.what());
    return net::make_json_error(http::status::internal_server_error, "internal", "internal error");
  }
}

net::Response CaptionsApi::answer(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  std::string_view path = exchange.target.path;
  if (path.ends_with('/')) path.remove_suffix(1);
  std::string_view rest = path.substr(std::min(path.size(), kCaptionsPrefix.size()));
  if (!rest.empty()) rest.remove_prefix(1);  // the '/'

  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool post = req.method() == http::verb::post;
  if (!(rest.empty() ? get : post) || rest == "feed") {
    net::Response res = net::make_json_error(http::status::method_not_allowed, "method_not_allowed",
                                             rest.empty() ? "GET only" : rest == "feed" ? "a WebSocket only" : "POST only");
    res.set(http::field::allow, rest.empty() ? "GET, HEAD" : rest == "feed" ? "GET" : "POST");
    return res;
  }

  const std::string_view token = text::bearer_token(req[http::field::authorization]);
  if (token.empty())
    refuse(http::status::unauthorized, "no_token", "send a captioner token: Authorization: Bearer <token>");
  const auto caller = authority_.authenticate(token);
  if (!caller) refuse(http::status::unauthorized, "bad_token", "this token is not valid here");
  if (!caller->is_captioner())
    refuse(http::status::forbidden, "not_captioner", "captions need a captioner or admin token (qa.captioner_tokens)");

  if (rest.empty()) {
    Json body = {{"languages", Json::array()}, {"offset_s", cues_.rules().offset_s}, {"max_chars", max_chars_}};
    for (const auto& l : cues_.languages()) body["languages"].push_back({{"code", l.code}, {"name", l.name}});
    std::lock_guard lock(desk_->mutex);
    body["floor"] = desk_->floor_json();
    return json_response(http::status::ok, body);
  }
  if (auto refused = net::refuse_unless_json(req)) return std::move(*refused);
  const Json body = parse_body(req);
  const std::string author = author_of(body, *caller);
  const int64_t now = clock_();

  std::vector<std::shared_ptr<net::FeedSink>> pages;  // released after the lock (Desk::broadcast_locked)
  if (rest == "floor") {
    std::lock_guard lock(desk_->mutex);
    if (desk_->holder != author) {
      captions_log().info("the floor goes from '{}' to '{}'", desk_->holder, author);
      desk_->holder = author;
      desk_->holder_since_ms = now;
      desk_->broadcast_locked(desk_->floor_json(), pages);
    }
    return json_response(http::status::ok, desk_->floor_json());
  }

  const auto language = cues_.find(rest);
  if (!language) {
    std::vector<std::string_view> codes;
    for (const auto& l : cues_.languages()) codes.push_back(l.code);
    refuse(http::status::not_found, "unknown_language",
           codes.empty() ? std::string("captions are off: [captions] languages is empty")
                         : fmt::format("no caption language '{}'; configured: {}", rest.substr(0, 40),
                                       fmt::join(codes, ", ")));
  }
  auto text_field = body.find("text");
  if (text_field == body.end() || !text_field->is_string())
    refuse(http::status::bad_request, "bad_text", "'text' must be a string");
  std::string line = captions::normalize_line(text_field->get<std::string>());
  if (line.empty()) refuse(http::status::bad_request, "empty_text", "'text' is empty");
  if (captions::code_points(line) > max_chars_)
    refuse(http::status::payload_too_large, "text_too_long",
           fmt::format("'text' has more than {} characters; send one line at a time", max_chars_));
  std::optional<double> duration;
  if (auto d = body.find("duration_s"); d != body.end() && !d->is_null()) {
    if (!d->is_number() || !std::isfinite(d->get<double>()) || d->get<double>() < kMinDuration_s ||
        d->get<double>() > kMaxDuration_s)
      refuse(http::status::bad_request, "bad_duration",
             fmt::format("'duration_s' must be a number of seconds, {}..{}", kMinDuration_s, kMaxDuration_s));
    duration = d->get<double>();
  }
  bool replace_last = false;
  if (auto r = body.find("replace_last"); r != body.end() && !r->is_null()) {
    if (!r->is_boolean()) refuse(http::status::bad_request, "bad_field", "'replace_last' must be true or false");
    replace_last = r->get<bool>();
  }

  std::lock_guard lock(desk_->mutex);
  if (!desk_->holder.empty() && desk_->holder != author)
    refuse(http::status::conflict, "floor_taken",
           fmt::format("'{}' has the floor; take it over first (POST {}/floor)", desk_->holder, kCaptionsPrefix));
  if (desk_->holder.empty()) {
    desk_->holder = author;
    desk_->holder_since_ms = now;
    desk_->broadcast_locked(desk_->floor_json(), pages);
  }
  const captions::Posted posted = cues_.post(*language, std::move(line), author, now, duration, replace_last);
  const std::string_view code = cues_.languages()[*language].code;
  Json out = cue_json(posted.cue, code);
  out["replaced"] = posted.replaced;
  out["moved"] = posted.moved;
  out["delay_ms"] = posted.cue.start_ms - now;  // how far before (negative) or after its arrival it starts
  Json event = out;
  event["type"] = "line";
  desk_->broadcast_locked(event, pages);
  desk_->recent.push_back(std::move(event));
  while (desk_->recent.size() > kRecentLines * std::max<size_t>(1, cues_.languages().size())) desk_->recent.pop_front();
  return json_response(http::status::created, out);
}

}  // namespace relay::api
