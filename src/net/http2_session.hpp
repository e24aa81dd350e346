#pragma once
// One HTTP/2 connection over TLS (ALPN "h2"), served with nghttp2 on the
// connection's strand: requests go to the same Handler as on HttpSession, many
// at once, each on its own stream. A held request waits without a thread
// (HeldRequest) and holds only its stream; an event stream is one more stream
// that sends its source's events. No server push and no WebSocket (browsers
// open WebSockets on an HTTP/1.1 connection).
//
// nghttp2 does the framing, HPACK and flow control; this class does the I/O:
// it waits for readiness and then reads or writes without blocking, so a
// response that fits the socket's buffer goes out in the turn that made it.
// A TlsChannel (taken over from Asio's ssl::stream after the handshake) cuts the
// frames and the bodies, which stay in the store's buffers until encrypted, into
// 16 KiB records in one output buffer. nghttp2 is asked for more only while the
// next batch is below a bound, so a slow reader leaves the bytes in the store.
// A response must be taken within the send timeout (as on HTTP/1.1) or its
// stream is reset and its body let go, and a connection whose every stream waits
// for the client's flow-control window is idle: a client cannot pin segments by
// never opening its window.
// Why this shape and what it costs: docs/performance.md, "HTTP/2 session".
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "net/connection_limiter.hpp"
#include "net/connection_registry.hpp"
#include "net/http2_headers.hpp"
#include "net/handler.hpp"
#include "net/held_request.hpp"
#include "net/session_context.hpp"
#include "net/streams.hpp"
#include "net/tls_channel.hpp"

namespace relay::net {

class Http2Session : public std::enable_shared_from_this<Http2Session>, public Connection {
 public:
  // The TLS handshake is done and ALPN chose "h2"; the connection is taken out of
  // `stream`. Throws std::runtime_error when it cannot be. peer_address is the client's
  // IP without port; `slot` is the connection's place under the connection caps.
  Http2Session(TlsStream&& stream, const SessionContext& context, std::string peer_address,
               ConnectionSlot slot = {});
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Registers the connection, sends our SETTINGS and starts reading.
  void run();
  // Safe from any thread: sends GOAWAY (for at most a second) and closes.
  void close() override;
  // Safe from any thread: GOAWAY naming the last stream taken, held requests
  // answered now (as at their deadline), event streams ended; responses in
  // flight complete, then the connection closes.
  void drain() override;

 private:
  struct Stream;
  // The open streams, at most SETTINGS_MAX_CONCURRENT_STREAMS and mostly one or
  // two: a vector searched from the front costs less than a map's node per stream.
  using StreamList = std::vector<std::pair<int32_t, std::unique_ptr<Stream>>>;
  // What the next write sends: serialised frames, and bodies by reference.
  class OutputBatch {
   public:
    void append_copy(const uint8_t* data, size_t size);
    void append_shared(const Bytes& owner, std::string_view bytes);
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    // Built once per change of the batch; valid until the next.
    const std::vector<boost::asio::const_buffer>& buffers();
    void clear();
    void swap(OutputBatch& other) noexcept;

   private:
    struct Piece {
      const char* shared = nullptr;  // into a pinned body, or null for `copied_`
      size_t offset = 0;             // into `copied_` when not shared
      size_t length = 0;
    };
    std::string copied_;
    std::vector<Piece> pieces_;
    std::vector<Bytes> pinned_;  // the bodies pieces point into, alive until written
    std::vector<boost::asio::const_buffer> buffers_;
    size_t size_ = 0;
  };

  // The C callbacks nghttp2 calls (in http2_session.cpp) forward to these.
  struct Callbacks;
  friend struct Callbacks;
  void on_request_begin(int32_t stream_id);
  // A field no request may carry is remembered and answered 400 once the block is done.
  void on_request_field(int32_t stream_id, std::string_view name, std::string_view value);
  void on_request_header_done(int32_t stream_id, bool end_stream);
  void on_request_data(int32_t stream_id, std::string_view data);
  void on_request_end(int32_t stream_id);
  void on_frame_sent(int32_t stream_id, size_t frame_bytes, bool end_stream);
  void on_stream_closed(int32_t stream_id, uint32_t error_code);
  // The body's next DATA frame: its length, 0 at the end, or an nghttp2 error code.
  long next_body_frame(int32_t stream_id, size_t max_length, uint32_t* data_flags);
  // Puts a DATA frame into the batch: nghttp2's 9-byte frame header, then the body
  // bytes by reference. Returns NGHTTP2_ERR_PAUSE once the batch is full.
  int send_body_frame(int32_t stream_id, const uint8_t* frame_header, size_t length);

