#include <catch2/catch.hpp>

#include <boost/beast/http/field.hpp>

#include "api/browser_policy.hpp"
#include "api/route_table.hpp"
#include "config/config.hpp"
#include "delivery/router.hpp"
#include "delivery/static_files.hpp"
#include "health/ingest_status.hpp"
#include "hls/store.hpp"
#include "exchange.hpp"

namespace http = boost::beast::http;
using namespace relay;
using api::BrowserPolicy;

namespace {

net::Response applied(const BrowserPolicy& policy, bool page, bool secure) {
  net::Response res{http::status::ok, 11};
  policy.apply(res, page, secure);
  return res;
}

}  // namespace

TEST_CASE("browser policy: the header fields of pages, media and TLS", "[browser_policy]") {
  config::EdgeConfig edge;
  BrowserPolicy policy(edge);
  CHECK(policy.content_security_policy() ==
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'self'");
  CHECK(policy.content_security_policy().find("unsafe") == std::string::npos);

  auto page = applied(policy, true, false);
  CHECK(page["Content-Security-Policy"] == policy.content_security_policy());
  CHECK(page["Referrer-Policy"] == "no-referrer");
  CHECK(page[http::field::strict_transport_security].empty());

  auto media = applied(policy, false, true);
  CHECK(media["Content-Security-Policy"].empty());
  CHECK(media["Referrer-Policy"] == "no-referrer");
  CHECK(media[http::field::strict_transport_security] == "max-age=31536000");

  edge.hsts_max_age_s = 0;
  edge.frame_ancestors = {"'self'", "https://events.example.org"};
  BrowserPolicy embedding(edge);
  CHECK(embedding.content_security_policy().ends_with("; frame-ancestors 'self' https://events.example.org"));
  CHECK(applied(embedding, true, true)[http::field::strict_transport_security].empty());

  edge.frame_ancestors.clear();
  CHECK(BrowserPolicy(edge).content_security_policy().ends_with("; frame-ancestors 'none'"));
}

TEST_CASE("browser policy: the pages may fetch the stream from every cache path", "[browser_policy]") {
  const config::EdgeConfig edge;
  BrowserPolicy policy(edge, {"https://a.example.org", "http://127.0.0.1:8081"});
  CHECK(policy.content_security_policy().find("; connect-src 'self' https://a.example.org http://127.0.0.1:8081; ") !=
        std::string::npos);
}

TEST_CASE("browser policy: WebSocket origins", "[browser_policy]") {
  config::EdgeConfig edge;
  BrowserPolicy own(edge);
  CHECK(own.websocket_origin_allowed("", "relay.example.org", false));  // a program, not a page
  CHECK(own.websocket_origin_allowed("http://relay.example.org:8080", "relay.example.org:8080", false));
  CHECK(own.websocket_origin_allowed("https://Relay.Example.org", "relay.example.org", true));
  CHECK_FALSE(own.websocket_origin_allowed("http://relay.example.org", "relay.example.org", true));
  CHECK_FALSE(own.websocket_origin_allowed("https://relay.example.org:8443", "relay.example.org", true));
  CHECK_FALSE(own.websocket_origin_allowed("https://evil.example", "relay.example.org", true));
  CHECK_FALSE(own.websocket_origin_allowed("https://relay.example.org.evil.example", "relay.example.org", true));
  CHECK_FALSE(own.websocket_origin_allowed("null", "relay.example.org", false));
  CHECK_FALSE(own.websocket_origin_allowed("http://relay.example.org", "", false));

  edge.websocket_origins = {"https://events.example.org"};
  BrowserPolicy listed(edge);
  CHECK(listed.websocket_origin_allowed("https://events.example.org", "relay.example.org", true));
  CHECK_FALSE(listed.websocket_origin_allowed("http://events.example.org", "relay.example.org", true));
}

TEST_CASE("browser policy: plain HTTP moves to HTTPS", "[browser_policy]") {
  config::EdgeConfig edge;
  CHECK_FALSE(BrowserPolicy(edge).redirect_to_https("relay.example.org", "/", false));

  edge.tls_listen = "0.0.0.0:8443";
  BrowserPolicy policy(edge);
  auto res = policy.redirect_to_https("relay.example.org:8080", "/moderator?x=1", false);
  REQUIRE(res);
  CHECK(res->result() == http::status::permanent_redirect);
  CHECK((*res)[http::field::location] == "https://relay.example.org:8443/moderator?x=1");
  CHECK_FALSE(policy.redirect_to_https("relay.example.org", "/", true));

  policy.set_tls_port(443);
  CHECK((*policy.redirect_to_https("relay.example.org", "/live/master.m3u8", false))[http::field::location] ==
        "https://relay.example.org/live/master.m3u8");
  CHECK((*policy.redirect_to_https("[2001:db8::1]:8080", "/", false))[http::field::location] ==
        "https://[2001:db8::1]/");
  // A Host that is no host name goes nowhere.
  CHECK(policy.redirect_to_https("", "/", false)->result() == http::status::bad_request);
  CHECK(policy.redirect_to_https("evil.example/x", "/", false)->result() == http::status::bad_request);

  edge.plain_http = "serve";
  CHECK_FALSE(BrowserPolicy(edge).redirect_to_https("relay.example.org", "/", false));
}

TEST_CASE("route table: every response carries the policy, a foreign WebSocket is refused", "[browser_policy]") {
  config::Config cfg;
  cfg.edge.web_dir = std::string(RELAY_SOURCE_DIR) + "/web";
  hls::Store store({"720p"});
  health::IngestStatus ingest("test:");
  auto files = delivery::StaticFiles::load(cfg.edge.web_dir, "/nonexistent");
  delivery::Router router(cfg, store, ingest, files, {});
  api::RouteTable routes(cfg.edge, router, nullptr, nullptr);

  auto answer = [&](net::Request req, bool secure) {
    const net::RequestTarget target = net::parse_request_target(req.target());
    auto outcome = routes.handle(net::Exchange{req, target, "127.0.0.1", routes.route(req.target()), secure});
    REQUIRE(std::holds_alternative<net::Response>(outcome));
    return std::get<net::Response>(std::move(outcome));
  };
  for (const char* target : {"/", "/moderator", "/speaker", "/tech", "/static/style.css", "/nope"}) {
    INFO(target);
    auto res = answer(net::Request{http::verb::get, target, 11}, true);
    CHECK(res["Content-Security-Policy"] == routes.policy().content_security_policy());
    CHECK(res["X-Content-Type-Options"] == "nosniff");
    CHECK(res["Referrer-Policy"] == "no-referrer");
    CHECK(res[http::field::strict_transport_security] == "max-age=31536000");
  }
  auto playlist = answer(net::Request{http::verb::get, "/live/720p/index.m3u8", 11}, false);
  CHECK(playlist["Content-Security-Policy"].empty());
  CHECK(playlist["X-Content-Type-Options"] == "nosniff");
  CHECK(playlist[http::field::strict_transport_security].empty());

  net::Request upgrade{http::verb::get, "/api/qa/ws", 11};
  upgrade.set(http::field::host, "relay.example.org");
  upgrade.set(http::field::connection, "Upgrade");
  upgrade.set(http::field::upgrade, "websocket");
  upgrade.set(http::field::origin, "https://evil.example");
  auto refused = answer(upgrade, true);
  CHECK(refused.result() == http::status::forbidden);
  CHECK_FALSE(refused.keep_alive());
  // Its own origin gets past the check (here to the missing Q&A: 404).
  upgrade.set(http::field::origin, "https://relay.example.org");
  CHECK(answer(upgrade, true).result() == http::status::not_found);
}
