#include "api/recording_api.hpp"

#include <boost/beast/http/field.hpp>

#include "common/text.hpp"
#include "recording/journal.hpp"

namespace relay::api {
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

net::Response json_response(http::status status, const json& body) {
  return net::make_json_response(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

net::Response refuse(http::status status, std::string_view reason, std::string_view message) {
  net::Response res = net::make_json_error(status, reason, message);
  if (status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"recording\"");
  return res;
}

}  // namespace

json recording_json(const recording::RecorderStatus& s) {
  const auto optional_number = [](const auto& value) { return value ? json(*value) : json(nullptr); };
  return json{{"state", recording::to_string(s.state)},
              {"event", s.event.empty() ? json(nullptr) : json(s.event)},
              {"run", s.run},
              {"stop_reason", s.stop_reason.empty() ? json(nullptr) : json(s.stop_reason)},
              {"bytes_written", s.bytes},
              {"segments", s.segments},
              {"dropped", s.dropped},
              {"disk_free_bytes", optional_number(s.disk_free_bytes)},
              {"disk_low", s.disk_low},
              {"oldest_event", s.oldest_event.empty() ? json(nullptr) : json(s.oldest_event)},
              {"oldest_event_start",
               s.oldest_event_epoch_ms ? json(recording::format_time_ms(*s.oldest_event_epoch_ms)) : json(nullptr)},
              {"last_error", s.last_error.empty() ? json(nullptr) : json(s.last_error)}};
}

RecordingApi::RecordingApi(recording::Recorder& recorder, const auth::Authority& authority)
    : recorder_(recorder), authority_(authority) {}

net::Outcome RecordingApi::handle(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  const std::string_view path = exchange.target.path;
  const std::string_view token = text::bearer_token(req[http::field::authorization]);
  if (token.empty())
    return refuse(http::status::unauthorized, "no_token", "send a technician token: Authorization: Bearer <token>");
  const auto caller = authority_.authenticate(token);
  if (!caller) return refuse(http::status::unauthorized, "bad_token", "this token is not valid here");
  if (!caller->is_technician())
    return refuse(http::status::forbidden, "forbidden", "the recording needs a technician or admin token");

  if (path == kRecordingPrefix) {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      net::Response res = refuse(http::status::method_not_allowed, "method_not_allowed",
                                 "read the recording's state with GET; start and stop with POST to "
                                 "/api/recording/start and /api/recording/stop");
      res.set(http::field::allow, "GET, HEAD");
      return res;
    }
    return json_response(http::status::ok, recording_json(recorder_.status()));
  }
  const bool start = path == "/api/recording/start";
  if (!start && path != "/api/recording/stop")
    return refuse(http::status::not_found, "not_found",
                  "expected /api/recording, /api/recording/start or /api/recording/stop");
  if (req.method() != http::verb::post) {
    net::Response res = refuse(http::status::method_not_allowed, "method_not_allowed", "start and stop with POST");
    res.set(http::field::allow, "POST");
    return res;
  }
  const bool recording = recorder_.status().state == recording::RecorderState::recording;
  if (start && recording) return refuse(http::status::conflict, "already_recording", "the recording is running");
  if (!start && !recording) return refuse(http::status::conflict, "not_recording", "the recording is not running");
  return net::Deferred{[this, start](net::Deferred::Complete complete) {
    auto done = [complete, start](const recording::RecorderStatus& status) {
      const bool ok = start ? status.state == recording::RecorderState::recording
                            : status.state != recording::RecorderState::recording;
      if (ok) return complete(json_response(http::status::ok, recording_json(status)));
      // Refused by the disk or the folder: the reason is in last_error.
      json body = recording_json(status);
      body["error"] = start ? "not_started" : "not_stopped";
      body["message"] = status.last_error.empty() ? std::string("the recording did not change") : status.last_error;
      complete(json_response(http::status::conflict, body));
    };
    const bool posted = start ? recorder_.start("operator", done) : recorder_.stop("operator", done);
    if (!posted) {
      net::Response res = refuse(http::status::service_unavailable, "busy", "the recorder is busy, try again");
      res.set(http::field::retry_after, "1");
      complete(std::move(res));
    }
  }};
}

}  // namespace relay::api
