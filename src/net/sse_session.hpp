#pragma once
// A Server-Sent Events stream (text/event-stream) on an HTTP/1.1 connection:
// after the handler accepted the request, this takes the socket and sends the
// EventSource's events at its interval, each built on this connection's strand.
// At most one event is in flight: the next is built only when the previous one
// was written, so a slow client costs no memory; one that takes longer than the
// write timeout for an event is disconnected. (HTTP/2 carries the same source on
// a stream, see Http2Session.)
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include "net/connection_limiter.hpp"
#include "net/connection_registry.hpp"
#include "net/feed.hpp"
#include "net/session_context.hpp"
#include "net/streams.hpp"

namespace relay::net {

// Stream is the HTTP session's PlainStream or TlsStream, taken over after the request.
template <class Stream>
class SseSession : public std::enable_shared_from_this<SseSession<Stream>>, public Connection {
 public:
  // `slot` is the connection's place under the connection caps, from the HTTP session.
  SseSession(Stream&& stream, const SessionContext& context, std::shared_ptr<EventSource> source,
             ConnectionSlot slot = {});
  ~SseSession() override;

  // Sends the response header (with the HTTP version of the request) and starts the events.
  void run(unsigned http_version);
  void close() override;

 private:
  // Writes the next event, or ends the stream when the source has none.
  void write_next(bool first, std::string prefix = {});
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void on_timer(boost::beast::error_code ec);

  Stream stream_;
  boost::asio::steady_timer timer_;
  const SessionContext& context_;
  std::shared_ptr<EventSource> source_;
  const uint64_t id_;
  std::string out_;
  bool closed_ = false;
  ConnectionSlot slot_;
};

extern template class SseSession<PlainStream>;
extern template class SseSession<TlsStream>;

}  // namespace relay::net
