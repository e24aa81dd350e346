#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "common/clock.hpp"
#include "edge/server.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

struct ServerFixture {
  relay::config::Config cfg;
  relay::hls::Store store{{"720p"}};
  relay::health::IngestStatus ingest{"test:"};
  std::unique_ptr<relay::edge::Server> server;

  ServerFixture() {
    cfg.edge.listen = "127.0.0.1:0";
    cfg.edge.threads = 2;
    cfg.edge.web_dir = std::string(RELAY_SOURCE_DIR) + "/web";
    cfg.edge.node_modules_dir = std::string(RELAY_SOURCE_DIR) + "/node_modules";

    auto snap = std::make_shared<relay::hls::RenditionSnapshot>();
    snap->name = "720p";
    snap->version = 1;
    snap->playlist = relay::hls::make_bytes("#EXTM3U\n");
    snap->init = relay::hls::make_bytes("init");
    auto seg = std::make_shared<relay::hls::Segment>();
    seg->msn = 1;
    seg->data = relay::hls::make_bytes(std::string(200'000, 'v'));
    snap->segments[1] = seg;
    snap->last_msn = 1;
    snap->last_segment_epoch_ms = relay::now_epoch_ms();
    store.publish(0, snap);
  }

  void start() {
    server = std::make_unique<relay::edge::Server>(cfg, store, ingest);
    server->start();
    REQUIRE(server->port() != 0);
  }
};

struct Client {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;

  explicit Client(uint16_t port) {
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }

  http::response<http::string_body> request(http::verb method, const std::string& target,
                                            std::initializer_list<std::pair<http::field, std::string>> headers = {}) {
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (auto& [field, value] : headers) req.set(field, value);
    stream.expires_after(std::chrono::seconds(5));
    http::write(stream, req);
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    if (method == http::verb::head) parser.skip(true);
    http::read(stream, buffer, parser);
    return parser.release();
  }

  void send_raw(const std::string& bytes) {
    stream.expires_after(std::chrono::seconds(5));
    net::write(stream, net::buffer(bytes));
  }

  http::response<http::string_body> read_response() {
    stream.expires_after(std::chrono::seconds(5));
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  }

  // True when the server closed the connection (EOF, or a reset after its answer).
  bool closed_by_server() {
    stream.expires_after(std::chrono::seconds(5));
    char byte;
    beast::error_code ec;
    stream.socket().read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }
};

}  // namespace

TEST_CASE_METHOD(ServerFixture, "server answers two requests on one keep-alive connection", "[server]") {
  start();
  Client client(server->port());

  auto segment = client.request(http::verb::get, "/live/720p/seg1.m4s");
  CHECK(segment.result() == http::status::ok);
  CHECK(segment[http::field::content_type] == "video/mp4");
  CHECK(segment[http::field::server] == "seminar-relay");
  CHECK(segment.body() == std::string(200'000, 'v'));
  CHECK(segment.keep_alive());

  auto playlist = client.request(http::verb::get, "/live/720p/index.m3u8");
  CHECK(playlist.result() == http::status::ok);
  CHECK(playlist.body() == "#EXTM3U\n");

  auto head = client.request(http::verb::head, "/live/720p/seg1.m4s");
  CHECK(head.result() == http::status::ok);
  CHECK(head[http::field::content_length] == "200000");

  auto ranged = client.request(http::verb::get, "/live/720p/seg1.m4s", {{http::field::range, "bytes=-10"}});
  CHECK(ranged.result() == http::status::partial_content);
  CHECK(ranged.body() == std::string(10, 'v'));

  // Counted when the write completes, which may be just after the client has the bytes.
  auto stats = server->stats();
  for (int i = 0; i < 100 && stats.requests < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stats = server->stats();
  }
  CHECK(stats.requests == 4);
  CHECK(stats.connections_accepted == 1);
  CHECK(stats.bytes_out > 200'000 + 10);
  REQUIRE(stats.by_status.size() == 2);
  CHECK(stats.by_status[0].status == 200);
  CHECK(stats.by_status[0].requests == 3);
  CHECK(stats.by_status[1].status == 206);
}

TEST_CASE_METHOD(ServerFixture, "server serves the attendee page", "[server]") {
  start();
  Client client(server->port());
  auto page = client.request(http::verb::get, "/");
  CHECK(page.result() == http::status::ok);
  CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(page.body().find("/static/player.js") != std::string::npos);
  CHECK(client.request(http::verb::get, "/static/player.js").result() == http::status::ok);
  CHECK(client.request(http::verb::get, "/static/style.css").result() == http::status::ok);
}

TEST_CASE_METHOD(ServerFixture, "Connection: close ends the connection after the response", "[server]") {
  start();
  Client client(server->port());
  auto res = client.request(http::verb::get, "/api/health", {{http::field::connection, "close"}});
  CHECK(res.result() == http::status::ok);
  CHECK_FALSE(res.keep_alive());
  CHECK(client.closed_by_server());
}

TEST_CASE_METHOD(ServerFixture, "a too large header gets 431 and the connection closes", "[server]") {
  cfg.edge.max_header_bytes = 4096;
  start();
  Client client(server->port());
  client.send_raw("GET / HTTP/1.1\r\nHost: x\r\nCookie: " + std::string(20'000, 'c') + "\r\n\r\n");
  auto res = client.read_response();
  CHECK(res.result() == http::status::request_header_fields_too_large);
  CHECK_FALSE(res.keep_alive());
  CHECK(client.closed_by_server());
}

TEST_CASE_METHOD(ServerFixture, "a too large body gets 413", "[server]") {
  cfg.edge.max_body_bytes = 1024;
  start();
  Client client(server->port());
  client.send_raw("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'b'));
  auto res = client.read_response();
  CHECK(res.result() == http::status::payload_too_large);
  CHECK(client.closed_by_server());
}

TEST_CASE_METHOD(ServerFixture, "malformed HTTP gets 400", "[server]") {
  start();
  Client client(server->port());
  client.send_raw("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n");
  auto res = client.read_response();
  CHECK(res.result() == http::status::bad_request);
  CHECK(client.closed_by_server());
}

TEST_CASE_METHOD(ServerFixture, "start() fails with a clear message when the port is taken", "[server]") {
  net::io_context ioc;
  tcp::acceptor taken(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  cfg.edge.listen = "127.0.0.1:" + std::to_string(port);
  relay::edge::Server s(cfg, store, ingest);
  REQUIRE_THROWS_WITH(s.start(), Catch::Contains("Address already in use") &&
                                     Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(port)));
  s.stop();
}

TEST_CASE_METHOD(ServerFixture, "start() rejects listen addresses it cannot parse", "[server]") {
  for (const char* listen : {"nohost:8080", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http", "[::1:80"}) {
    INFO(listen);
    cfg.edge.listen = listen;
    relay::edge::Server s(cfg, store, ingest);
    REQUIRE_THROWS_WITH(s.start(), Catch::StartsWith(std::string("cannot listen on ") + listen));
  }
}

TEST_CASE_METHOD(ServerFixture, "IPv6 listen addresses work", "[server]") {
  cfg.edge.listen = "[::1]:0";
  server = std::make_unique<relay::edge::Server>(cfg, store, ingest);
  try {
    server->start();
  } catch (const std::exception& e) {
    WARN("no IPv6 loopback here: " << e.what());
    return;
  }
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("::1"), server->port()));
  http::request<http::empty_body> req{http::verb::get, "/api/health", 11};
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  CHECK(res.result() == http::status::ok);
}

TEST_CASE_METHOD(ServerFixture, "stop() closes idle connections promptly and is idempotent", "[server]") {
  cfg.edge.read_timeout_s = 60;
  start();
  Client client(server->port());
  CHECK(client.request(http::verb::get, "/api/health").result() == http::status::ok);

  auto t0 = std::chrono::steady_clock::now();
  server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
  CHECK(client.closed_by_server());
  const auto port = server->port();
  server->stop();
  server.reset();

  net::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  CHECK(ec == net::error::connection_refused);
}
