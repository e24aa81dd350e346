#include "net/fast_path.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;
namespace fast_path = relay::net::fast_path;
using fast_path::wait_after_would_block;

namespace {

// A connected loopback pair on one io_context; `server` is non-blocking.
struct Pair {
  asio::io_context ioc{1};
  tcp::socket client{ioc};
  tcp::socket server{ioc};

  Pair() {
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
    server.non_blocking(true);
  }

  // Reads until the socket is empty, as a session does before it waits.
  size_t drain() {
    char buffer[4096];
    size_t total = 0;
    for (;;) {
      boost::system::error_code ec;
      size_t n = server.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block) return total;
      REQUIRE(!ec);
      total += n;
    }
  }

  // Runs handlers for up to `limit`, or until `done` is true.
  void run_until(const bool& done, std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      ioc.run_for(std::chrono::milliseconds(20));
    }
  }
};

// What a wait's handler was called with, if it was.
struct Outcome {
  bool done = false;
  boost::system::error_code result = asio::error::fault;
  auto handler() {
    return [this](boost::system::error_code ec) {
      done = true;
      result = ec;
    };
  }
};

// Each behavioural test runs twice: with the reactor wait (where it is compiled
// in) and with its fallback, socket.async_wait, as SEMINAR_RELAY_FAST_PATH=0 runs.
struct FastPathMode {
  explicit FastPathMode(bool on) { fast_path::set_enabled(on); }
  ~FastPathMode() { fast_path::set_enabled(true); }
};

}  // namespace

TEST_CASE("a read wait completes when data comes after the socket was read empty") {
  const FastPathMode mode(GENERATE(true, false));
  Pair p;
  asio::write(p.client, asio::buffer("first", 5));
  // The reactor registered the socket; the data is there before the wait starts.
  p.ioc.poll();
  REQUIRE(p.drain() == 5);

  Outcome wait;
  wait_after_would_block(p.server, asio::socket_base::wait_read, wait.handler());
  // Nothing new: the wait stays pending.
  p.ioc.restart();
  p.ioc.run_for(std::chrono::milliseconds(100));
  CHECK_FALSE(wait.done);

  asio::write(p.client, asio::buffer("second", 6));
  p.run_until(wait.done);
  REQUIRE(wait.done);
  CHECK(!wait.result);
  CHECK(p.drain() == 6);

  // And again: the second wait on the same socket sees the next edge too.
  wait = Outcome();
  wait_after_would_block(p.server, asio::socket_base::wait_read, wait.handler());
  asio::write(p.client, asio::buffer("third", 5));
  p.run_until(wait.done);
  REQUIRE(wait.done);
  CHECK(!wait.result);
  CHECK(p.drain() == 5);
}

TEST_CASE("a read wait completes when the peer closes") {
  const FastPathMode mode(GENERATE(true, false));
  Pair p;
  p.ioc.poll();
  REQUIRE(p.drain() == 0);
  Outcome wait;
  wait_after_would_block(p.server, asio::socket_base::wait_read, wait.handler());
  p.client.close();
  p.run_until(wait.done);
  CHECK(wait.done);
}

TEST_CASE("a write wait completes once a full socket drains") {
  const FastPathMode mode(GENERATE(true, false));
  Pair p;
  p.ioc.poll();
  // Fill the socket until a write would block.
  std::string chunk(64 * 1024, 'x');
  size_t written = 0;
  for (;;) {
    boost::system::error_code ec;
    size_t n = p.server.write_some(asio::buffer(chunk), ec);
    if (ec == asio::error::would_block) break;
    REQUIRE(!ec);
    written += n;
  }
  REQUIRE(written > 0);

  Outcome wait;
  wait_after_would_block(p.server, asio::socket_base::wait_write, wait.handler());
  p.ioc.restart();
  p.ioc.run_for(std::chrono::milliseconds(100));
  CHECK_FALSE(wait.done);

  // The client reads all of it; the server's socket has room again.
  std::vector<char> sink(written);
  asio::read(p.client, asio::buffer(sink));
  p.run_until(wait.done);
  REQUIRE(wait.done);
  CHECK(!wait.result);
}

TEST_CASE("closing the socket aborts a pending wait") {
  const FastPathMode mode(GENERATE(true, false));
  Pair p;
  p.ioc.poll();
  REQUIRE(p.drain() == 0);
  Outcome wait;
  wait_after_would_block(p.server, asio::socket_base::wait_read, wait.handler());
  p.server.close();
  p.run_until(wait.done);
  REQUIRE(wait.done);
  CHECK(wait.result == asio::error::operation_aborted);
}

TEST_CASE("a wait still pending when its io_context goes is destroyed, not called") {
  const FastPathMode mode(GENERATE(true, false));
  auto owner = std::make_shared<int>(7);
  bool called = false;
  {
    Pair p;
    p.ioc.poll();
    REQUIRE(p.drain() == 0);
    wait_after_would_block(p.server, asio::socket_base::wait_read,
                           [&called, owner](boost::system::error_code) { called = true; });
    CHECK(owner.use_count() == 2);
    // The sockets close first (members in reverse order): that aborts the wait,
    // which is then queued, not run, when the io_context is destroyed.
  }
  CHECK_FALSE(called);
  // The handler, and what it held, was freed.
  CHECK(owner.use_count() == 1);
}

TEST_CASE("the wait is queued on the reactor itself with this Boost, not through async_wait") {
  // Debian 12's Boost 1.74 with epoll; another Asio would quietly fall back to
  // async_wait and its epoll_ctl per wait.
  if constexpr (!fast_path::kReactorWaitCompiled)
    FAIL("fast_path.hpp fell back to async_wait (Boost " << BOOST_VERSION << ")");
  // And it is on unless the environment turned it off.
  CHECK(fast_path::enabled());
}
