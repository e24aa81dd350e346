#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "net/http2_headers.hpp"

using namespace relay::net;
namespace http = boost::beast::http;

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Feeds a header block the way nghttp2 hands it over; false at the first refused field.
bool build(Http2RequestBuilder& builder, const Fields& fields) {
  for (const auto& [name, value] : fields)
    if (!builder.add(name, value)) return false;
  return true;
}

Fields names_and_values(const ResponseHeaderBlock& block) {
  Fields out;
  for (size_t i = 0; i < block.size(); ++i) out.emplace_back(block.name(i), block.value(i));
  return out;
}

}  // namespace

TEST_CASE("an HTTP/2 header block becomes the request the routes see", "[http2_headers]") {
  Http2RequestBuilder builder;
  REQUIRE(build(builder, {{":method", "GET"},
                          {":scheme", "https"},
                          {":authority", "relay.example:8443"},
                          {":path", "/live/360p/index.m3u8?_HLS_msn=12&_HLS_part=2"},
                          {"accept-encoding", "gzip, deflate, br"},
                          {"user-agent", "test"}}));
  REQUIRE(builder.complete());
  const Request& req = builder.request();
  CHECK(req.method() == http::verb::get);
  CHECK(req.target() == "/live/360p/index.m3u8?_HLS_msn=12&_HLS_part=2");
  CHECK(req[http::field::host] == "relay.example:8443");
  CHECK(req[http::field::accept_encoding] == "gzip, deflate, br");
  CHECK(req[http::field::user_agent] == "test");
  CHECK(req.version() == kHttp2Version);
  // HTTP/2 implies keep-alive; nothing in the request says otherwise.
  CHECK(req.keep_alive());
}

TEST_CASE("a POST keeps its method, content type and length", "[http2_headers]") {
  Http2RequestBuilder builder;
  REQUIRE(build(builder, {{":method", "POST"},
                          {":path", "/api/qa/attendees"},
                          {":scheme", "https"},
                          {":authority", "localhost"},
                          {"content-type", "application/json"},
                          {"content-length", "13"},
                          {"authorization", "Bearer abc"}}));
  CHECK(builder.complete());
  CHECK(builder.request().method() == http::verb::post);
  CHECK(builder.request()[http::field::content_type] == "application/json");
  CHECK(builder.request()[http::field::authorization] == "Bearer abc");
}

TEST_CASE("an unknown method reaches the router, which answers 405", "[http2_headers]") {
  Http2RequestBuilder builder;
  REQUIRE(build(builder, {{":method", "BREW"}, {":path", "/"}, {":scheme", "https"}, {":authority", "x"}}));
  CHECK(builder.complete());
  CHECK(builder.request().method() == http::verb::unknown);
  CHECK(builder.request().method_string() == "BREW");
}

TEST_CASE(":authority wins over a Host field", "[http2_headers]") {
  Http2RequestBuilder builder;
  REQUIRE(build(builder, {{":method", "GET"}, {":path", "/"}, {":authority", "a.example"}, {"host", "b.example"}}));
  CHECK(builder.request()[http::field::host] == "a.example");

  Http2RequestBuilder host_only;
  REQUIRE(build(host_only, {{":method", "GET"}, {":path", "/"}, {":scheme", "https"}, {"host", "b.example"}}));
  CHECK(host_only.request()[http::field::host] == "b.example");
}

TEST_CASE("split cookie fields are joined again", "[http2_headers]") {
  Http2RequestBuilder builder;
  REQUIRE(build(builder,
                {{":method", "GET"}, {":path", "/"}, {"cookie", "a=1"}, {"cookie", "b=2"}, {"cookie", "c=3"}}));
  CHECK(builder.request()[http::field::cookie] == "a=1; b=2; c=3");
  CHECK(builder.request().count(http::field::cookie) == 1);
}

