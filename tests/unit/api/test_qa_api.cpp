#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/qa_api.hpp"
#include "common/log.hpp"
#include "common/work_queue.hpp"
#include "exchange.hpp"

using namespace relay;
using namespace relay::api;
namespace http = boost::beast::http;
using Json = nlohmann::json;
using FullRequest = net::Request;

namespace {

const std::string kModerator = "moderator-token-0123456789";

struct ApiFixture {
  explicit ApiFixture(const std::function<void(config::QaConfig&)>& configure = {}) {
    std::random_device random;
    dir = std::filesystem::temp_directory_path() / ("relay-qa-api-test-" + std::to_string(random()));
    config::QaConfig cfg;
    cfg.data_dir = dir;
    cfg.moderator_tokens = {kModerator};
    if (configure) configure(cfg);
    relay::log::set_level("warn");
    service = std::make_unique<qa::Service>(cfg, [] { return int64_t{1'700'000'000'000}; });
    api = std::make_unique<QaApi>(*service);
  }
  ~ApiFixture() {
    api.reset();
    service.reset();
    std::filesystem::remove_all(dir);
  }

  Response call(http::verb method, const std::string& target, const std::string& body = "",
                const std::string& authorization = "", const std::string& client = "127.0.0.1",
                const std::string& content_type = "application/json") {
    FullRequest req{method, target, 11};
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!body.empty() && !content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
    return test::respond(*api, req, client);
  }
  static Json json(const Response& res) {
    const auto& bytes = *res.body().data();
    return Json::parse(std::string(bytes.begin(), bytes.end()));
  }
  std::string attendee_token() {
    return json(call(http::verb::post, "/api/qa/attendees", "{}"))["token"].get<std::string>();
  }

  std::filesystem::path dir;
  std::unique_ptr<qa::Service> service;
  std::unique_ptr<QaApi> api;
};

}  // namespace

TEST_CASE("qa api: routes, methods and JSON errors", "[edge][qa]") {
  ApiFixture f;
  Response res = f.call(http::verb::get, "/api/qa/rooms");
  CHECK(res.result() == http::status::ok);
  CHECK(res[http::field::content_type] == "application/json; charset=utf-8");
  CHECK(res[http::field::cache_control] == "no-store");
  CHECK(ApiFixture::json(res)["rooms"].size() == 1);

  res = f.call(http::verb::get, "/api/qa/nope");
  CHECK(res.result() == http::status::not_found);
  CHECK(ApiFixture::json(res)["error"] == "not_found");

  res = f.call(http::verb::put, "/api/qa/rooms");
  CHECK(res.result() == http::status::method_not_allowed);
  CHECK(res[http::field::allow] == "GET, POST");

  res = f.call(http::verb::get, "/api/qa/../etc/passwd");
  CHECK(res.result() == http::status::bad_request);

  res = f.call(http::verb::get, "/api/qa/ws");
  CHECK(res.result() == http::status::upgrade_required);
}

TEST_CASE("qa api: bearer tokens", "[edge][qa]") {
  ApiFixture f;
  Response res = f.call(http::verb::post, "/api/qa/questions/1/approve");
  CHECK(res.result() == http::status::unauthorized);
  CHECK(res[http::field::www_authenticate] == "Bearer realm=\"qa\"");
  CHECK(f.call(http::verb::get, "/api/qa/me", "", "Basic " + kModerator).result() == http::status::unauthorized);
  CHECK(ApiFixture::json(f.call(http::verb::get, "/api/qa/me", "", "bearer  " + kModerator + " "))["role"] ==
        "moderator");
  const std::string token = f.attendee_token();
  CHECK(f.call(http::verb::post, "/api/qa/rooms", R"({"title":"x"})", "Bearer " + token).result() ==
        http::status::forbidden);
}

