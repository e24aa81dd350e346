#include "api/qa_api.hpp"

#include <vector>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include <boost/beast/websocket/rfc6455.hpp>

#include "common/log.hpp"
#include "common/text.hpp"
#include "net/feed.hpp"

namespace relay::api {
namespace http = boost::beast::http;
using qa::Error;
using qa::Json;

namespace {

spdlog::logger& qa_log() {
  static const auto logger = relay::log::get("qa");
  return *logger;
}

using FullRequest = net::Request;
using net::make_json_response;

// Messages quote what the client sent (a room or question id from the path or
// query), which need not be UTF-8: bad bytes are replaced rather than thrown on.
Response error_response(http::status status, std::string_view reason, std::string_view message) {
  return net::make_json_error(status, reason, message);
}

Response json_response(http::status status, const Json& body) {
  return make_json_response(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// A close code of the application's range: the token that opened the feed was withdrawn.
constexpr uint16_t kCloseTokenWithdrawn = 4001;

// One subscriber's live feed of a room: the WebSocket session's source, the
// Q&A's subscriber, and (for staff) a grant the authority revokes when a reload
// withdraws its token.
class QaFeed : public net::Feed, public qa::Subscriber, public auth::Grant {
 public:
  QaFeed(qa::Service& service, QaSubscription subscription)
      : service_(service), subscription_(std::move(subscription)) {}
  ~QaFeed() override { close(); }

  std::vector<Bytes> open(std::weak_ptr<net::FeedSink> sink) override {
    sink_ = std::move(sink);
    qa::Join join = service_.subscribe(subscription_.room, subscription_.caller, this, subscription_.since,
                                       subscription_.epoch);
    subscribed_ = true;
    qa_log().debug("{} in room {}: {} ({} messages)", qa::to_string(subscription_.caller.role), subscription_.room,
                   join.resumed ? "resumed" : "snapshot", join.messages.size());
    return std::move(join.messages);
  }
  void close() override {
    if (!subscribed_) return;
    subscribed_ = false;
    service_.unsubscribe(subscription_.room, this);
  }
  // With the Q&A's lock held: only hands the caller's view to the session.
  void deliver(const qa::EventPtr& event) override {
    const qa::Message& message = event->for_caller(subscription_.caller);
    if (!message) return;
    if (auto sink = sink_.lock()) sink->push(message);
  }
  void revoke() override {
    if (auto sink = sink_.lock()) sink->end(kCloseTokenWithdrawn, "token withdrawn");
  }

 private:
  qa::Service& service_;
  const QaSubscription subscription_;
  std::weak_ptr<net::FeedSink> sink_;
  bool subscribed_ = false;  // on the session's thread only
};

Response from_error(const Error& e) {
  Response res = error_response(static_cast<http::status>(qa::http_status(e.code)), e.reason, e.what());
  if (e.code == Error::Code::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"qa\"");
  if (e.retry_after_s > 0) res.set(http::field::retry_after, std::to_string(e.retry_after_s));
  return res;
}

[[noreturn]] void refuse(Error::Code code, std::string_view reason, const std::string& message) {
  throw Error(code, reason, message);
}

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<int64_t> parse_id(std::string_view text) {
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  auto value = text::parse_digits(text);
  if (!value || *value > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(*value);
}

std::string_view bearer_token(const FullRequest& req) { return text::bearer_token(req[http::field::authorization]); }

Json parse_body(const FullRequest& req) {
  const std::string& body = req.body();
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::parse_error& e) {
    refuse(Error::Code::bad_request, "bad_json", fmt::format("the body is not valid JSON (byte {})", e.byte));
  }
  if (!json.is_object()) refuse(Error::Code::bad_request, "bad_json", "the body must be a JSON object");
  return json;
}

std::optional<std::string> string_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) refuse(Error::Code::unprocessable, "bad_field", fmt::format("'{}' must be a string", name));
  return it->get<std::string>();
}

std::optional<bool> bool_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) refuse(Error::Code::unprocessable, "bad_field", fmt::format("'{}' must be true or false", name));
  return it->get<bool>();
}

std::optional<int> int_field(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer() || it->get<int64_t>() < INT32_MIN || it->get<int64_t>() > INT32_MAX)
    refuse(Error::Code::unprocessable, "bad_field", fmt::format("'{}' must be a whole number", name));
  return it->get<int>();
}

qa::RoomPatch room_patch(const Json& body) {
  qa::RoomPatch patch;
  patch.title = string_field(body, "title");
  patch.open = bool_field(body, "open");
  patch.auto_approve = bool_field(body, "auto_approve");
  patch.slow_mode_s = int_field(body, "slow_mode_s");
  return patch;
}