  StreamList::iterator stream_entry(int32_t stream_id);
  Stream* find(int32_t stream_id);
  void dispatch(Stream& s);
  Exchange exchange(Stream& s);
  void begin_deferred(Stream& s, Deferred deferred);
  void respond(Stream& s, Response response);
  void respond_early(Stream& s, boost::beast::http::status status, std::string_view message);
  void begin_hold(Stream& s, const Hold& hold);
  // Asks the router again; answers when it can. Does not flush: it also runs
  // inside nghttp2's callbacks.
  void recheck_hold(Stream& s);
  void on_publish(int32_t stream_id);
  void on_hold_timeout(int32_t stream_id);
  void end_hold(Stream& s);
  void begin_event_stream(Stream& s, std::shared_ptr<EventSource> source);
  void on_event_timer(int32_t stream_id);
  void arm_stream_timer(Stream& s, std::chrono::milliseconds after, void (Http2Session::*handler)(int32_t));
  // Resets a stream answered early whose client went on sending past the bound.
  void stop_lingering(Stream& s);
  // The rest of the stream's body must be taken by the send timeout (as on HTTP/1.1).
  void expect_taken(Stream& s);
  // Resets a stream whose response or event was not taken in time and drops its body.
  void reset_stalled(Stream& s);
  // Every open stream has a response to send and no window to send it in.
  bool all_streams_flow_blocked() const;
  void finish_stream(Stream& s);

  // Waits for the socket to become readable; only once a read found it empty.
  void do_read();
  // Reads without waiting, after the handlers already queued: the socket may hold data.
  void read_soon();
  void on_readable(boost::beast::error_code ec);
  // Decrypts what the TLS channel was fed and hands it to nghttp2; false when the
  // connection ends (a TLS error or close_notify, or an HTTP/2 connection error).
  bool decrypt();
  // Hands decrypted bytes to nghttp2; false when the connection is to end.
  bool receive(const char* data, size_t size);
  // Sends what is to be sent while the socket takes it: the TLS output, then
  // more batches from nghttp2, encrypted a chunk at a time. When the socket is
  // full it waits for it to drain; once all is out it resumes a paused read and
  // ends the connection when nghttp2 is done with it.
  void flush();
  // Encrypts the next chunk of the batch into the TLS output, taking a new batch
  // from nghttp2 when the last is done. False when there is nothing to send.
  bool encrypt_some();
  // socket_full: the last write would have blocked (else the socket has room and
  // the connection only lets others have a turn).
  void wait_writable(size_t unsent, bool socket_full);
  // The batches and the TLS output, all empty, trade places with the thread's
  // spares (also empty): a connection writes in memory that the last connection
  // on this thread left warm in the cache, and an idle one keeps little.
  void swap_write_buffers();
  void on_writable(boost::beast::error_code ec);
  void arm_watchdog(std::chrono::steady_clock::time_point when);
  void on_watchdog(boost::beast::error_code ec);
  void shut_down();

  // The limits as they are now (a SIGHUP may change them), or as at start.
  std::chrono::milliseconds header_timeout() const;
  std::chrono::milliseconds idle_timeout() const;
  std::chrono::milliseconds read_timeout() const;
  uint32_t max_header_bytes() const;
  uint64_t max_body_bytes() const;
  uint64_t body_limit(size_t route) const;  // the route's RouteInfo::max_body_bytes, or the edge's

  TlsChannel tls_;
  boost::asio::ip::tcp::socket socket_;
  ConnectionSlot slot_;
  const SessionContext& context_;
  const uint64_t id_;
  std::string peer_;          // the client's network (client_network), for logs
  std::string peer_address_;  // without the port, for the Q&A and QoE rate limits
  nghttp2_session* session_ = nullptr;
  StreamList streams_;
  size_t buffered_request_bytes_ = 0;  // request bodies of all streams, not yet dispatched

  bool reading_ = false;       // waiting for the socket to be readable
  bool read_paused_ = false;   // the output is backed up; reading resumes as it drains

  OutputBatch pending_;  // filled from nghttp2 while writing_ is encrypted and sent
  OutputBatch writing_;
  size_t write_index_ = 0;   // the next of writing_'s buffers to encrypt
  size_t write_offset_ = 0;  // into that buffer
  size_t output_sent_ = 0;   // of tls_.output()
  bool write_in_flight_ = false;  // waiting for the socket to take more

  // One timer for the connection's deadlines: the write in flight, the idle
  // connection, requests whose header or body has not fully arrived, and
  // responses the client has not taken (Stream::send_by).
  boost::asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point write_deadline_;
  // Since the last stream closed or, with every stream flow-blocked, since the last frame sent on one.
  std::chrono::steady_clock::time_point idle_since_;
  bool watchdog_armed_ = false;

  bool stream_progress_ = false;  // a stream's frame went out since the last completed flush
  bool served_any_ = false;  // until the first request, a silent connection gets the header timeout
  bool draining_ = false;    // GOAWAY sent for shutdown: the open streams finish, no new ones
  bool closed_ = false;      // close() ran, or nghttp2 ended the connection
  bool shut_down_ = false;   // the socket is closed
};

}  // namespace relay::net
