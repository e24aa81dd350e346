#include "api/push_api.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

namespace relay::api {
namespace http = boost::beast::http;
using net::make_json_error;
using net::Response;

namespace {

Response unauthorized(std::string_view reason, std::string_view message) {
  Response res = make_json_error(http::status::unauthorized, reason, message);
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

Response no_content() {
  Response res{http::status::no_content, 11};
  res.set(http::field::cache_control, "no-store");
  return res;
}

}  // namespace

uint64_t PushApi::max_body_bytes() const { return receiver_ ? receiver_->limits().max_object_bytes : 0; }

Response PushApi::handle(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  if (!receiver_ || !authority_.push_configured())
    return unauthorized("push_not_configured",
                        "this relay takes no pushed media: set ingest.source = \"push:\" and ingest.push_tokens");
  const std::string_view token = text::bearer_token(req[http::field::authorization]);
  if (!authority_.allows_push(token)) {
    receiver_->record_rejected();
    return unauthorized("unauthorized", "a push needs \"Authorization: Bearer <one of ingest.push_tokens>\"");
  }
  if (!exchange.target.ok()) return make_json_error(http::status::bad_request, "bad_target", exchange.target.error);
  const bool put = req.method() == http::verb::put || req.method() == http::verb::post;
  const bool del = req.method() == http::verb::delete_;
  if (!put && !del) {
    Response res = make_json_error(http::status::method_not_allowed, "method_not_allowed", "PUT or DELETE objects here");
    res.set(http::field::allow, "PUT, POST, DELETE");
    return res;
  }
  std::string_view rest = std::string_view(exchange.target.path).substr(kIngestPrefix.size());
  // The master playlist: the relay writes its own from the renditions' init sections.
  if (rest == "master.m3u8") return no_content();
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos)
    return make_json_error(http::status::not_found, "not_found", "push to /ingest/<rendition>/<object>");
  const std::string_view name = rest.substr(0, slash);
  const std::string_view object = rest.substr(slash + 1);
  const auto rendition = store_.find(name);
  if (!rendition || *rendition >= receiver_->rendition_count())
    return make_json_error(http::status::not_found, "unknown_rendition",
                           fmt::format("'{}' is not a rendition of this relay's ladder (encoder.renditions)",
                                       name.substr(0, 64)));
  if (!hls::valid_object_name(object))
    return make_json_error(http::status::bad_request, "bad_object_name",
                           "an object name is 1..200 of letters, digits, '.', '_' and '-'");
  if (del) {
    receiver_->delete_object(*rendition, std::string(object));
    return no_content();
  }
  return this->put(exchange, *rendition, object);
}

Response PushApi::put(const net::Exchange& exchange, size_t rendition, std::string_view object) const {
  const std::string& body = exchange.message.body();
  const int64_t now = now_epoch_ms();
  if (object.ends_with(".m3u8")) {
    auto outcome = receiver_->put_playlist(rendition, body, now);
    switch (outcome.result) {
      case hls::PushReceiver::Result::ok:
        if (outcome.report.gap || outcome.report.restarted)
          log::get("push")->warn("{}: {}; the stream goes on after a discontinuity", store_.names()[rendition],
                                 outcome.report.restarted ? "the pusher restarted its stream" : "pushed media lost");
        return no_content();
      case hls::PushReceiver::Result::bad_playlist:
        return make_json_error(http::status::bad_request, "bad_playlist", outcome.message);
      case hls::PushReceiver::Result::bad_media:
        log::get("push")->warn("{}: {}", store_.names()[rendition], outcome.message);
        return make_json_error(http::status::bad_request, "bad_media", outcome.message);
      case hls::PushReceiver::Result::too_large:
        break;
    }
    return make_json_error(http::status::payload_too_large, "too_large", outcome.message);
  }
  auto outcome = receiver_->put_object(rendition, std::string(object), body, now);
  if (outcome.result == hls::PushReceiver::Result::too_large)
    return make_json_error(http::status::payload_too_large, "too_large", outcome.message);
  return no_content();
}

}  // namespace relay::api
