#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "common/clock.hpp"
#include "test_edge.hpp"
#include "../delivery/ll_snapshot.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

struct ServerFixture {
  relay::config::Config cfg;
  relay::hls::Store store{{"720p"}};
  relay::health::IngestStatus ingest{"test:"};
  std::unique_ptr<relay::test::TestEdge> server;

  ServerFixture() {
    cfg.edge.listen = "127.0.0.1:0";
    cfg.edge.threads = 2;
    cfg.edge.web_dir = std::string(RELAY_SOURCE_DIR) + "/web";
    cfg.edge.node_modules_dir = std::string(RELAY_SOURCE_DIR) + "/node_modules";

    auto snap = std::make_shared<relay::hls::RenditionSnapshot>();
    snap->name = "720p";
    snap->version = 1;
    snap->instance = "t0";
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
    server = std::make_unique<relay::test::TestEdge>(cfg, store, ingest);
    server->start();
    REQUIRE(server->port() != 0);
  }
};

struct Client {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;

  explicit Client(uint16_t port) {
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
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
    asio::write(stream, asio::buffer(bytes));
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
    stream.socket().read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
};

}  // namespace

TEST_CASE_METHOD(ServerFixture, "server answers two requests on one keep-alive connection", "[server]") {
  start();
  Client client(server->port());

  auto segment = client.request(http::verb::get, "/live/720p/seg-t0-1.m4s");
  CHECK(segment.result() == http::status::ok);
  CHECK(segment[http::field::content_type] == "video/mp4");
  CHECK(segment[http::field::server] == "seminar-relay");
  CHECK(segment.body() == std::string(200'000, 'v'));
  CHECK(segment.keep_alive());

  auto playlist = client.request(http::verb::get, "/live/720p/index.m3u8");
  CHECK(playlist.result() == http::status::ok);
  CHECK(playlist.body() == "#EXTM3U\n");

  auto head = client.request(http::verb::head, "/live/720p/seg-t0-1.m4s");
  CHECK(head.result() == http::status::ok);
  CHECK(head[http::field::content_length] == "200000");

  auto ranged = client.request(http::verb::get, "/live/720p/seg-t0-1.m4s", {{http::field::range, "bytes=-10"}});
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
  // Refused before any handler ran, and still not for a cache to keep.
  CHECK(res[http::field::cache_control] == "no-store");
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
  // Refused before any handler ran, and still not for a cache to keep.
  CHECK(res[http::field::cache_control] == "no-store");
  CHECK(client.closed_by_server());
}

TEST_CASE_METHOD(ServerFixture, "malformed HTTP gets 400", "[server]") {
  start();
  Client client(server->port());
  client.send_raw("GET / HTTP/1.1\r\nBad Header Line\r\n\r\n");
  auto res = client.read_response();
  CHECK(res.result() == http::status::bad_request);
  // Refused before any handler ran, and still not for a cache to keep.
  CHECK(res[http::field::cache_control] == "no-store");
  CHECK(client.closed_by_server());
}

TEST_CASE_METHOD(ServerFixture, "start() fails with a clear message when the port is taken", "[server]") {
  asio::io_context ioc;
  tcp::acceptor taken(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = taken.local_endpoint().port();
  cfg.edge.listen = "127.0.0.1:" + std::to_string(port);
  relay::test::TestEdge s(cfg, store, ingest);
  REQUIRE_THROWS_WITH(s.start(), Catch::Contains("Address already in use") &&
                                     Catch::Contains("cannot listen on 127.0.0.1:" + std::to_string(port)));
  s.stop();
}

TEST_CASE_METHOD(ServerFixture, "start() rejects listen addresses it cannot parse", "[server]") {
  for (const char* listen : {"nohost:8080", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:http", "[::1:80"}) {
    INFO(listen);
    cfg.edge.listen = listen;
    relay::test::TestEdge s(cfg, store, ingest);
    REQUIRE_THROWS_WITH(s.start(), Catch::StartsWith(std::string("cannot listen on ") + listen));
  }
}

TEST_CASE_METHOD(ServerFixture, "IPv6 listen addresses work", "[server]") {
  cfg.edge.listen = "[::1]:0";
  server = std::make_unique<relay::test::TestEdge>(cfg, store, ingest);
  try {
    server->start();
  } catch (const std::exception& e) {
    WARN("no IPv6 loopback here: " << e.what());
    return;
  }
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(asio::ip::make_address("::1"), server->port()));
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

  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  CHECK(ec == asio::error::connection_refused);
}

namespace {

using relay::test::make_ll_snapshot;

// Two LL renditions as in the router tests: 720p's next part is part-t0-4.2.
struct LowLatencyServerFixture {
  relay::config::Config cfg;
  relay::hls::Store store{{"720p", "360p"}};
  relay::health::IngestStatus ingest{"test:"};
  relay::delivery::RouterOptions options;
  std::unique_ptr<relay::test::TestEdge> server;

  LowLatencyServerFixture() {
    cfg.edge.listen = "127.0.0.1:0";
    cfg.edge.threads = 2;
    cfg.edge.web_dir = std::string(RELAY_SOURCE_DIR) + "/web";
    cfg.edge.node_modules_dir = std::string(RELAY_SOURCE_DIR) + "/node_modules";
    store.publish(0, make_ll_snapshot("720p", 10, 3, 2));
    store.publish(1, make_ll_snapshot("360p", 10, 3, 1));
  }

  void start() {
    server = std::make_unique<relay::test::TestEdge>(cfg, store, ingest, options);
    server->start();
    REQUIRE(server->port() != 0);
  }

  // Polls the server's counters; the sessions update them on their own threads.
  bool eventually(const std::function<bool(const relay::net::Stats&)>& predicate) {
    for (int i = 0; i < 500; ++i) {
      if (predicate(server->stats())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  bool held(uint64_t n) {
    return eventually([n](const relay::net::Stats& s) { return s.requests_held == n; });
  }
};

std::string get_request(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

size_t thread_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

}  // namespace

TEST_CASE_METHOD(LowLatencyServerFixture, "a blocking reload is answered after the publish that brings the part",
                 "[server][ll]") {
  start();
  Client client(server->port());
  client.send_raw(get_request("/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=2"));
  REQUIRE(held(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(client.stream.socket().available() == 0);

  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
  auto res = client.read_response();
  CHECK(res.result() == http::status::ok);
  CHECK(res.body().find("URI=\"part-t0-4.2.m4s\"") != std::string::npos);
  CHECK(res.body().find("#EXT-X-RENDITION-REPORT:URI=\"../360p/index.m3u8\"") != std::string::npos);
  CHECK(res[http::field::cache_control] == "public, max-age=12");
  CHECK(held(0));

  // The connection goes on as usual afterwards.
  auto next = client.request(http::verb::get, "/live/720p/part-t0-4.2.m4s");
  CHECK(next.result() == http::status::ok);
  CHECK(next.body() == relay::test::part_bytes("720p", 4, 2));
}

TEST_CASE_METHOD(LowLatencyServerFixture, "publishes without the awaited part leave the request held",
                 "[server][ll]") {
  options.hold_timeout_targets = 0.25;  // 500 ms
  start();
  Client client(server->port());
  client.send_raw(get_request("/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=2"));
  REQUIRE(held(1));
  store.publish(1, make_ll_snapshot("360p", 11, 3, 2));
  store.publish(0, make_ll_snapshot("720p", 11, 3, 2));  // 720p again, without the part
  auto res = client.read_response();
  CHECK(res.result() == http::status::service_unavailable);
}

TEST_CASE_METHOD(LowLatencyServerFixture, "a held request gets 503 when its time runs out", "[server][ll]") {
  options.hold_timeout_targets = 0.05;  // 100 ms with a 2 s target duration
  start();
  Client client(server->port());
  auto t0 = std::chrono::steady_clock::now();
  auto res = client.request(http::verb::get, "/live/720p/index.m3u8?_HLS_msn=5");
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(100));
  CHECK(res.result() == http::status::service_unavailable);
  CHECK(res[http::field::cache_control] == "public, max-age=8");
  CHECK(res.keep_alive());
  CHECK(eventually([](const relay::net::Stats& s) { return s.holds_timed_out == 1 && s.requests_held == 0; }));

  auto part = client.request(http::verb::get, "/live/720p/part-t0-4.2.m4s");
  CHECK(part.result() == http::status::service_unavailable);
  CHECK(part[http::field::cache_control] == "no-store");
  CHECK(client.request(http::verb::get, "/live/720p/part-t0-4.1.m4s").result() == http::status::ok);
}

TEST_CASE_METHOD(LowLatencyServerFixture, "the hinted part is held and sent when it is published", "[server][ll]") {
  start();
  Client client(server->port());
  client.send_raw(get_request("/live/720p/part-t0-4.2.m4s"));
  REQUIRE(held(1));
  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
  auto res = client.read_response();
  CHECK(res.result() == http::status::ok);
  CHECK(res[http::field::content_type] == "video/mp4");
  CHECK(res.body() == relay::test::part_bytes("720p", 4, 2));
  CHECK(client.request(http::verb::get, "/live/720p/part-t0-4.9.m4s").result() == http::status::not_found);
}

TEST_CASE_METHOD(LowLatencyServerFixture, "a client that hangs up while held leaves no waiter behind",
                 "[server][ll]") {
  start();
  {
    Client client(server->port());
    client.send_raw(get_request("/live/720p/index.m3u8?_HLS_msn=5"));
    REQUIRE(held(1));
  }
  CHECK(held(0));
  CHECK(eventually([](const relay::net::Stats& s) { return s.connections_open == 0; }));
}

TEST_CASE_METHOD(LowLatencyServerFixture, "a request pipelined behind a held one is answered after it, in order",
                 "[server][ll]") {
  start();
  Client client(server->port());
  client.send_raw(get_request("/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=2") + get_request("/api/health"));
  REQUIRE(held(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(client.stream.socket().available() == 0);
  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
  auto first = client.read_response();
  CHECK(first.result() == http::status::ok);
  CHECK(first[http::field::content_type] == "application/vnd.apple.mpegurl");
  auto second = client.read_response();
  CHECK(second.result() == http::status::ok);
  CHECK(second[http::field::content_type] == "application/json");
}

TEST_CASE_METHOD(LowLatencyServerFixture, "hundreds of held requests need no extra thread and leave together",
                 "[server][ll]") {
  start();
  const size_t threads_before = thread_count();
  constexpr size_t kClients = 200;
  std::vector<std::unique_ptr<Client>> clients;
  for (size_t i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(server->port()));
    clients.back()->send_raw(get_request(i % 2 ? "/live/720p/index.m3u8?_HLS_msn=4&_HLS_part=2"
                                               : "/live/720p/part-t0-4.2.m4s"));
  }
  REQUIRE(held(kClients));
  CHECK(thread_count() == threads_before);

  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
  for (auto& client : clients) CHECK(client->read_response().result() == http::status::ok);
  CHECK(held(0));
}

TEST_CASE_METHOD(LowLatencyServerFixture, "stop() releases held requests promptly", "[server][ll]") {
  start();
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<Client>(server->port()));
    clients.back()->send_raw(get_request("/live/720p/index.m3u8?_HLS_msn=5"));
  }
  REQUIRE(held(20));
  auto t0 = std::chrono::steady_clock::now();
  server->stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  for (auto& client : clients) CHECK(client->closed_by_server());
  CHECK(server->stats().requests_held == 0);
  // Publishing after the stop reaches no session.
  store.publish(0, make_ll_snapshot("720p", 11, 3, 3));
}
