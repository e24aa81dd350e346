#pragma once
// What an upgraded connection carries, seen from the application: a WebSocket
// feed of text messages, or an event stream of server-sent events. The
// transport owns the socket, the queue and its bounds; the application owns
// what is said.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.hpp"

namespace relay::net {

// The WebSocket session, as a feed sees it. Any thread.
class FeedSink {
 public:
  virtual ~FeedSink() = default;
  // Queues a text message. Messages that wait together go out as one message, a
  // JSON array of them (so they must be JSON texts); a client that lets the
  // queue fill is closed with kCloseTooSlow.
  virtual void push(Bytes message) = 0;
  // Ends the feed: a close frame with this code and reason after the message in flight.
  virtual void end(uint16_t code, std::string_view reason) = 0;
};

// Close codes the pages act on (4000..4999 are the application's, RFC 6455 7.4.2).
inline constexpr uint16_t kCloseTooSlow = 4008;

class Feed {
 public:
  virtual ~Feed() = default;
  // On the session's thread, once the handshake is done: starts the feed and
  // returns what is sent first (these do not count against the queue limit).
  // Throwing closes the WebSocket with "internal error".
  virtual std::vector<Bytes> open(std::weak_ptr<FeedSink> sink) = 0;
  // No push after this returns. Idempotent; the session calls it when it ends.
  virtual void close() = 0;
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // The next event's data (one line of JSON), or null to end the stream (e.g.
  // the token that opened it was revoked). On the session's thread. Shared
  // bytes, so a source may hand every subscriber the same event, built once.
  virtual Bytes next(bool first) = 0;
  std::chrono::milliseconds interval{1000};
  // The longest an event may take to leave before the client counts as stalled.
  std::chrono::milliseconds write_timeout{10000};
};

// The bytes of one server-sent event; the first also tells the client how soon to reconnect.
std::string frame_event(std::string_view data, bool first);

}  // namespace relay::net
