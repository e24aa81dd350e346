#pragma once
// What an upgraded connection carries, seen from the application: a WebSocket
// feed of text messages, or an event stream of server-sent events. The
// transport owns the socket, the queue and its bounds; the application owns
// what is said.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
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

// Thrown by Feed::open() to refuse the client (e.g. its credentials): the
// WebSocket closes with this code and the exception's text as the reason.
class FeedRefused : public std::runtime_error {
 public:
  FeedRefused(uint16_t code, const std::string& reason) : std::runtime_error(reason), code(code) {}
  uint16_t code;
};

// A client that opens a feed taking credentials but sends none within this long is closed.
inline constexpr std::chrono::seconds kFirstMessageTimeout{5};

class Feed {
 public:
  virtual ~Feed() = default;
  // Whether the feed opens only with the client's first message (its
  // credentials, which then need not travel in the URL): the session reads that
  // message, within kFirstMessageTimeout, and sends nothing before.
  virtual bool opens_on_first_message() const { return false; }
  // On the session's thread, once the handshake is done (and the first message
  // is in, given here; empty otherwise): starts the feed and returns what is
  // sent first (these do not count against the queue limit). FeedRefused closes
  // the WebSocket with its code; any other exception with "internal error".
  virtual std::vector<Bytes> open(std::weak_ptr<FeedSink> sink, std::string_view first_message) = 0;
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
