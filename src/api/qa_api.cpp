#include "api/qa_api.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>
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

Response json_response(http::status status, const Json& body) {
  return make_json_response(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

// Close codes of the application's range: the token that opened the feed was
// withdrawn; the first message brought no valid token; the attendee who
// opened it was banned (the page goes on read-only, without the token). The
// last two share the code (the HTTP 403 of the range); the reason "banned" tells them apart.
constexpr uint16_t kCloseTokenWithdrawn = 4001;
constexpr uint16_t kCloseUnauthorized = 4003;
constexpr uint16_t kCloseBanned = 4003;
// The relay loaded the Q&A again (it fell behind the shared database): the page
// reconnects, as after any drop, and gets a snapshot.
constexpr uint16_t kCloseResync = 1012;  // "service restart"

// One subscriber's live feed of a room: the WebSocket session's source, the
// Q&A's subscriber, and (for staff) a grant the authority revokes when a reload
// withdraws its token. It opens with the client's first message,
// {"type":"auth","token":"…"} ({"type":"auth"} to watch without an identity),
// so the token never travels in the URL (where proxies and logs keep it);
// nothing of the room is sent before.
class QaFeed : public net::Feed,
               public qa::Subscriber,
               public auth::Grant,
               public std::enable_shared_from_this<QaFeed> {
 public:
  QaFeed(qa::Service& service, QaSubscription subscription)
      : service_(service), subscription_(std::move(subscription)) {}
  ~QaFeed() override { close(); }

  bool opens_on_first_message() const override { return true; }

  std::vector<Bytes> open(std::weak_ptr<net::FeedSink> sink, std::string_view first_message) override {
    subscription_.token = auth_token(first_message);
    // Watching needs no identity: no token (or an empty one) is a viewer.
    try {
      subscription_.caller = subscription_.token.empty() ? qa::Caller{qa::Role::viewer, 0}
                                                         : service_.authenticate(subscription_.token);
    } catch (const Error& e) {
      throw net::FeedRefused(kCloseUnauthorized, e.what());
    }
    if (service_.is_banned(subscription_.caller)) throw net::FeedRefused(kCloseBanned, "banned");
    // A staff token may be withdrawn by a reload; its feed then ends. Attendee
    // tokens are the Q&A's own (a ban, not a reload, ends those: banned()).
    if (const qa::Role role = subscription_.caller.role; role != qa::Role::attendee && role != qa::Role::viewer) {
      service_.authority().watch(
          subscription_.token,
          [role](const auth::Authority& authority, std::string_view token) {
            return authority.staff_role(token) == role;
          },
          std::static_pointer_cast<auth::Grant>(shared_from_this()));
    }
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
  // With the Q&A's lock held, like deliver().
  void banned() override {
    if (auto sink = sink_.lock()) sink->end(kCloseBanned, "banned");
  }
  void resync() override {
    if (auto sink = sink_.lock()) sink->end(kCloseResync, "resync");
  }

 private:
  static std::string auth_token(std::string_view message) {
    const Json json = Json::parse(message, nullptr, false);
    if (json.is_object()) {
      auto type = json.find("type"), token = json.find("token");
      if (type != json.end() && *type == "auth") {
        if (token == json.end()) return {};
        if (token->is_string()) return token->get<std::string>();
      }
    }
    throw net::FeedRefused(kCloseUnauthorized,
                           R"(the first message must be {"type":"auth","token":"…"}, or {"type":"auth"} to watch)");
  }

  qa::Service& service_;
  QaSubscription subscription_;  // the caller and token filled in by open()
  std::weak_ptr<net::FeedSink> sink_;
  bool subscribed_ = false;  // on the session's thread only
};

Response from_error(const Error& e) {
  Response res = net::make_json_error(static_cast<http::status>(qa::http_status(e.code)), e.reason, e.what());
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
  Response res = net::make_json_error(http::status::method_not_allowed, "method_not_allowed",
                                fmt::format("this resource accepts {}", allow));
  res.set(http::field::allow, allow);
  return res;
}

Response not_found() { return net::make_json_error(http::status::not_found, "not_found", "no such Q&A resource"); }

int64_t room_id(const qa::Service& service, std::string_view text) {
  if (text == "current") return service.current_room();
  auto id = parse_id(text);
  if (!id) refuse(Error::Code::not_found, "no_room", fmt::format("there is no room '{}'", text));
  return *id;
}

int64_t id_of(std::string_view text, std::string_view what) {
  auto id = parse_id(text);
  if (!id) refuse(Error::Code::not_found, "not_found", fmt::format("there is no {} '{}'", what, text));
  return *id;
}

// The Q&A's routes: a path pattern under kQaPrefix, and per method the handler
// and whether it writes. A request that writes runs on the Q&A's write thread.

enum class Effect { reads, writes };

struct QaRoute;

// One request on a matched route; param() names a segment by its pattern's
// placeholder ("room" for rooms/{room}).
struct QaCall {
  qa::Service& service;
  const FullRequest& req;
  std::string_view client;
  const QaRoute& route;
  const std::vector<std::string>& segments;

  std::string_view param(std::string_view name) const;
  qa::Caller caller() const { return service.authenticate(bearer_token(req)); }
  // For what anyone may read: a viewer without a token, else the token's caller.
  qa::Caller reader() const {
    return bearer_token(req).empty() ? qa::Caller{qa::Role::viewer, 0} : caller();
  }
};

using QaHandler = Response (*)(const QaCall& call);

struct QaMethod {
  std::optional<http::verb> verb;  // nullopt: every method
  Effect effect;
  QaHandler handler;
};

struct QaRoute {
  QaRoute(std::string_view pattern, std::vector<QaMethod> methods)
      : segments(split(pattern)), methods(std::move(methods)) {
    for (const QaMethod& m : this->methods) {
      if (!m.verb) continue;
      if (!allow.empty()) allow += ", ";
      allow += http::to_string(*m.verb);
    }
  }

  std::vector<std::string_view> segments;  // literals and {placeholders}
  std::vector<QaMethod> methods;
  std::string allow;  // what a 405 lists: the methods in the order above
};

std::string_view QaCall::param(std::string_view name) const {
  for (size_t i = 0; i < route.segments.size(); ++i) {
    std::string_view s = route.segments[i];
    if (s.size() == name.size() + 2 && s.front() == '{' && s.back() == '}' && s.substr(1, name.size()) == name)
      return segments[i];
  }
  throw std::logic_error(fmt::format("no {{{}}} in the Q&A route", name));
}

Response upgrade_required(const QaCall&) {
  return net::make_json_error(http::status::upgrade_required, "upgrade_required",
                        "this is a WebSocket endpoint: connect to ws://…/api/qa/ws?room=… and send "
                              "{\"type\":\"auth\",\"token\":\"…\"} first");
}

Response create_attendee(const QaCall& call) {
  Json body = parse_body(call.req);
  return json_response(http::status::created,
                       call.service.create_attendee(string_field(body, "name").value_or(""), std::string(call.client)));
}

Response describe_caller(const QaCall& call) {
  return json_response(http::status::ok, call.service.describe(call.caller()));
}

Response time_out_attendee(const QaCall& call) {
  qa::Caller who = call.caller();
  int64_t attendee = id_of(call.param("attendee"), "attendee");
  Json body = parse_body(call.req);
  auto seconds = int_field(body, "seconds");
  if (!seconds) refuse(Error::Code::unprocessable, "no_seconds", "'seconds' is required");
  Json result = call.service.timeout(who, attendee, *seconds);
  qa_log().info("attendee {} timed out by {}", attendee, qa::to_string(who.role));
  return json_response(http::status::ok, result);
}

Response set_ban(const QaCall& call, bool banned) {
  qa::Caller who = call.caller();
  int64_t attendee = id_of(call.param("attendee"), "attendee");
  const bool network = bool_field(parse_body(call.req), "network").value_or(false);
  Json result = call.service.ban(who, attendee, banned, network);
  qa_log().info("attendee {} {}{} by {}", attendee, banned ? "banned" : "unbanned",
                result.value("network", false) ? " with their network" : "", qa::to_string(who.role));
  return json_response(http::status::ok, result);
}

Response ban_attendee(const QaCall& call) { return set_ban(call, true); }
Response unban_attendee(const QaCall& call) { return set_ban(call, false); }

Response list_rooms(const QaCall& call) { return json_response(http::status::ok, call.service.rooms()); }

Response create_room(const QaCall& call) {
  qa::Caller who = call.caller();
  Json body = parse_body(call.req);
  return json_response(http::status::created, call.service.create_room(who, room_patch(body)));
}

Response update_room(const QaCall& call) {
  qa::Caller who = call.caller();
  Json body = parse_body(call.req);
  return json_response(http::status::ok,
                       call.service.update_room(who, room_id(call.service, call.param("room")), room_patch(body)));
}

Response set_current_room(const QaCall& call) {
  qa::Caller who = call.caller();
  return json_response(http::status::ok, call.service.set_current_room(who, room_id(call.service, call.param("room"))));
}

// The client's key for a write it may retry (the service checks its form).
std::string idempotency_key(const FullRequest& req) {
  auto it = req.find("Idempotency-Key");
  if (it == req.end()) return {};
  std::string key(it->value());
  if (key.empty()) refuse(Error::Code::bad_request, "bad_idempotency_key", "the Idempotency-Key header is empty");
  return key;
}

Response list_questions(const QaCall& call) {
  qa::Caller who = call.reader();
  return json_response(http::status::ok, call.service.questions(who, room_id(call.service, call.param("room"))));
}

Response ask(const QaCall& call) {
  qa::Caller who = call.caller();
  Json body = parse_body(call.req);
  auto text = string_field(body, "text");
  if (!text) refuse(Error::Code::unprocessable, "no_text", "'text' is required");
  return json_response(http::status::created,
                       call.service.ask(who, room_id(call.service, call.param("room")), *text,
                                        string_field(body, "name"), call.client, idempotency_key(call.req)));
}

Response export_csv(const QaCall& call) {
  qa::Caller who = call.caller();
  const int64_t room = room_id(call.service, call.param("room"));
  Response res = make_json_response(http::status::ok, call.service.export_csv(who, room));
  res.set(http::field::content_type, "text/csv; charset=utf-8");
  res.set(http::field::content_disposition, fmt::format("attachment; filename=\"qa-room-{}.csv\"", room));
  return res;
}

Response set_vote(const QaCall& call, bool up) {
  qa::Caller who = call.caller();
  return json_response(http::status::ok, call.service.vote(who, id_of(call.param("question"), "question"), up,
                                                          call.client, idempotency_key(call.req)));
}

Response vote(const QaCall& call) { return set_vote(call, true); }
Response unvote(const QaCall& call) { return set_vote(call, false); }

Response delete_question(const QaCall& call) {
  qa::Caller who = call.caller();
  return json_response(http::status::ok, call.service.delete_question(who, id_of(call.param("question"), "question")));
}

Response moderate(const QaCall& call) {
  qa::Caller who = call.caller();
  const int64_t id = id_of(call.param("question"), "question");
  Json body = parse_body(call.req);
  const std::string_view action = call.param("action");
  Json result = call.service.moderate(who, id, *qa::action_from_string(action), string_field(body, "text"));
  qa_log().info("question {} {} by {}", id, action, qa::to_string(who.role));
  return json_response(http::status::ok, result);
}

const std::vector<QaRoute>& qa_routes() {
  using enum Effect;
  constexpr auto get = http::verb::get, post = http::verb::post, patch = http::verb::patch,
                 delete_ = http::verb::delete_;
  // The path answers every method alike: WebSocket upgrades never get here.
  constexpr std::optional<http::verb> any_method;
  static const std::vector<QaRoute> routes = {
      {"ws", {{any_method, reads, upgrade_required}}},
      {"attendees", {{post, writes, create_attendee}}},
      {"me", {{get, reads, describe_caller}}},
      {"attendees/{attendee}/timeout", {{post, writes, time_out_attendee}}},
      {"attendees/{attendee}/ban", {{post, writes, ban_attendee}, {delete_, writes, unban_attendee}}},
      {"rooms", {{get, reads, list_rooms}, {post, writes, create_room}}},
      {"rooms/{room}", {{patch, writes, update_room}, {post, writes, update_room}}},
      {"rooms/{room}/current", {{post, writes, set_current_room}}},
      {"rooms/{room}/questions", {{get, reads, list_questions}, {post, writes, ask}}},
      {"rooms/{room}/export.csv", {{get, reads, export_csv}}},
      {"questions/{question}", {{delete_, writes, delete_question}}},
      {"questions/{question}/vote", {{post, writes, vote}, {delete_, writes, unvote}}},
      {"questions/{question}/{action}", {{post, writes, moderate}}},
  };
  return routes;
}

// A placeholder matches any segment, an empty one too (the handler refuses a
// bad id); {action} only the names of moderation actions.
bool segment_matches(std::string_view pattern, std::string_view segment) {
  if (pattern == "{action}") return qa::action_from_string(segment).has_value();
  if (pattern.starts_with('{')) return true;
  return pattern == segment;
}

// The route and method a request is on. The segments are copies: a write runs
// after the session's request is gone.
struct QaMatch {
  const QaRoute* route = nullptr;    // null: no such resource (404)
  const QaMethod* method = nullptr;  // null: the route does not accept the method (405)
  std::vector<std::string> segments;

  bool writes() const { return method && method->effect == Effect::writes; }
};

QaMatch match_route(std::string_view path, http::verb verb) {
  QaMatch match;
  if (!path.starts_with(kQaPrefix)) return match;
  const std::vector<std::string_view> parts = split(path.substr(kQaPrefix.size()));
  for (const QaRoute& route : qa_routes()) {
    if (route.segments.size() != parts.size() ||
        !std::equal(parts.begin(), parts.end(), route.segments.begin(), [](std::string_view part, std::string_view p) {
          return segment_matches(p, part);
        }))
      continue;
    match.route = &route;
    match.segments.assign(parts.begin(), parts.end());
    for (const QaMethod& m : route.methods) {
      if (!m.verb || *m.verb == verb) {
        match.method = &m;
        break;
      }
    }
    break;
  }
  return match;
}

Response run(qa::Service& service, const QaMatch& match, const FullRequest& req, std::string_view path,
             std::string_view client) {
  try {
    if (!match.route) return not_found();
    if (!match.method) return method_not_allowed(match.route->allow);
    if (auto refused = net::refuse_unless_json(req)) return std::move(*refused);
    return match.method->handler(QaCall{service, req, client, *match.route, match.segments});
  } catch (const Error& e) {
    return from_error(e);
  } catch (const std::exception& e) {
    qa_log().error("{} {}: {}", req.method_string(), path, e.what());
    return net::make_json_error(http::status::internal_server_error, "internal", "internal error");
  }
}

}  // namespace

net::Outcome QaApi::handle(const net::Exchange& exchange) const {
  const FullRequest& req = exchange.message;
  if (!exchange.target.ok()) return net::make_json_error(http::status::bad_request, "bad_target", exchange.target.error);
  if (boost::beast::websocket::is_upgrade(req)) {
    auto checked = check_upgrade(exchange);
    if (auto* refused = std::get_if<Response>(&checked)) return std::move(*refused);
    auto feed = std::make_shared<QaFeed>(service_, std::get<QaSubscription>(std::move(checked)));
    return net::Upgrade{std::move(feed), nullptr};
  }
  QaMatch match = match_route(exchange.target.path, req.method());
  if (!match.writes() || !writes_) return run(service_, match, req, exchange.target.path, exchange.client);
  // Runs on the Q&A's thread, after the writes before it; the session may be
  // gone by then, so the task owns a copy of what it needs.
  return net::Deferred{[this, match = std::move(match), req = FullRequest(req), path = exchange.target.path,
                        client = std::string(exchange.client)](net::Deferred::Complete complete) {
    auto task = [this, match, req, path, client, complete] { complete(run(service_, match, req, path, client)); };
    if (!writes_->post(task)) {
      Response res = net::make_json_error(http::status::service_unavailable, "busy", "the Q&A is busy, try again");
      res.set(http::field::retry_after, "1");
      complete(std::move(res));
    }
  }};
}

Response QaApi::answer(const FullRequest& req, std::string_view path, std::string_view client) const {
  return run(service_, match_route(path, req.method()), req, path, client);
}

std::variant<QaSubscription, Response> QaApi::check_upgrade(const net::Exchange& exchange) const {
  auto refused = [&](Response res) {
    res.keep_alive(false);
    return res;
  };
  const net::RequestTarget& target = exchange.target;
  if (!target.ok()) return refused(net::make_json_error(http::status::bad_request, "bad_target", target.error));
  if (target.path != kQaWebSocketPath) return refused(not_found());
  try {
    QaSubscription sub;
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
