#pragma once
// One HTTP/1.1 connection, plain or TLS: reads a request, hands it to the
// Handler, carries out its answer (handler.hpp), and repeats while keep-alive
// holds. A held request waits here without a thread (HeldRequest). All of it
// runs on the connection's strand; other threads reach it only through close()
// and posts.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/body_files.hpp"
#include "net/connection_limiter.hpp"
#include "net/connection_registry.hpp"
#include "net/handler.hpp"
#include "net/held_request.hpp"
#include "net/session_context.hpp"
#include "net/streams.hpp"

namespace relay::net {

// Stream is PlainStream or TlsStream (after its handshake); both are instantiated
// in http_session.cpp.
template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>>, public Connection {
 public:
  // `slot` is the connection's place under the connection caps; it passes on to
  // a WebSocket or event stream the connection turns into.
  HttpSession(Stream&& stream, const SessionContext& context, ConnectionSlot slot = {});
  ~HttpSession() override;

  void run();
  // Safe from any thread; pending reads and writes end with operation_aborted.
  void close() override;
  // Safe from any thread: a held request is answered now (as at its deadline), a
  // request being read or answered completes with "Connection: close", and a
  // connection waiting for its next request is closed.
  void drain() override;

 private:
  void do_read();
  void on_first_bytes(boost::beast::error_code ec, std::size_t bytes_transferred);
  // socket_drained: in the same handler as a read that found the socket empty.
  void wait_readable(bool socket_drained);
  void on_readable(boost::beast::error_code ec);
  void on_idle_timeout(boost::beast::error_code ec);
  // Parses what the first read brought; reads on (read_header) when the header is not all there.
  void parse_buffered();
  void read_header();
  void on_header(boost::beast::error_code ec, std::size_t bytes_transferred);
  void on_read(boost::beast::error_code ec, std::size_t bytes_transferred);
  // True when the read error was answered or ended the connection.
  bool handle_read_error(boost::beast::error_code ec);
  Exchange exchange() const { return {parser_->get(), target_, client_, route_, kTls}; }
  // Finishes the response for its request and writes it.
  void respond(Response response);
  void begin_hold(const Hold& hold);
  void begin_deferred(Deferred deferred);
  void upgrade(Upgrade upgrade);
  void on_publish();
  void on_hold_timeout(boost::beast::error_code ec);
  void end_hold();
  // Ends the hang-up watch of a held request (see end_hold()).
  void stop_watching();
  void on_watch(boost::beast::error_code ec, std::size_t bytes_transferred);
  void respond_and_close(boost::beast::http::status status, std::string_view message);
  void hand_over();
  void do_write();
  // Plain HTTP/1.1: the head, then the body from its file with sendfile(2),
  // waiting for the socket whenever it is full; ends in on_write().
  void send_file();
  void end_file(boost::beast::error_code ec);
  void on_write(boost::beast::error_code ec, std::size_t bytes_transferred);
  void do_close();
  void do_lingering_close();
  void watch_idle();
  auto& lowest() { return boost::beast::get_lowest_layer(stream_); }

  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  void on_linger(boost::beast::error_code ec, std::size_t bytes_transferred);

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  // Re-created for every request: a Beast parser reads exactly one message.
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Response response_;
  // response_'s status line and header fields, rendered for the write in flight.
  std::string head_;
  // The body's file while send_file() sends it, what of it and of head_ went out,
  // and the write's deadline (made on a connection's first file).
  std::shared_ptr<const BodyFile> file_;
  size_t file_offset_ = 0;
  size_t file_sent_ = 0;
  size_t head_sent_ = 0;
  std::unique_ptr<boost::asio::steady_timer> file_timer_;
  bool file_deadline_set_ = false;  // for the response being sent
  // The request's target, parsed once, and its route (Handler::route).
  RequestTarget target_;
  size_t route_ = 0;
  // Where the connection is in its request cycle. Every transition is one
  // assignment, in the function that starts the phase (see each value).
  enum class Phase : uint8_t {
    idle,         // do_read: waiting for the first byte of the next request, under the idle deadline
    reading,      // on_readable, on_first_bytes, do_read (pipelined): the request is being read
    held,         // begin_hold: the request waits for a publish (held_)
    deferred,     // begin_deferred: the response is being made on another thread; nothing else happens
    writing,      // do_write: a response is on its way
    after_watch,  // on_write: the response is out; the next read waits for the hang-up watch to end
    lingering,    // do_lingering_close: an early answer is out; the rest of the request is dropped
    closing,      // do_close, or after an I/O error: no more requests; the socket goes with the session
    closed,       // the socket was closed (close(), a deadline) or the client left: completions do nothing
  };
  // What follows the response being written.
  enum class AfterWrite : uint8_t {
    next_request,  // keep-alive
    close,         // the response asked for it (Connection: close, HTTP/1.0)
    linger,        // an early answer: drain the rest of the request, then close
  };
  Phase phase_ = Phase::idle;
  AfterWrite after_write_ = AfterWrite::next_request;
  // The request being held, while phase_ is held.
  HeldRequest held_;
  // The hold's deadline; between requests, the idle deadline (see do_read, watch_idle).
  boost::asio::steady_timer hold_timer_;
  // Independent of the phase:
  // While a request is held, a read watches for the client hanging up. Only one
  // read may be pending, so the next request's read waits for it to finish
  // (after_watch); a TLS watch outlives its hold (stop_watching()).
  bool watching_ = false;
  // Within on_readable, after a read that found the socket empty: a wait for the
  // next request started before it returns needs no re-arming in epoll.
  bool socket_drained_ = false;
  bool served_any_ = false;  // the first request gets the header timeout from the connect on
  bool draining_ = false;    // shutting down: no request after the one in flight
  std::chrono::steady_clock::time_point request_started_;
  size_t lingered_bytes_ = 0;
  ConnectionSlot slot_;
  const SessionContext& context_;
  const uint64_t id_;
  std::string peer_;          // the client's network (client_network), for logs
  std::string peer_address_;  // without the port
  std::string client_;        // the request's client: the peer, or whom a trusted proxy names
};

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

}  // namespace relay::net
