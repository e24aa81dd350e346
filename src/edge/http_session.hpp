#pragma once
// One HTTP/1.1 connection: reads a request, asks the router, writes the response,
// and repeats while keep-alive holds. A request the router holds (a blocking
// playlist reload, an early hinted part) waits here without a thread: the session
// registers with PublishWaiters, asks the router again after each publish of its
// rendition, and answers 503 at the hold's deadline. All of it runs on the
// connection's strand; other threads reach it only through close() and posts.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "edge/connection_registry.hpp"
#include "edge/router.hpp"

namespace relay::edge {

class PublishWaiters;
class HealthApi;
struct SseContext;
class QaApi;
struct WebsocketContext;
class StatsCounters;

// What every session shares; owned by the Server and outliving all sessions.
struct SessionContext {
  const Router& router;
  ConnectionRegistry& registry;
  PublishWaiters& waiters;
  StatsCounters& stats;
  std::chrono::milliseconds read_timeout;
  uint32_t max_header_bytes;
  uint64_t max_body_bytes;
  // The Q&A under /api/qa/ (REST and the WebSocket upgrade); null when it is off.
  const QaApi* qa_api = nullptr;
  const WebsocketContext* websocket = nullptr;
  // /metrics, /api/incidents and POST /api/qoe; null when health is off.
  const HealthApi* health_api = nullptr;
  const SseContext* sse = nullptr;  // the dashboard's event stream
};

class HttpSession : public std::enable_shared_from_this<HttpSession>, public Connection {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, const SessionContext& context);
  ~HttpSession() override;

  void run();
  // Safe from any thread; pending reads and writes end with operation_aborted.
  void close() override;

 private:
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes_transferred);
  void respond(Response response);
  void begin_hold(const Hold& hold);
  void on_publish();
  void on_hold_timeout(boost::beast::error_code ec);
  void end_hold();
  void on_watch(boost::beast::error_code ec, std::size_t bytes_transferred);
  void respond_and_close(boost::beast::http::status status, std::string_view message);
  void handle_qa();
  void handle_event_stream();
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes_transferred);
  void do_close();
  void do_lingering_close();
  void on_linger(boost::beast::error_code ec, std::size_t bytes_transferred);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  // Re-created for every request: a Beast parser reads exactly one message.
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Response response_;
  // The request being held, while it is; its waiter id in context_.waiters.
  std::optional<Hold> hold_;
  uint64_t waiter_id_ = 0;
  boost::asio::steady_timer hold_timer_;
  // While a request is held, a read watches for the client hanging up. Only one
  // read may be pending, so the next request's read waits for it to finish.
  bool watching_ = false;
  bool read_after_watch_ = false;
  bool close_after_write_ = false;
  bool linger_after_write_ = false;
  bool closed_ = false;
  size_t lingered_bytes_ = 0;
  const SessionContext& context_;
  const uint64_t id_;
  std::string peer_;
  std::string peer_address_;  // without the port
};

}  // namespace relay::edge
