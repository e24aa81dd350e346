#include "api/programme_api.hpp"

#include <algorithm>
#include <optional>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "common/log.hpp"
#include "common/text.hpp"
#include "common/wall_time.hpp"
#include "programme/icalendar.hpp"

namespace relay::api {
namespace http = boost::beast::http;
using qa::Json;

namespace {

spdlog::logger& programme_log() {
  static const auto logger = relay::log::get("programme");
  return *logger;
}

net::Response json_response(http::status status, const Json& body) {
  return net::make_json_response(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Json optional_time(const std::optional<std::int64_t>& unix_seconds) {
  return unix_seconds ? Json(wall_time::format_rfc3339_utc(*unix_seconds)) : Json(nullptr);
}

Json talk_json(const programme::Talk& talk, const std::map<std::string, int64_t>& rooms) {
  const auto room = rooms.find(talk.id);
  return Json{{"id", talk.id},
              {"title", talk.title},
              {"speakers", talk.speakers},
              {"language", talk.language},
              {"abstract", talk.abstract},
              // As written in the config (its own offset); pages convert to the viewer's zone.
              {"planned_start", wall_time::format_rfc3339(talk.planned_start)},
              {"planned_end", wall_time::format_rfc3339(talk.planned_end)},
              {"actual_start", optional_time(talk.actual_start)},
              {"actual_end", optional_time(talk.actual_end)},
              {"room", room == rooms.end() ? Json(nullptr) : Json(room->second)}};
}

http::status mark_status(programme::MarkError error) {
  return error == programme::MarkError::unknown_talk ? http::status::not_found : http::status::conflict;
}

std::string_view mark_reason(programme::MarkError error) {
  switch (error) {
    case programme::MarkError::unknown_talk: return "unknown_talk";
    case programme::MarkError::not_on_stage: return "not_on_stage";
    case programme::MarkError::already_ended: return "already_ended";
    case programme::MarkError::nothing_next: return "nothing_next";
  }
  return "conflict";
}

net::Response from_qa_error(const qa::Error& e) {
  net::Response res = net::make_json_error(static_cast<http::status>(qa::http_status(e.code)), e.reason, e.what());
  if (e.code == qa::Error::Code::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"qa\"");
  return res;
}

}  // namespace

ProgrammeApi::ProgrammeApi(programme::Programme programme, qa::Service& questions, WorkQueue* writes,
                           std::function<int64_t()> clock, std::string uid_domain)
    : questions_(questions),
      writes_(writes),
      clock_(std::move(clock)),
      uid_domain_(std::move(uid_domain)),
      programme_(std::move(programme)) {}

bool ProgrammeApi::restore_mark(const std::string& talk, std::optional<int64_t> start_s,
                                std::optional<int64_t> end_s) {
  std::lock_guard lock(mutex_);
  return programme_.restore_mark(talk, start_s, end_s);
}

Json ProgrammeApi::document() const {
  Json talks = Json::array();
  for (const programme::Talk& talk : programme_.talks()) talks.push_back(talk_json(talk, rooms_));
  const programme::Talk* on_stage = programme_.on_stage();
  const programme::Talk* next = programme_.next();
  return Json{{"talks", std::move(talks)},
              {"on_stage", on_stage ? Json(on_stage->id) : Json(nullptr)},
              {"next", next ? Json(next->id) : Json(nullptr)}};
}

int64_t ProgrammeApi::room_for(const qa::Caller& caller, const programme::Talk& talk) const {
  if (const auto known = rooms_.find(talk.id); known != rooms_.end()) return known->second;
  const Json listing = questions_.rooms();
  for (const Json& room : listing.at("rooms")) {
    if (room.at("title") == talk.title) return rooms_[talk.id] = room.at("id").get<int64_t>();
  }
  qa::RoomPatch patch;
  patch.title = talk.title;
  const Json created = questions_.create_room(caller, patch);
  programme_log().info("talk '{}': Q&A room {} created", talk.id, created.at("id").get<int64_t>());
  return rooms_[talk.id] = created.at("id").get<int64_t>();
}

net::Response ProgrammeApi::mark(const net::Request& req, std::string_view path) const {
  // path: /api/programme/next or /api/programme/<talk>/<start|end>
  std::string_view rest = path.substr(kProgrammePrefix.size() + 1);
  std::string talk_id, action;
  if (rest == "next") {
    action = "next";
  } else {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos)
      return net::make_json_error(http::status::not_found, "not_found",
                                  "expected /api/programme/<talk>/start, /api/programme/<talk>/end or /api/programme/next");
    talk_id = std::string(rest.substr(0, slash));
    action = std::string(rest.substr(slash + 1));
    if (action != "start" && action != "end")
      return net::make_json_error(http::status::not_found, "not_found",
                                  fmt::format("unknown action '{}'; expected start or end", action));
  }
  try {
    const qa::Caller caller = questions_.authenticate(text::bearer_token(req[http::field::authorization]));
    if (!caller.is_staff())
      return net::make_json_error(http::status::forbidden, "forbidden",
                                  "marking the programme needs a moderator or admin token");
    const int64_t now_ms = clock_();
    const int64_t now = now_ms / 1000;
    std::lock_guard lock(mutex_);
    programme::MarkResult result;
    std::optional<int64_t> room;
    if (action == "end") {
      result = programme_.end(talk_id, now);
    } else {
      // Refusals first, so that a refused mark creates no room.
      const programme::Talk* talk = action == "next" ? programme_.next() : programme_.find(talk_id);
      if (action == "next" && !talk) {
        result = programme_.advance(now);
      } else if (!talk || talk->actual_end) {
        result = programme_.start(talk_id, now);
      } else {
        room = room_for(caller, *talk);
        result = programme_.start(talk->id, now);
      }
    }
    if (result.error)
      return net::make_json_error(mark_status(*result.error), mark_reason(*result.error), result.message);
    if (room) questions_.set_current_room(caller, *room);
    if (mark_listener_) {
      if (result.ended) mark_listener_(*result.ended, std::nullopt, now_ms);
      if (result.started) mark_listener_(*result.started, now_ms, std::nullopt);
    }
    if (result.ended) programme_log().info("talk '{}' ended", *result.ended);
    if (result.started) programme_log().info("talk '{}' started, Q&A room {} is current", *result.started, *room);
    return json_response(http::status::ok, document());
  } catch (const qa::Error& e) {
    return from_qa_error(e);
  }
}

net::Response ProgrammeApi::change(const net::Request& req, std::string_view talk_id) const {
  try {
    const qa::Caller caller = questions_.authenticate(text::bearer_token(req[http::field::authorization]));
    if (caller.role != qa::Role::admin)
      return net::make_json_error(http::status::forbidden, "forbidden", "changing the programme needs an admin token");
  } catch (const qa::Error& e) {
    return from_qa_error(e);
  }
  if (auto refused = net::refuse_unless_json(req)) return std::move(*refused);
  const Json body = Json::parse(req.body(), nullptr, false);
  if (!body.is_object()) return net::make_json_error(http::status::bad_request, "bad_json", "expected a JSON object");
  programme::TalkPatch patch;
  auto text = [&](const char* key, std::optional<std::string>& out) -> bool {
    const auto it = body.find(key);
    if (it == body.end()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto time = [&](const char* key, std::optional<wall_time::WallTime>& out) -> bool {
    std::optional<std::string> raw;
    if (!text(key, raw)) return false;
    if (raw && !(out = wall_time::parse_rfc3339(*raw))) return false;
    return true;
  };
  for (const auto& [key, value] : body.items()) {
    static constexpr std::string_view kKnown[] = {"title", "speakers", "start", "end", "language", "abstract"};
    if (std::find(std::begin(kKnown), std::end(kKnown), key) == std::end(kKnown))
      return net::make_json_error(http::status::unprocessable_entity, "unknown_field",
                                  fmt::format("unknown field '{}'; known: title, speakers, start, end, language, "
                                              "abstract",
                                              key));
  }
  if (!text("title", patch.title) || !text("language", patch.language) || !text("abstract", patch.abstract))
    return net::make_json_error(http::status::unprocessable_entity, "bad_field",
                                "title, language and abstract are strings");
  if (!time("start", patch.start) || !time("end", patch.end))
    return net::make_json_error(http::status::unprocessable_entity, "bad_time",
                                "start and end are RFC 3339 times with a zone, e.g. \"2027-03-10T09:00:00+01:00\"");
  if (const auto it = body.find("speakers"); it != body.end()) {
    if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const Json& s) { return s.is_string(); }))
      return net::make_json_error(http::status::unprocessable_entity, "bad_field", "speakers is a list of strings");
    patch.speakers = it->get<std::vector<std::string>>();
  }
  std::lock_guard lock(mutex_);
  if (!programme_.find(std::string(talk_id)))
    return net::make_json_error(http::status::not_found, "unknown_talk",
                                fmt::format("no talk '{}' in the programme", talk_id));
  if (const auto problem = programme_.update(std::string(talk_id), patch))
    return net::make_json_error(http::status::unprocessable_entity, "invalid_talk", *problem);
  programme_log().info("talk '{}' changed", talk_id);
  return json_response(http::status::ok, document());
}

std::vector<programme::Talk> ProgrammeApi::talks() const {
  std::lock_guard lock(mutex_);
  return programme_.talks();
}

net::Outcome ProgrammeApi::handle(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  const std::string_view path = exchange.target.path;
  const bool read = req.method() == http::verb::get || req.method() == http::verb::head;
  if (path == kProgrammeIcsPath || path == kProgrammePrefix) {
    if (!read) {
      net::Response res = net::make_json_error(http::status::method_not_allowed, "method_not_allowed",
                                               "this resource is read with GET");
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    std::lock_guard lock(mutex_);
    if (path == kProgrammePrefix) {
      net::Response res = json_response(http::status::ok, document());
      // The attendee page polls it every few seconds; a shared cache in front of the
      // relay may answer those polls for a moment, so a mark reaches pages within ~7 s.
      res.set(http::field::cache_control, "public, max-age=2");
      return res;
    }
    net::Response res =
        net::make_json_response(http::status::ok, programme::write_icalendar(programme_, uid_domain_, clock_() / 1000));
    res.set(http::field::content_type, "text/calendar; charset=utf-8");
    // Calendars poll it; a changed programme should reach them on their next poll.
    res.set(http::field::cache_control, "no-cache");
    return res;
  }
  if (req.method() == http::verb::put) {
    const std::string_view talk_id = path.substr(std::min(path.size(), kProgrammePrefix.size() + 1));
    if (path.size() <= kProgrammePrefix.size() + 1 || talk_id.find('/') != std::string_view::npos)
      return net::make_json_error(http::status::not_found, "not_found", "expected PUT /api/programme/<talk>");
    return change(req, talk_id);
  }
  if (req.method() != http::verb::post) {
    net::Response res = net::make_json_error(http::status::method_not_allowed, "method_not_allowed",
                                             "programme marks are sent with POST");
    res.set(http::field::allow, "POST");
    return res;
  }
  if (!writes_) return mark(req, path);
  return net::Deferred{[this, req = net::Request(req), path = std::string(path)](net::Deferred::Complete complete) {
    auto task = [this, req, path, complete] { complete(mark(req, path)); };
    if (!writes_->post(task)) {
      net::Response res = net::make_json_error(http::status::service_unavailable, "busy", "the Q&A is busy, try again");
      res.set(http::field::retry_after, "1");
      complete(std::move(res));
    }
  }};
}

}  // namespace relay::api