TEST_CASE("malformed header blocks are refused", "[http2_headers]") {
  SECTION("unknown pseudo-header (an RFC 8441 WebSocket attempt)") {
    Http2RequestBuilder b;
    CHECK_FALSE(build(b, {{":method", "CONNECT"}, {":protocol", "websocket"}, {":path", "/api/qa/ws"}}));
  }
  SECTION("repeated pseudo-header") {
    Http2RequestBuilder b;
    CHECK_FALSE(build(b, {{":method", "GET"}, {":path", "/"}, {":path", "/other"}}));
  }
  SECTION("pseudo-header after a regular field") {
    Http2RequestBuilder b;
    CHECK_FALSE(build(b, {{":method", "GET"}, {"accept", "*/*"}, {":path", "/"}}));
  }
  SECTION("empty :path") {
    Http2RequestBuilder b;
    CHECK_FALSE(build(b, {{":method", "GET"}, {":path", ""}}));
  }
  for (const char* name : {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    DYNAMIC_SECTION("connection-specific field " << name) {
      Http2RequestBuilder b;
      CHECK_FALSE(build(b, {{":method", "GET"}, {":path", "/"}, {name, "x"}}));
    }
  }
  SECTION("te other than trailers") {
    Http2RequestBuilder ok;
    CHECK(build(ok, {{":method", "GET"}, {":path", "/"}, {"te", "trailers"}}));
    Http2RequestBuilder bad;
    CHECK_FALSE(build(bad, {{":method", "GET"}, {":path", "/"}, {"te", "gzip"}}));
  }
}

TEST_CASE("a request is complete only with a method and a usable path", "[http2_headers]") {
  Http2RequestBuilder no_path;
  REQUIRE(build(no_path, {{":method", "GET"}, {":authority", "x"}}));
  CHECK_FALSE(no_path.complete());

  Http2RequestBuilder no_method;
  REQUIRE(build(no_method, {{":path", "/"}}));
  CHECK_FALSE(no_method.complete());

  Http2RequestBuilder relative;
  REQUIRE(build(relative, {{":method", "GET"}, {":path", "live/master.m3u8"}}));
  CHECK_FALSE(relative.complete());

  Http2RequestBuilder asterisk;
  REQUIRE(build(asterisk, {{":method", "OPTIONS"}, {":path", "*"}}));
  CHECK(asterisk.complete());

  Http2RequestBuilder connect;
  REQUIRE(build(connect, {{":method", "CONNECT"}, {":authority", "example.com:443"}}));
  CHECK(connect.complete());
}

TEST_CASE("a response becomes a lower-case field list without hop-by-hop fields", "[http2_headers]") {
  Response res{http::status::ok, 11};
  res.set(http::field::server, "seminar-relay");
  res.set(http::field::content_type, "application/vnd.apple.mpegurl");
  res.set(http::field::cache_control, "public, max-age=12");
  res.set(http::field::connection, "keep-alive");
  res.set("Keep-Alive", "timeout=15");
  res.set(http::field::transfer_encoding, "chunked");
  res.set(http::field::upgrade, "websocket");
  res.set("Proxy-Connection", "close");
  res.set("X-Custom-Thing", "Value Keeps Case");
  res.content_length(42);

  ResponseHeaderBlock block(res);
  Fields fields = names_and_values(block);
  REQUIRE(!fields.empty());
  CHECK(fields.front() == std::pair<std::string, std::string>{":status", "200"});
  Fields expected = {{":status", "200"},
                     {"server", "seminar-relay"},
                     {"content-type", "application/vnd.apple.mpegurl"},
                     {"cache-control", "public, max-age=12"},
                     {"x-custom-thing", "Value Keeps Case"},
                     {"content-length", "42"}};
  CHECK(fields == expected);
  for (size_t i = 0; i < block.size(); ++i) CHECK(block.data()[i].flags == NGHTTP2_NV_FLAG_NONE);
}

TEST_CASE("error statuses and repeated fields map one to one", "[http2_headers]") {
  Response res{http::status::service_unavailable, 11};
  res.insert(http::field::vary, "Accept-Encoding");
  res.insert(http::field::vary, "Origin");
  res.set(http::field::retry_after, "2");
  ResponseHeaderBlock block(res);
  Fields expected = {{":status", "503"}, {"vary", "Accept-Encoding"}, {"vary", "Origin"}, {"retry-after", "2"}};
  CHECK(names_and_values(block) == expected);
}

TEST_CASE("connection-specific names are recognised in any case", "[http2_headers]") {
  CHECK(is_connection_specific("Connection"));
  CHECK(is_connection_specific("TRANSFER-ENCODING"));
  CHECK(is_connection_specific("upgrade"));
  CHECK_FALSE(is_connection_specific("content-length"));
  CHECK_FALSE(is_connection_specific("te"));
}
