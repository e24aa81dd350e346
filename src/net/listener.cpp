#include "net/listener.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <atomic>
#include <string>

#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "net/client_address.hpp"
#include "net/connection_limiter.hpp"
#include "net/fail.hpp"
#include "net/http2_session.hpp"
#include "net/live_limits.hpp"
#include "net/stats.hpp"
#include "net/tls_context.hpp"

namespace relay::net {
namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A connection over a cap gets a fixed answer without its request being read:
// parsing is the work the cap is there to save. The answer and the wait for the
// client to hang up share one short deadline (closing before the client has read
// would reset the connection and lose the answer), and only so many refusals run
// at once, so a flood cannot make the refusals themselves the load.
constexpr auto kRefusalTime = std::chrono::seconds(2);
constexpr int kMaxRefusalsInFlight = 256;
constexpr int kRetryAfterSeconds = 5;
std::atomic<int> g_refusals_in_flight{0};

const std::string& refusal_text() {
  static const std::string text = [] {
    constexpr std::string_view body = "too many connections, retry in a few seconds\n";
    return fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nServer: seminar-relay\r\nRetry-After: {}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
        "Connection: close\r\n\r\n{}",
        kRetryAfterSeconds, body.size(), body);
  }();
  return text;
}

class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  explicit Refusal(tcp::socket socket) : stream_(std::move(socket)) {}
  ~Refusal() { g_refusals_in_flight.fetch_sub(1, std::memory_order_relaxed); }

  void run() {
    stream_.expires_after(kRefusalTime);
    asio::async_write(stream_, asio::buffer(refusal_text()), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return;
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->discard();
    });
  }

 private:
  void discard() {
    stream_.async_read_some(asio::buffer(sink_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec) self->discard();
    });
  }

  beast::tcp_stream stream_;
  char sink_[1024];
};

// TLS connections are closed without an answer: a handshake costs more than the refusal saves.
void refuse(tcp::socket socket, bool tls) {
  if (tls || g_refusals_in_flight.fetch_add(1, std::memory_order_relaxed) >= kMaxRefusalsInFlight) {
    if (!tls) g_refusals_in_flight.fetch_sub(1, std::memory_order_relaxed);
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<Refusal>(std::move(socket))->run();
}

}  // namespace

Listener::Listener(std::vector<asio::any_io_executor> workers, tcp::acceptor acceptor, const SessionContext& context,
                   const TlsContexts* tls)
    : workers_(std::move(workers)),
      acceptor_(std::move(acceptor)),
      retry_timer_(acceptor_.get_executor()),
      context_(context),
      tls_(tls) {
  // Lets on_accept() take the connections already queued without a round trip each.
  beast::error_code ignored;
  acceptor_.non_blocking(true, ignored);
}

void Listener::run() {
  asio::dispatch(acceptor_.get_executor(), beast::bind_front_handler(&Listener::do_accept, shared_from_this()));
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    beast::error_code ec;
    self->acceptor_.close(ec);
    self->retry_timer_.cancel();
  });
}

const asio::any_io_executor& Listener::next_worker() {
  const auto& worker = workers_[next_worker_];
  next_worker_ = (next_worker_ + 1) % workers_.size();
  return worker;
}

void Listener::do_accept() {
  if (stopped_) return;
  acceptor_.async_accept(next_worker(), beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopped_) return;
  if (ec) {
    fail(ec, "accept");
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  start_session(std::move(socket));
  // A burst of connects (a thousand players after a publish, a load test) waits in
  // the backlog: take what is there before going back to the reactor, bounded so
  // the sessions already started on this thread get their turn.
  constexpr int kAcceptBatch = 64;
  for (int i = 1; i < kAcceptBatch && !stopped_; ++i) {
    tcp::socket next(next_worker());
    acceptor_.accept(next, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) return on_accept(ec, std::move(next));
    start_session(std::move(next));
  }
  do_accept();
}

void Listener::start_session(tcp::socket socket) {
  ConnectionSlot slot;
  beast::error_code address_ec;
  const auto remote = socket.remote_endpoint(address_ec);
  const std::string address = address_ec ? std::string("?") : remote.address().to_string();
  // A trusted proxy brings many clients over one address; they are told apart per request.
  const bool proxy = context_.proxies && context_.proxies->trusts(address);
  const Admission admission = context_.connections.admit(address, slot, proxy);
  if (admission != Admission::admitted) {
    context_.stats.connection_refused(admission == Admission::over_address_cap);
    return refuse(std::move(socket), tls_ != nullptr);
  }
  if (tls_)
    start_tls(std::move(socket), std::move(slot));
  else
    std::make_shared<HttpSession<PlainStream>>(PlainStream(std::move(socket)), context_, std::move(slot))->run();
}

void Listener::start_tls(tcp::socket socket, ConnectionSlot slot) {
  // The handshake is bounded like a request header, so a client that connects and
  // says nothing is cut as it would be on the plain port.
  // The connection's SSL holds its own reference to the context, so a renewal
  // (TlsContexts::reload) never pulls it from under an open connection.
  auto stream = std::make_shared<TlsStream>(std::move(socket), *tls_->current());
  auto held = std::make_shared<ConnectionSlot>(std::move(slot));
  beast::get_lowest_layer(*stream).expires_after(context_.limits.header_timeout());
  stream->async_handshake(asio::ssl::stream_base::server, [stream, held, &context = context_](beast::error_code ec) {
    if (ec) return fail(ec, "TLS handshake");
    beast::get_lowest_layer(*stream).expires_never();
    if (negotiated_h2(stream->native_handle())) {
      beast::error_code peer_ec;
      auto peer = beast::get_lowest_layer(*stream).socket().remote_endpoint(peer_ec);
      std::string address = peer_ec ? "?" : peer.address().to_string();
      return std::make_shared<Http2Session>(std::move(*stream), context, std::move(address), std::move(*held))->run();
    }
    std::make_shared<HttpSession<TlsStream>>(std::move(*stream), context, std::move(*held))->run();
  });
}

}  // namespace relay::net
