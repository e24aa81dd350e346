#include <filesystem>
#include <random>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/programme_api.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "exchange.hpp"

using namespace relay;
using namespace relay::api;
namespace http = boost::beast::http;
using Json = nlohmann::json;

namespace {

const std::string kModerator = "moderator-token-0123456789";
const std::string kAdmin = "admin-token-0123456789abcdef";

struct ProgrammeFixture {
  ProgrammeFixture() {
    std::random_device random;
    dir = std::filesystem::temp_directory_path() / ("relay-programme-api-test-" + std::to_string(random()));
    config::QaConfig qa;
    qa.data_dir = dir;
    qa.moderator_tokens = {kModerator};
    qa.admin_tokens = {kAdmin};
    relay::log::set_level("warn");
    service = std::make_unique<qa::Service>(qa, [] { return int64_t{1'700'000'000'000}; });
    const config::Config cfg = config::parse_config(R"toml(
[[programme.talks]]
id = "a"
title = "First, talk"
start = "2027-03-10T09:00:00+01:00"
end = "2027-03-10T10:00:00+01:00"

[[programme.talks]]
id = "b"
title = "Second"
start = "2027-03-10T10:00:00+01:00"
end = "2027-03-10T11:00:00+01:00"
)toml",
                                                    "relay.toml");
    api = std::make_unique<ProgrammeApi>(programme::Programme(cfg.programme), *service, nullptr,
                                         [] { return int64_t{1'800'000'000'000}; }, "test.example");
  }
  ~ProgrammeFixture() {
    api.reset();
    service.reset();
    std::filesystem::remove_all(dir);
  }

  net::Response call(http::verb method, const std::string& target, const std::string& token = "",
                     const std::string& json = "") {
    net::Request req{method, target, 11};
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!json.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = json;
    }
    req.prepare_payload();
    return test::respond(*api, req);
  }
  static std::string body(const net::Response& res) {
    const auto& bytes = *res.body().data();
    return std::string(bytes.begin(), bytes.end());
  }

  std::filesystem::path dir;
  std::unique_ptr<qa::Service> service;
  std::unique_ptr<ProgrammeApi> api;
};

}  // namespace

TEST_CASE("the programme and its calendar are public") {
  ProgrammeFixture f;
  const net::Response listing = f.call(http::verb::get, "/api/programme");
  CHECK(listing.result() == http::status::ok);
  const Json programme = Json::parse(ProgrammeFixture::body(listing));
  CHECK(programme["talks"].size() == 2);
  CHECK(programme["next"] == "a");
  CHECK(programme["on_stage"].is_null());

  const net::Response ics = f.call(http::verb::get, "/programme.ics");
  CHECK(ics.result() == http::status::ok);
  CHECK(ics[http::field::content_type] == "text/calendar; charset=utf-8");
  const std::string text = ProgrammeFixture::body(ics);
  CHECK(text.find("UID:a@test.example\r\n") != std::string::npos);
  CHECK(text.find("SUMMARY:First\\, talk\r\n") != std::string::npos);
  CHECK(f.call(http::verb::post, "/programme.ics").result() == http::status::method_not_allowed);
}

TEST_CASE("marks need a moderator; starting a talk makes its own room current") {
  ProgrammeFixture f;
  CHECK(f.call(http::verb::post, "/api/programme/a/start").result() == http::status::unauthorized);
  CHECK(f.call(http::verb::post, "/api/programme/a/start", "wrong").result() == http::status::unauthorized);
  CHECK(f.call(http::verb::post, "/api/programme/x/start", kModerator).result() == http::status::not_found);
  CHECK(f.call(http::verb::post, "/api/programme/a/jump", kModerator).result() == http::status::not_found);
  CHECK(f.call(http::verb::post, "/api/programme/a/end", kModerator).result() == http::status::conflict);
  CHECK(f.service->current_room() == 1);

  const Json first = Json::parse(ProgrammeFixture::body(f.call(http::verb::post, "/api/programme/a/start", kModerator)));
  CHECK(first["on_stage"] == "a");
  const int64_t room_a = first["talks"][0]["room"];
  CHECK(room_a != 1);
  CHECK(f.service->current_room() == room_a);

  const Json second = Json::parse(ProgrammeFixture::body(f.call(http::verb::post, "/api/programme/next", kModerator)));
  CHECK(second["on_stage"] == "b");
  CHECK(second["talks"][0]["actual_end"] == "2027-01-15T08:00:00Z");
  const int64_t room_b = second["talks"][1]["room"];
  CHECK(room_b != room_a);
  CHECK(f.service->current_room() == room_b);
  CHECK(f.service->rooms()["rooms"].size() == 3);

  const net::Response again = f.call(http::verb::post, "/api/programme/a/start", kModerator);
  CHECK(again.result() == http::status::conflict);
  CHECK(Json::parse(ProgrammeFixture::body(again))["error"] == "already_ended");
  CHECK(f.service->current_room() == room_b);
}

TEST_CASE("an admin changes a talk during the event; bad changes are refused clearly") {
  ProgrammeFixture f;
  const std::string change = R"({"title":"Erster Vortrag","start":"2027-03-10T08:30:00+01:00","speakers":["Jörg"]})";
  CHECK(f.call(http::verb::put, "/api/programme/a", "", change).result() == http::status::unauthorized);
  CHECK(f.call(http::verb::put, "/api/programme/a", kModerator, change).result() == http::status::forbidden);
  CHECK(f.call(http::verb::put, "/api/programme/x", kAdmin, change).result() == http::status::not_found);
  const net::Response ok = f.call(http::verb::put, "/api/programme/a", kAdmin, change);
  REQUIRE(ok.result() == http::status::ok);
  const Json talk = Json::parse(ProgrammeFixture::body(ok))["talks"][0];
  CHECK(talk["title"] == "Erster Vortrag");
  CHECK(talk["planned_start"] == "2027-03-10T08:30:00+01:00");
  CHECK(talk["speakers"] == Json::array({"Jörg"}));

  auto error_of = [&](const std::string& json) {
    const net::Response res = f.call(http::verb::put, "/api/programme/a", kAdmin, json);
    CHECK(res.result() != http::status::ok);
    return Json::parse(ProgrammeFixture::body(res))["error"].get<std::string>();
  };
  CHECK(error_of(R"({"end":"2027-03-10T10:30:00+01:00"})") == "invalid_talk");  // overlaps b
  CHECK(error_of(R"({"start":"tomorrow"})") == "bad_time");
  CHECK(error_of(R"({"title":3})") == "bad_field");
  CHECK(error_of(R"({"speakers":"Ada"})") == "bad_field");
  CHECK(error_of(R"({"room":1})") == "unknown_field");
  CHECK(error_of(R"([1])") == "bad_json");
  CHECK(error_of(R"({"title":""})") == "invalid_talk");
  CHECK(f.call(http::verb::put, "/api/programme/a/start", kAdmin, change).result() == http::status::not_found);
}