TEST_CASE("qa api: bodies", "[edge][qa]") {
  ApiFixture f;
  const std::string auth = "Bearer " + f.attendee_token();
  const std::string ask = "/api/qa/rooms/current/questions";
  CHECK(f.call(http::verb::post, ask, "{nope", auth).result() == http::status::bad_request);
  CHECK(f.call(http::verb::post, ask, "[1]", auth).result() == http::status::bad_request);
  CHECK(f.call(http::verb::post, ask, R"({"text":1})", auth).result() == http::status::unprocessable_entity);
  CHECK(f.call(http::verb::post, ask, "", auth).result() == http::status::unprocessable_entity);
  Response res = f.call(http::verb::post, ask, R"({"text":"Hallo \u00e4"})", auth);
  CHECK(res.result() == http::status::created);
  CHECK(ApiFixture::json(res)["text"] == "Hallo ä");
  CHECK(f.call(http::verb::post, "/api/qa/rooms/7/questions", R"({"text":"x"})", auth).result() ==
        http::status::not_found);
  CHECK(f.call(http::verb::post, "/api/qa/rooms/01/questions", R"({"text":"x"})", auth).result() ==
        http::status::not_found);

  res = f.call(http::verb::get, "/api/qa/rooms/1/export.csv", "", "Bearer " + kModerator);
  CHECK(res.result() == http::status::ok);
  CHECK(res[http::field::content_type] == "text/csv; charset=utf-8");
  CHECK(res[http::field::content_disposition] == "attachment; filename=\"qa-room-1.csv\"");
}

// A page of another site may POST text/plain or a form to the relay without
// the browser asking first (a CORS "simple" request), but not JSON.
TEST_CASE("qa api: bodies are JSON only", "[edge][qa]") {
  ApiFixture f;
  const std::string auth = "Bearer " + kModerator;
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""}) {
    INFO(type);
    Response res = f.call(http::verb::post, "/api/qa/rooms", R"({"title":"x"})", auth, "127.0.0.1", type);
    CHECK(res.result() == http::status::unsupported_media_type);
    CHECK(ApiFixture::json(res)["error"] == "unsupported_media_type");
  }
  // A declared type that is not JSON is refused even without a body.
  FullRequest empty{http::verb::post, "/api/qa/rooms/1/current", 11};
  empty.set(http::field::authorization, auth);
  empty.set(http::field::content_type, "text/plain");
  CHECK(test::respond(*f.api, empty).result() == http::status::unsupported_media_type);
  CHECK(f.call(http::verb::post, "/api/qa/rooms", R"({"title":"x"})", auth, "127.0.0.1", "Application/JSON; charset=utf-8")
            .result() == http::status::created);
  CHECK(f.call(http::verb::post, "/api/qa/rooms/1/current", "", auth).result() == http::status::ok);
}

TEST_CASE("qa api: the WebSocket upgrade is checked before it happens", "[edge][qa]") {
  ApiFixture f;
  auto upgrade = [&](const std::string& target) {
    FullRequest req{http::verb::get, target, 11};
    const net::RequestTarget parsed = net::parse_request_target(target);
    return f.api->check_upgrade(net::Exchange{req, parsed, "127.0.0.1", 0});
  };
  auto status = [](const std::variant<QaSubscription, Response>& v) {
    return std::holds_alternative<Response>(v) ? std::get<Response>(v).result_int() : 101u;
  };
  // The token comes in the first message, never in the URL: the upgrade checks only the room.
  CHECK(status(upgrade("/api/qa/ws")) == 101);
  CHECK(status(upgrade("/api/qa/ws?room=9")) == 404);
  CHECK(status(upgrade("/api/qa/ws?since=x")) == 400);
  CHECK(status(upgrade("/api/qa/other")) == 404);
  auto ok = upgrade("/api/qa/ws?room=1&since=5&epoch=abc&token=" + kModerator);
  REQUIRE(std::holds_alternative<QaSubscription>(ok));
  const auto& sub = std::get<QaSubscription>(ok);
  CHECK(sub.token.empty());
  CHECK(sub.room == 1);
  CHECK(sub.since == 5u);
  CHECK(sub.epoch == "abc");
}

