// The Q&A REST API as a client drives it: a series of requests, each checked by
// the API (path, bearer token, JSON body: question text, edits, answers, names,
// room settings, timeouts) and carried out by a fresh qa::Service, so every input
// starts from the same empty room. An input is requests separated by lines "%%":
//
//   POST /api/qa/rooms/1/questions      method and target
//   @attendee                           Authorization: @attendee, @moderator,
//   {"text": "Why?", "name": "Ana"}     @speaker, @admin, a raw header value, or empty
//
// Requests for /api/qa/ws go through the WebSocket upgrade checks instead. No
// answer may be a 500 (that is the API's "internal error"), and every JSON
// answer must be valid JSON.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "api/qa_api.hpp"
#include "api/route_table.hpp"
#include "net/request_target.hpp"
#include "fuzz_check.hpp"

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using namespace relay;

namespace {

constexpr int64_t kNowMs = 1'700'000'000'000;

fs::path data_dir() {
  fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  return base / ("relay-fuzz-qa-" + std::to_string(::getpid()));
}

config::QaConfig qa_config() {
  config::QaConfig cfg;
  cfg.data_dir = data_dir();
  cfg.moderator_tokens = {"moderator-token"};
  cfg.speaker_tokens = {"speaker-token"};
  cfg.admin_tokens = {"admin-token"};
  cfg.word_list = {"spam", "verboten*", "\xC3\x84rger"};
  return cfg;
}

std::string_view take_line(std::string_view& text) {
  size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  return line;
}

void check(const net::Response& res) {
  FUZZ_CHECK(res.result() != http::status::internal_server_error);
  if (res[http::field::content_type].starts_with("application/json")) {
    FUZZ_CHECK(nlohmann::json::accept(res.body().view()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const config::QaConfig cfg = [] {
    log::set_level("off");
    return qa_config();
  }();
  {
    qa::Service service(cfg, [] { return kNowMs; });
    api::QaApi api(service);
    const std::string attendee =
        service.create_attendee("Ana", "10.0.0.1")["token"].get<std::string>();

    fuzz::for_each_part(fuzz::as_text(data, size), "%%", [&](std::string_view request) {
      std::string_view request_line = take_line(request);
      size_t space = request_line.find(' ');
      if (space == std::string_view::npos) return;
      http::verb method = http::string_to_verb(request_line.substr(0, space));
      if (method == http::verb::unknown) return;
      std::string_view auth = take_line(request);

      net::Request req{method, request_line.substr(space + 1), 11};
      if (auth == "@attendee") {
        req.set(http::field::authorization, "Bearer " + attendee);
      } else if (auth == "@moderator" || auth == "@speaker" || auth == "@admin") {
        req.set(http::field::authorization, fmt::format("Bearer {}-token", auth.substr(1)));
      } else if (!auth.empty()) {
        req.set(http::field::authorization, auth);
      }
      // The API takes JSON only (415 otherwise); the body is what is fuzzed.
      req.set(http::field::content_type, "application/json");
      req.body() = std::string(request);
      req.prepare_payload();

      const net::RequestTarget target = net::parse_request_target(req.target());
      const net::Exchange exchange{req, target, "10.0.0.2", api::RouteTable::lookup(req.target())};
      if (req.target().starts_with(api::kQaWebSocketPath)) {
        auto checked = api.check_upgrade(exchange);
        if (auto* refused = std::get_if<net::Response>(&checked)) check(*refused);
      }
      // Without a write queue every answer comes at once; an upgrade is not a response to check.
      net::Outcome outcome = api.handle(exchange);
      if (auto* response = std::get_if<net::Response>(&outcome)) check(*response);
    });
    service.flush_votes();
  }
  std::error_code ec;
  fs::remove_all(cfg.data_dir, ec);
  return 0;
}
