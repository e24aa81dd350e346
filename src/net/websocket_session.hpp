#pragma once
// One WebSocket connection carrying an application's Feed (the Q&A's live
// events): accepts the upgrade the handler approved, opens the feed and sends
// what it returns first, then every message the feed pushes. Pushes land in the
// session's inbox, and one handler posted to the session's executor empties it
// for all that arrive before it runs (an action that publishes two events costs
// each subscriber one handler, not two). Messages that wait together go out as
// one WebSocket message, a JSON array of them (docs/qa.md), so one send reaches
// the client however many an action made. They wait in a bounded queue, and a
// client that lets the queue fill is closed with code 4008 ("too slow") so that
// it reconnects and catches up, instead of making the server hold an
// ever-growing backlog.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/connection_limiter.hpp"
#include "net/connection_registry.hpp"
#include "net/feed.hpp"
#include "net/http_types.hpp"
#include "net/session_context.hpp"
#include "net/streams.hpp"

namespace relay::net {

// What the WebSocket runs on: the bare socket for a plain connection (the websocket
// layer's own timer watches the peer, so tcp_stream's per-operation deadlines would
// only add work to every send), the TLS stream with its deadlines off for TLS.
template <class Stream>
struct WebsocketLayer;
template <>
struct WebsocketLayer<PlainStream> {
  using type = boost::asio::ip::tcp::socket;
};
template <>
struct WebsocketLayer<TlsStream> {
  using type = TlsStream;
};

// Stream is the HTTP session's PlainStream or TlsStream, taken over after the upgrade.
template <class Stream>
class WebsocketSession : public std::enable_shared_from_this<WebsocketSession<Stream>>,
                         public FeedSink,
                         public Connection {
 public:
  // `slot` is the connection's place under the connection caps, from the HTTP session.
  WebsocketSession(Stream&& stream, const SessionContext& context, std::shared_ptr<Feed> feed,
                   ConnectionSlot slot = {});
  ~WebsocketSession() override;

  // Takes the upgrade request, answers it and starts.
  void run(Request request);
  // Any thread.
  void close() override;
  // Any thread: closes with 1001 (going away) after the message being written;
  // the pages reconnect, to this edge once it is back or to another one.
  void drain() override;
  // Any thread, maybe with the feed's lock held: puts the message in the inbox
  // and posts drain_inbox() unless it is already on its way.
  void push(Bytes message) override;
  // Any thread: closes with this code after the message being written.
  void end(uint16_t code, std::string_view reason) override;

 private:
  void on_accept(boost::beast::error_code ec);
  void on_first_message(boost::beast::error_code ec, std::size_t bytes);
  // Opens the feed and sends what it returns first.
  void open_feed(std::string_view first_message);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void drain_inbox();
  // Queues a message; false once the session closes (for being too slow or otherwise).
  bool enqueue(Bytes message);
  void leave_feed();
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void close_slow();
  // Sends the message in flight, if any, then a close frame with `reason`; drops the rest.
  void close_after_write(boost::beast::websocket::close_reason reason);
  void do_close(boost::beast::websocket::close_reason reason);
  void teardown();

  // The TCP socket under the websocket (and TLS) layers.
  boost::asio::ip::tcp::socket& lowest_socket() {
    if constexpr (std::is_same_v<Stream, TlsStream>)
      return boost::beast::get_lowest_layer(ws_).socket();
    else
      return ws_.next_layer();
  }

  boost::beast::websocket::stream<typename WebsocketLayer<Stream>::type> ws_;
  boost::beast::flat_buffer buffer_;
  Request request_;
  std::deque<Bytes> queue_;
  size_t backlog_ = 0;  // snapshot or missed events still in queue_
  // Filled by deliver() on the publishing thread, emptied by drain_inbox(); holds at
  // most queue_limit + 1 messages, since a drain that brings more closes the client anyway.
  std::mutex inbox_mutex_;
  std::vector<Bytes> inbox_;
  bool drain_posted_ = false;  // guarded by inbox_mutex_
  std::vector<Bytes> draining_;  // the inbox taken by the drain; kept for its capacity
  // The message being written: the first `in_flight_` of queue_ (0: no write in
  // flight), joined as a JSON array when there are several.
  std::vector<boost::asio::const_buffer> write_buffers_;
  size_t in_flight_ = 0;
  // The grace of a close; before the feed opens, the deadline of the first message.
  boost::asio::steady_timer close_timer_;
  const SessionContext& context_;
  std::shared_ptr<Feed> feed_;
  const uint64_t id_;
  bool subscribed_ = false;  // the feed is open
  bool closing_ = false;  // no more sends; a close frame follows the write in flight
  boost::beast::websocket::close_reason close_reason_;  // what that close frame says
  bool closed_ = false;
  ConnectionSlot slot_;
};

extern template class WebsocketSession<PlainStream>;
extern template class WebsocketSession<TlsStream>;

}  // namespace relay::net