TEST_CASE("qa api: writes are answered from the Q&A's thread once committed, reads at once", "[edge][qa]") {
  ApiFixture f;
  WorkQueue writes("qa-test", 16);
  QaApi api(*f.service, &writes);
  const std::thread::id caller = std::this_thread::get_id();

  FullRequest read{http::verb::get, "/api/qa/rooms", 11};
  CHECK(std::holds_alternative<Response>(test::handle(api, read)));

  FullRequest create{http::verb::post, "/api/qa/attendees", 11};
  create.set(http::field::content_type, "application/json");
  create.body() = R"({"name":"Ann"})";
  create.prepare_payload();
  net::Outcome outcome = test::handle(api, create);
  REQUIRE(std::holds_alternative<net::Deferred>(outcome));
  // The request is copied: the caller's may be gone before the task runs.
  create.body() = "garbage";
  std::mutex mutex;
  std::condition_variable done;
  std::optional<Response> answer;
  std::thread::id answered_on;
  std::get<net::Deferred>(outcome).start([&](Response res) {
    std::lock_guard lock(mutex);
    answer = std::move(res);
    answered_on = std::this_thread::get_id();
    done.notify_one();
  });
  std::unique_lock lock(mutex);
  REQUIRE(done.wait_for(lock, std::chrono::seconds(5), [&] { return answer.has_value(); }));
  CHECK(answered_on != caller);
  CHECK(answer->result() == http::status::created);
  const std::string token = ApiFixture::json(*answer)["token"];
  // Committed before the answer: the token already authenticates.
  CHECK(f.service->authenticate(token).role == qa::Role::attendee);
}

TEST_CASE("qa api: a full write queue answers 503 rather than waiting", "[edge][qa]") {
  ApiFixture f;
  WorkQueue writes("qa-test", 1);
  std::mutex gate;
  std::unique_lock hold(gate);
  // Occupies the thread, then fills the one place in the queue.
  REQUIRE(writes.post([&] { std::lock_guard wait(gate); }));
  while (writes.waiting() != 0) std::this_thread::yield();
  REQUIRE(writes.post([] {}));
  QaApi api(*f.service, &writes);
  FullRequest create{http::verb::post, "/api/qa/attendees", 11};
  create.body() = "{}";
  create.prepare_payload();
  net::Outcome outcome = test::handle(api, create);
  REQUIRE(std::holds_alternative<net::Deferred>(outcome));
  std::optional<Response> answer;
  std::get<net::Deferred>(outcome).start([&](Response res) { answer = std::move(res); });
  REQUIRE(answer);
  CHECK(answer->result() == http::status::service_unavailable);
  CHECK((*answer)[http::field::retry_after] == "1");
  hold.unlock();
}

