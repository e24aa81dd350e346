#pragma once
// A Server-Sent Events stream (text/event-stream) for the technician's
// dashboard: after the HTTP session checked the request, this takes the socket
// and sends one event a second, built by a callback on this connection's strand.
// At most one event is in flight: the next is built only when the previous one
// was written, so a slow client costs no memory; one that takes longer than the
// write timeout for an event is disconnected.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include "edge/connection_limiter.hpp"
#include "edge/connection_registry.hpp"
#include "edge/streams.hpp"

namespace relay::edge {

struct SseContext {
  ConnectionRegistry& registry;
  std::function<std::string(bool first)> next_event;  // the JSON of the next event
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds write_timeout{10000};
};

// Stream is the HTTP session's PlainStream or TlsStream, taken over after the request.
template <class Stream>
class SseSession : public std::enable_shared_from_this<SseSession<Stream>>, public Connection {
 public:
  // `slot` is the connection's place under the connection caps, from the HTTP session.
  SseSession(Stream&& stream, const SseContext& context, ConnectionSlot slot = {});
  ~SseSession() override;

  // Sends the response header (with the HTTP version of the request) and starts the events.
  void run(unsigned http_version);
  void close() override;

 private:
  void write(std::string text);
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void on_timer(boost::beast::error_code ec);

  Stream stream_;
  boost::asio::steady_timer timer_;
  const SseContext& context_;
  const uint64_t id_;
  std::string out_;
  bool closed_ = false;
  ConnectionSlot slot_;
};

extern template class SseSession<PlainStream>;
extern template class SseSession<TlsStream>;

}  // namespace relay::edge