Response method_not_allowed(std::string_view allow) {
  Response res = error_response(http::status::method_not_allowed, "method_not_allowed",
                                fmt::format("this resource accepts {}", allow));
  res.set(http::field::allow, allow);
  return res;
}

Response not_found() { return error_response(http::status::not_found, "not_found", "no such Q&A resource"); }

}  // namespace

net::Outcome QaApi::handle(const net::Exchange& exchange) const {
  const FullRequest& req = exchange.message;
  if (!exchange.target.ok()) return error_response(http::status::bad_request, "bad_target", exchange.target.error);
  if (boost::beast::websocket::is_upgrade(req)) {
    auto checked = check_upgrade(exchange);
    if (auto* refused = std::get_if<Response>(&checked)) return std::move(*refused);
    auto subscription = std::get<QaSubscription>(std::move(checked));
    const qa::Role role = subscription.caller.role;
    auto feed = std::make_shared<QaFeed>(service_, std::move(subscription));
    // A staff token may be withdrawn by a reload; its feed then ends. Attendee
    // tokens are the Q&A's own (a ban, not a reload, ends those).
    if (role != qa::Role::attendee) {
      service_.authority().watch(
          text::query_param(exchange.target.query, "token").value_or(""),
          [role](const auth::Authority& authority, std::string_view token) {
            return authority.staff_role(token) == role;
          },
          feed);
    }
    return net::Upgrade{std::move(feed), nullptr};
  }
  const bool writes = req.method() != http::verb::get && req.method() != http::verb::head &&
                      req.method() != http::verb::options;
  if (!writes || !writes_) return answer(req, exchange.target.path, exchange.client);
  // Runs on the Q&A's thread, after the writes before it; the session may be
  // gone by then, so the task owns a copy of what it needs.
  return net::Deferred{[this, req = FullRequest(req), path = exchange.target.path,
                        client = std::string(exchange.client)](net::Deferred::Complete complete) {
    auto task = [this, req, path, client, complete] { complete(answer(req, path, client)); };
    if (!writes_->post(task)) {
      Response res = error_response(http::status::service_unavailable, "busy", "the Q&A is busy, try again");
      res.set(http::field::retry_after, "1");
      complete(std::move(res));
    }
  }};
}

Response QaApi::answer(const FullRequest& req, std::string_view path, std::string_view client) const {
  try {
    return dispatch(req, path, client);
  } catch (const Error& e) {
    return from_error(e);
  } catch (const std::exception& e) {
    qa_log().error("{} {}: {}", req.method_string(), path, e.what());
    return error_response(http::status::internal_server_error, "internal", "internal error");
  }
}