TEST_CASE("qa api: every route's methods, its Allow list, and which methods wait for the write thread",
          "[edge][qa]") {
  ApiFixture f;
  WorkQueue writes("qa-test", 16);
  QaApi api(*f.service, &writes);
  auto outcome = [&](http::verb method, const std::string& target) {
    FullRequest req{method, target, 11};
    req.set(http::field::content_type, "application/json");
    req.body() = "{}";
    req.prepare_payload();
    return test::handle(api, req);
  };
  auto deferred = [&](http::verb method, const std::string& target) {
    return std::holds_alternative<net::Deferred>(outcome(method, target));
  };
  auto allow = [&](http::verb method, const std::string& target) -> std::string {
    net::Outcome answer = outcome(method, target);
    REQUIRE(std::holds_alternative<Response>(answer));
    const Response& res = std::get<Response>(answer);
    CHECK(res.result() == http::status::method_not_allowed);
    CHECK(ApiFixture::json(res)["message"] == "this resource accepts " + std::string(res[http::field::allow]));
    return std::string(res[http::field::allow]);
  };
  using http::verb;

  CHECK(allow(verb::get, "/api/qa/attendees") == "POST");
  CHECK(allow(verb::post, "/api/qa/me") == "GET");
  CHECK(allow(verb::head, "/api/qa/me") == "GET");
  CHECK(allow(verb::get, "/api/qa/attendees/1/timeout") == "POST");
  CHECK(allow(verb::delete_, "/api/qa/attendees/1/timeout") == "POST");
  CHECK(allow(verb::get, "/api/qa/attendees/1/ban") == "POST, DELETE");
  CHECK(allow(verb::put, "/api/qa/rooms") == "GET, POST");
  CHECK(allow(verb::get, "/api/qa/rooms/1") == "PATCH, POST");
  CHECK(allow(verb::get, "/api/qa/rooms/1/current") == "POST");
  CHECK(allow(verb::delete_, "/api/qa/rooms/current/questions") == "GET, POST");
  CHECK(allow(verb::post, "/api/qa/rooms/1/export.csv") == "GET");
  CHECK(allow(verb::get, "/api/qa/questions/1/vote") == "POST, DELETE");
  CHECK(allow(verb::get, "/api/qa/questions/1") == "DELETE");
  CHECK(allow(verb::get, "/api/qa/questions/1/approve") == "POST");
  CHECK(allow(verb::patch, "/api/qa/questions/1/reopen") == "POST");

  // No route, whatever the method: an unknown action, a segment too many or too few.
  for (const char* target : {"/api/qa/questions/1/explode", "/api/qa/rooms/1/questions/2", "/api/qa/questions",
                             "/api/qa/attendees/1", "/api/qa/"}) {
    for (verb method : {verb::get, verb::post}) {
      net::Outcome answer = outcome(method, target);
      REQUIRE(std::holds_alternative<Response>(answer));
      CHECK(std::get<Response>(answer).result() == http::status::not_found);
    }
  }
  // The WebSocket endpoint answers a plain request of any method alike.
  for (verb method : {verb::get, verb::post, verb::delete_}) {
    net::Outcome answer = outcome(method, "/api/qa/ws");
    REQUIRE(std::holds_alternative<Response>(answer));
    CHECK(std::get<Response>(answer).result() == http::status::upgrade_required);
  }

  CHECK_FALSE(deferred(verb::get, "/api/qa/me"));
  CHECK_FALSE(deferred(verb::get, "/api/qa/rooms"));
  CHECK_FALSE(deferred(verb::get, "/api/qa/rooms/1/questions"));
  CHECK_FALSE(deferred(verb::get, "/api/qa/rooms/1/export.csv"));
  CHECK(deferred(verb::post, "/api/qa/attendees"));
  CHECK(deferred(verb::post, "/api/qa/attendees/1/timeout"));
  CHECK(deferred(verb::post, "/api/qa/attendees/1/ban"));
  CHECK(deferred(verb::delete_, "/api/qa/attendees/1/ban"));
  CHECK(deferred(verb::post, "/api/qa/rooms"));
  CHECK(deferred(verb::patch, "/api/qa/rooms/1"));
  CHECK(deferred(verb::post, "/api/qa/rooms/1"));
  CHECK(deferred(verb::post, "/api/qa/rooms/1/current"));
  CHECK(deferred(verb::post, "/api/qa/rooms/1/questions"));
  CHECK(deferred(verb::post, "/api/qa/questions/1/vote"));
  CHECK(deferred(verb::delete_, "/api/qa/questions/1/vote"));
  CHECK(deferred(verb::post, "/api/qa/questions/1/hide"));
}

