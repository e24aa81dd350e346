#pragma once
// One live Q&A connection (/api/qa/ws): accepts the upgrade the HttpSession
// checked, subscribes to its room and sends the snapshot (or the missed events)
// and then every event for it, in seq order. The Q&A posts events to the
// session's strand; they wait in a bounded queue, and a client that lets the
// queue fill is closed with code 4008 ("too slow") so that it reconnects with
// since= and catches up, instead of making the server hold an ever-growing backlog.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "edge/connection_registry.hpp"
#include "edge/qa_api.hpp"
#include "qa/events.hpp"

namespace relay::edge {

class StatsCounters;

// Close codes the pages act on (4000..4999 are the application's, RFC 6455 7.4.2).
inline constexpr uint16_t kCloseTooSlow = 4008;

struct WebsocketContext {
  qa::Service& service;
  ConnectionRegistry& registry;
  StatsCounters& stats;
  size_t queue_limit;
};

class WebsocketSession : public std::enable_shared_from_this<WebsocketSession>,
                         public qa::Subscriber,
                         public Connection {
 public:
  WebsocketSession(boost::asio::ip::tcp::socket&& socket, const WebsocketContext& context, QaSubscription subscription);
  ~WebsocketSession() override;

  // Takes the upgrade request, answers it and starts.
  void run(FullRequest request);
  // Any thread.
  void close() override;
  // Any thread, with the Q&A's lock held: posts to the strand.
  void deliver(const qa::EventPtr& event) override;

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void send(qa::Message message);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close_slow();
  void do_close(boost::beast::websocket::close_reason reason);
  void teardown();

  // A plain socket: the websocket layer's own timer (pings, idle timeout) watches the
  // peer, so tcp_stream's per-operation deadlines would only add work to every send.
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer buffer_;
  FullRequest request_;
  std::deque<qa::Message> queue_;
  size_t backlog_ = 0;  // snapshot or missed events still in queue_
  boost::asio::steady_timer close_timer_;
  const WebsocketContext& context_;
  QaSubscription subscription_;
  const uint64_t id_;
  bool subscribed_ = false;
  bool writing_ = false;
  bool closing_ = false;  // no more sends; a close frame follows the write in flight
  bool closed_ = false;
};

}  // namespace relay::edge