Response QaApi::dispatch(const FullRequest& req, std::string_view path, std::string_view client) const {
  if (path.substr(0, kQaPrefix.size()) != kQaPrefix) return not_found();
  const std::vector<std::string_view> parts = split(path.substr(kQaPrefix.size()));
  const http::verb method = req.method();
  auto caller = [&] { return service_.authenticate(bearer_token(req)); };
  auto room_id = [&](std::string_view text) -> int64_t {
    if (text == "current") return service_.current_room();
    auto id = parse_id(text);
    if (!id) refuse(Error::Code::not_found, "no_room", fmt::format("there is no room '{}'", text));
    return *id;
  };
  auto id_of = [&](std::string_view text, std::string_view what) -> int64_t {
    auto id = parse_id(text);
    if (!id) refuse(Error::Code::not_found, "not_found", fmt::format("there is no {} '{}'", what, text));
    return *id;
  };

  if (parts.size() == 1 && parts[0] == "ws") {
    return error_response(http::status::upgrade_required, "upgrade_required",
                          "this is a WebSocket endpoint: connect with ws://…/api/qa/ws?room=…&token=…");
  }
  if (parts.size() == 1 && parts[0] == "attendees") {
    if (method != http::verb::post) return method_not_allowed("POST");
    Json body = parse_body(req);
    return json_response(http::status::created,
                         service_.create_attendee(string_field(body, "name").value_or(""), std::string(client)));
  }
  if (parts.size() == 1 && parts[0] == "me") {
    if (method != http::verb::get) return method_not_allowed("GET");
    return json_response(http::status::ok, service_.describe(caller()));
  }
  if (parts.size() == 3 && parts[0] == "attendees" && (parts[2] == "timeout" || parts[2] == "ban")) {
    const bool ban = parts[2] == "ban";
    if (method != http::verb::post && !(ban && method == http::verb::delete_))
      return method_not_allowed(ban ? "POST, DELETE" : "POST");
    qa::Caller who = caller();
    int64_t attendee = id_of(parts[1], "attendee");
    Json body = parse_body(req);
    Json result;
    if (ban) {
      result = service_.ban(who, attendee, method == http::verb::post);
    } else {
      auto seconds = int_field(body, "seconds");
      if (!seconds) refuse(Error::Code::unprocessable, "no_seconds", "'seconds' is required");
      result = service_.timeout(who, attendee, *seconds);
    }
    qa_log().info("attendee {} {} by {}", attendee, ban ? (method == http::verb::post ? "banned" : "unbanned")
                                                        : "timed out", qa::to_string(who.role));
    return json_response(http::status::ok, result);
  }
  if (!parts.empty() && parts[0] == "rooms") {
    if (parts.size() == 1) {
      if (method == http::verb::get) return json_response(http::status::ok, service_.rooms());
      if (method != http::verb::post) return method_not_allowed("GET, POST");
      qa::Caller who = caller();
      Json body = parse_body(req);
      return json_response(http::status::created, service_.create_room(who, room_patch(body)));
    }
    if (parts.size() == 2) {
      if (method != http::verb::patch && method != http::verb::post) return method_not_allowed("PATCH, POST");
      qa::Caller who = caller();
      Json body = parse_body(req);
      return json_response(http::status::ok, service_.update_room(who, room_id(parts[1]), room_patch(body)));
    }
    if (parts.size() == 3 && parts[2] == "current") {
      if (method != http::verb::post) return method_not_allowed("POST");
      qa::Caller who = caller();
      return json_response(http::status::ok, service_.set_current_room(who, room_id(parts[1])));
    }
    if (parts.size() == 3 && parts[2] == "questions") {
      if (method == http::verb::get) {
        qa::Caller who = caller();
        return json_response(http::status::ok, service_.questions(who, room_id(parts[1])));
      }
      if (method != http::verb::post) return method_not_allowed("GET, POST");
      qa::Caller who = caller();
      Json body = parse_body(req);
      auto text = string_field(body, "text");
      if (!text) refuse(Error::Code::unprocessable, "no_text", "'text' is required");
      return json_response(http::status::created,
                           service_.ask(who, room_id(parts[1]), *text, string_field(body, "name")));
    }
    if (parts.size() == 3 && parts[2] == "export.csv") {
      if (method != http::verb::get) return method_not_allowed("GET");
      qa::Caller who = caller();
      const int64_t room = room_id(parts[1]);
      Response res = make_json_response(http::status::ok, service_.export_csv(who, room));
      res.set(http::field::content_type, "text/csv; charset=utf-8");
      res.set(http::field::content_disposition, fmt::format("attachment; filename=\"qa-room-{}.csv\"", room));
      return res;
    }
    return not_found();
  }
  if (parts.size() == 3 && parts[0] == "questions") {
    if (parts[2] == "vote") {
      if (method != http::verb::post && method != http::verb::delete_) return method_not_allowed("POST, DELETE");
      qa::Caller who = caller();
      return json_response(http::status::ok,
                           service_.vote(who, id_of(parts[1], "question"), method == http::verb::post));
    }
    auto action = qa::action_from_string(parts[2]);
    if (!action) return not_found();
    if (method != http::verb::post) return method_not_allowed("POST");
    qa::Caller who = caller();
    const int64_t id = id_of(parts[1], "question");
    Json body = parse_body(req);
    Json result = service_.moderate(who, id, *action, string_field(body, "text"));
    qa_log().info("question {} {} by {}", id, parts[2], qa::to_string(who.role));
    return json_response(http::status::ok, result);
  }
  return not_found();
}

std::variant<QaSubscription, Response> QaApi::check_upgrade(const net::Exchange& exchange) const {
  auto refused = [&](Response res) {
    res.keep_alive(false);
    return res;
  };
  const net::RequestTarget& target = exchange.target;
  if (!target.ok()) return refused(error_response(http::status::bad_request, "bad_target", target.error));
  if (target.path != kQaWebSocketPath) return refused(not_found());
  try {
    QaSubscription sub;
    sub.caller = service_.authenticate(text::query_param(target.query, "token").value_or(""));
    std::string room = text::query_param(target.query, "room").value_or("current");
    if (room == "current") {
      sub.room = service_.current_room();
    } else {
      auto id = parse_id(room);
      if (!id || !service_.room(*id)) refuse(Error::Code::not_found, "no_room", fmt::format("there is no room '{}'", room));
      sub.room = *id;
    }
    if (auto since = text::query_param(target.query, "since")) {
      auto value = text::parse_digits(*since);
      if (!value) refuse(Error::Code::bad_request, "bad_since", "since must be a whole number");
      sub.since = *value;
    }
    sub.epoch = text::query_param(target.query, "epoch").value_or("");
    return sub;
  } catch (const Error& e) {
    return refused(from_error(e));
  }
}

}  // namespace relay::api