TEST_CASE("qa api: new identities count per client network, an IPv6 /64 as one", "[edge][qa][identity]") {
  ApiFixture f([](config::QaConfig& cfg) {
    cfg.attendee_burst = 3;
    cfg.attendees_per_minute = 1;
  });
  auto mint = [&](const std::string& client) {
    return f.call(http::verb::post, "/api/qa/attendees", "{}", "", client);
  };
  // Rotating addresses inside one /64 does not make a new client.
  for (const char* client : {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"})
    CHECK(mint(client).result() == http::status::created);
  Response refused = mint("2001:db8:1:2:abcd::4");
  CHECK(refused.result() == http::status::too_many_requests);
  CHECK(ApiFixture::json(refused)["error"] == "rate_limited");
  CHECK(std::stoi(std::string(refused[http::field::retry_after])) > 0);
  // The next /64, and IPv4 addresses, are other clients.
  CHECK(mint("2001:db8:1:3::1").result() == http::status::created);
  CHECK(mint("192.0.2.1").result() == http::status::created);
  CHECK(mint("192.0.2.2").result() == http::status::created);
}

TEST_CASE("qa api: a network ban refuses identities, questions and votes from that network", "[edge][qa][ban]") {
  ApiFixture f;
  const std::string auth_mod = "Bearer " + kModerator;
  Json ann = ApiFixture::json(f.call(http::verb::post, "/api/qa/attendees", "{}", "", "2001:db8:7:7::10"));
  const std::string ann_auth = "Bearer " + ann["token"].get<std::string>();
  // Bob shares Ann's /64 but has his own identity from before.
  Json bob = ApiFixture::json(f.call(http::verb::post, "/api/qa/attendees", "{}", "", "2001:db8:7:7::20"));
  const std::string bob_auth = "Bearer " + bob["token"].get<std::string>();

  const std::string ban_path = "/api/qa/attendees/" + std::to_string(ann["id"].get<int64_t>()) + "/ban";
  CHECK(f.call(http::verb::post, ban_path, R"({"network": "yes"})", auth_mod).result() ==
        http::status::unprocessable_entity);
  Response res = f.call(http::verb::post, ban_path, R"({"network": true})", auth_mod);
  REQUIRE(res.result() == http::status::ok);
  CHECK(ApiFixture::json(res)["network"] == true);

  res = f.call(http::verb::post, "/api/qa/attendees", "{}", "", "2001:db8:7:7:1234::99");
  CHECK(res.result() == http::status::forbidden);
  CHECK(ApiFixture::json(res)["error"] == "banned");
  res = f.call(http::verb::post, "/api/qa/rooms/current/questions", R"({"text": "hi"})", bob_auth, "2001:db8:7:7::21");
  CHECK(res.result() == http::status::forbidden);
  CHECK(ApiFixture::json(res)["error"] == "banned");
  // Bob from another network is fine; so is a new identity there.
  CHECK(f.call(http::verb::post, "/api/qa/rooms/current/questions", R"({"text": "hi"})", bob_auth, "192.0.2.5")
            .result() == http::status::created);
  CHECK(f.call(http::verb::post, "/api/qa/attendees", "{}", "", "2001:db8:7:8::1").result() == http::status::created);
  // Unbanning Ann lifts the network ban.
  REQUIRE(f.call(http::verb::delete_, ban_path, "", auth_mod).result() == http::status::ok);
  CHECK(f.call(http::verb::post, "/api/qa/attendees", "{}", "", "2001:db8:7:7::30").result() == http::status::created);
}

TEST_CASE("qa api: an author deletes their own question; reading needs no token", "[edge][qa][delete]") {
  ApiFixture f;
  const std::string ann = "Bearer " + f.attendee_token();
  const std::string bob = "Bearer " + f.attendee_token();
  Json asked = ApiFixture::json(f.call(http::verb::post, "/api/qa/rooms/current/questions", R"({"text": "mine"})", ann));
  const std::string path = "/api/qa/questions/" + std::to_string(asked["id"].get<int64_t>());

  // Without a token: the public view (the pending question is not in it).
  Response res = f.call(http::verb::get, "/api/qa/rooms/current/questions");
  REQUIRE(res.result() == http::status::ok);
  CHECK(ApiFixture::json(res)["items"].empty());

  CHECK(f.call(http::verb::delete_, path).result() == http::status::unauthorized);
  CHECK(f.call(http::verb::delete_, path, "", bob).result() == http::status::not_found);  // Bob cannot see it
  CHECK(f.call(http::verb::delete_, path, "", "Bearer " + kModerator).result() == http::status::forbidden);
  res = f.call(http::verb::delete_, path, "", ann);
  REQUIRE(res.result() == http::status::ok);
  CHECK(ApiFixture::json(res)["deleted"] == true);
  CHECK(f.call(http::verb::delete_, path, "", ann).result() == http::status::not_found);
  CHECK(ApiFixture::json(f.call(http::verb::get, "/api/qa/rooms/current/questions", "", "Bearer " + kModerator))["items"]
            .empty());
}
