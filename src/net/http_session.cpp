#include "net/http_session.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <iterator>

#include <sys/sendfile.h>
#include <sys/socket.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <fmt/format.h>

#include "common/client_network.hpp"
#include "common/log.hpp"
#include "net/client_address.hpp"
#include "net/connection_registry.hpp"
#include "net/fail.hpp"
#include "net/live_limits.hpp"
#include "net/fast_path.hpp"
#include "net/sse_session.hpp"
#include "net/stats.hpp"
#include "net/websocket_session.hpp"

namespace relay::net {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::atomic<uint64_t> g_next_session_id{1};

// The status line and header of a response as one block of text, in the form
// Beast's serializer writes them: one buffer for the head and one for the body
// cost far less CPU than the serializer's buffer per field (docs/performance.md,
// "HTTP/1.1 session").
void render_head(const Response& res, std::string& out) {
  out.clear();
  out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  fmt::format_to(std::back_inserter(out), "{} ", res.result_int());
  const beast::string_view reason = res.reason();
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  for (const auto& field : res) {
    const beast::string_view name = field.name_string(), value = field.value();
    out.append(name.data(), name.size());
    out.append(": ");
    out.append(value.data(), value.size());
    out.append("\r\n");
  }
  out.append("\r\n");
}

// Looked up once: relay::log::get() takes a global lock, too much for every request.
spdlog::logger& edge_log() {
  static const auto logger = relay::log::get("edge");
  return *logger;
}

// After an error response the client may still be sending the rest of an oversized
// request; closing with unread data would reset the connection and destroy our
// answer in its receive buffer. Drain for a bounded time and amount instead.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = 1024 * 1024;

// What the hang-up watch reads at most; more is a pipelined request, left for later.
constexpr size_t kWatchBytes = 4096;
// The read of a request's first bytes takes at most this much; the parser reads
// the rest. A player's GET fits; an idle connection holds no buffer at all.
constexpr size_t kFirstReadBytes = 512;

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_target).category();
}

}  // namespace

template <class Stream>
HttpSession<Stream>::HttpSession(Stream&& stream, const SessionContext& context, ConnectionSlot slot)
    : stream_(std::move(stream)),
      held_(context.waiters, context.stats),
      hold_timer_(stream_.get_executor()),
      slot_(std::move(slot)),
      context_(context),
      id_(g_next_session_id.fetch_add(1)) {
  beast::error_code ec;
  auto endpoint = lowest().socket().remote_endpoint(ec);
  peer_address_ = ec ? "?" : endpoint.address().to_string();
  // Logs name the client's network (its IPv4 address, its IPv6 /64), not the
  // address and port of the connection; the session id ties the lines together.
  peer_ = client_network(peer_address_);
  context_.stats.connection_opened();
}

template <class Stream>
HttpSession<Stream>::~HttpSession() {
  // A hold still on (the io_context torn down with its handlers queued) ends with held_.
  context_.registry.remove(id_);
  context_.stats.connection_closed();
  edge_log().trace("#{} closed", id_);
}

template <class Stream>
void HttpSession<Stream>::run() {
  if (!context_.registry.add(id_, this->weak_from_this())) return;
  edge_log().trace("#{} open from {}", id_, peer_);
  if constexpr (!kTls) {
    // Only the read after a readiness wait is synchronous (on_readable), and it must not block.
    beast::error_code ignored;
    lowest().socket().non_blocking(true, ignored);
  }
  asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession<Stream>::do_read, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::close() {
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->phase_ = Phase::closed;
    self->end_hold();
    self->lowest().close();
  });
}

template <class Stream>
void HttpSession<Stream>::drain() {
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    if (self->phase_ == Phase::closed || self->draining_) return;
    self->draining_ = true;
    if (self->phase_ == Phase::held) {
      // As at the hold's deadline, but not for a cache to keep: the edge is going away, not the stream.
      Response response = self->held_.expire(self->context_.handler, self->exchange(), /*timed_out=*/false);
      self->stop_watching();
      response.set(http::field::cache_control, "no-store");
      response.set(http::field::retry_after, "1");
      return self->respond(std::move(response));
    }
    // Between requests (a TLS connection after a held request waits in its hang-up watch).
    if (self->phase_ != Phase::writing && (self->phase_ == Phase::idle || self->watching_)) {
      self->phase_ = Phase::closed;
      self->lowest().close();
    }
  });
}

// Three deadlines guard a request: until its first byte the idle timeout (the
// header timeout on a new connection, which must not sit silent for long
// either), then the header timeout for the header, then the read timeout, from
// the first byte, for the whole request. A slowloris client trickling a header
// is cut by the second however busy it keeps the socket.
template <class Stream>
void HttpSession<Stream>::do_read() {
  if (phase_ == Phase::closed) return;
  if (draining_) return do_close();
  const LiveLimits& limits = context_.limits;
  parser_.emplace();
  parser_->header_limit(limits.max_header_bytes());
  // Until the route is known (see on_header), the largest body any route takes.
  parser_->body_limit(std::max(limits.max_body_bytes(), context_.handler.largest_body_bytes()));
  if (buffer_.size() > 0) {  // a pipelined request is already here
    phase_ = Phase::reading;
    request_started_ = std::chrono::steady_clock::now();
    return read_header();
  }
  phase_ = Phase::idle;
  const auto idle = served_any_ ? limits.idle_timeout() : limits.header_timeout();
  if constexpr (kTls) {
    // The TLS engine may already hold the next request's bytes, which the socket
    // would not signal: read, into a buffer of the size of a request.
    lowest().expires_after(idle);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            beast::bind_front_handler(&HttpSession<Stream>::on_first_bytes, this->shared_from_this()));
  } else {
    // An idle keep-alive connection holds no read buffer: wait for the socket to
    // become readable, then let the parser read. The stream's own timeout covers
    // only its reads and writes, so the idle deadline is a timer of ours.
    // The timer holds the session weakly: a client's hang-up then ends the
    // session, and gives back its connection slot, as soon as it is read.
    hold_timer_.expires_after(idle);
    hold_timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      if (auto self = weak.lock()) self->on_idle_timeout(ec);
    });
    wait_readable(socket_drained_);
  }
}

template <class Stream>
void HttpSession<Stream>::wait_readable(bool socket_drained) {
  auto handler = beast::bind_front_handler(&HttpSession<Stream>::on_readable, this->shared_from_this());
  // A keep-alive request and its response usually come and go within one
  // on_readable; the wait for the next request then starts in the same turn.
  if (socket_drained)
    fast_path::wait_after_would_block(lowest().socket(), tcp::socket::wait_read, std::move(handler));
  else
    lowest().socket().async_wait(tcp::socket::wait_read, std::move(handler));
}

template <class Stream>
void HttpSession<Stream>::on_readable(beast::error_code ec) {
  if (phase_ == Phase::closed) return;
  if (ec) {
    phase_ = Phase::closing;
    return fail(ec, fmt::format("#{} read", id_));
  }
  // The socket is non-blocking (see run()): this read takes what is there, and
  // tells a hang-up from the next request without another trip through the reactor.
  const size_t bytes = lowest().socket().read_some(buffer_.prepare(kFirstReadBytes), ec);
  if (ec == asio::error::would_block) return wait_readable(true);
  phase_ = Phase::reading;
  hold_timer_.cancel();
  if (ec == asio::error::eof) return do_close();
  if (ec) return fail(ec, fmt::format("#{} read", id_));
  buffer_.commit(bytes);
  request_started_ = std::chrono::steady_clock::now();
  // A read shorter than its buffer took all there was. Until this handler
  // returns, no turn of the reactor can have taken the socket's next edge.
  socket_drained_ = bytes < kFirstReadBytes;
  parse_buffered();
  socket_drained_ = false;
}

template <class Stream>
void HttpSession<Stream>::on_idle_timeout(beast::error_code ec) {
  // A wait cancelled by on_readable(), or one whose expiry a later wait moved on.
  if (ec || phase_ != Phase::idle || hold_timer_.expiry() > std::chrono::steady_clock::now()) return;
  edge_log().trace("#{} idle, closed", id_);
  phase_ = Phase::closed;
  lowest().close();
}

template <class Stream>
void HttpSession<Stream>::on_first_bytes(beast::error_code ec, std::size_t bytes_transferred) {
  if (!ec) buffer_.commit(bytes_transferred);
  if (phase_ == Phase::closed) return;
  phase_ = Phase::reading;
  if (ec == asio::error::eof) return do_close();
  if (ec) {
    phase_ = Phase::closing;
    if (ec == beast::error::timeout) edge_log().trace("#{} idle, closed", id_);
    return fail(ec, fmt::format("#{} read", id_));
  }
  request_started_ = std::chrono::steady_clock::now();
  parse_buffered();
}

template <class Stream>
void HttpSession<Stream>::parse_buffered() {
  // A player's request arrives whole in the first read: it is parsed here rather
  // than in Beast's read loop, whose completion takes a trip through the reactor.
  // The parser enforces the header and body limits either way.
  beast::error_code ec;
  const size_t used = parser_->put(buffer_.data(), ec);
  buffer_.consume(used);
  if (ec == http::error::need_more) return read_header();
  if (handle_read_error(ec)) return;
  if (parser_->is_done()) return on_read(ec, used);
  on_header(ec, used);
}

template <class Stream>
void HttpSession<Stream>::read_header() {
  const LiveLimits& limits = context_.limits;
  lowest().expires_at(request_started_ + std::min(limits.header_timeout(), limits.read_timeout()));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession<Stream>::on_header, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_header(beast::error_code ec, std::size_t bytes_transferred) {
  if (phase_ == Phase::closed) return;
  if (ec == beast::error::timeout) edge_log().debug("#{} {}: request header not complete in time, closed", id_, peer_);
  if (handle_read_error(ec)) return;
  if (parser_->is_done()) return on_read(ec, bytes_transferred);
  // The body limit of the request's route (a pushed segment may be larger than an API call).
  const uint64_t route_limit = context_.handler.info(context_.handler.route(parser_->get().target())).max_body_bytes;
  const uint64_t body_limit = route_limit ? route_limit : context_.limits.max_body_bytes();
  if (auto length = parser_->content_length(); length && *length > body_limit)
    return respond_and_close(http::status::payload_too_large, "request body too large");
  parser_->body_limit(body_limit);
  lowest().expires_at(request_started_ + context_.limits.read_timeout());
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession<Stream>::on_read, this->shared_from_this()));
}

template <class Stream>
bool HttpSession<Stream>::handle_read_error(beast::error_code ec) {
  if (!ec) return false;
  if (ec == http::error::end_of_stream) {
    do_close();
  } else if (ec == http::error::header_limit) {
    respond_and_close(http::status::request_header_fields_too_large, "request header too large");
  } else if (ec == http::error::body_limit) {
    respond_and_close(http::status::payload_too_large, "request body too large");
  } else if (ec != http::error::partial_message && is_http_parse_error(ec)) {
    // A message cut off by the peer has no one left to answer.
    respond_and_close(http::status::bad_request, "malformed request");
  } else {
    fail(ec, fmt::format("#{} read", id_));
  }
  return true;
}

template <class Stream>
void HttpSession<Stream>::on_read(beast::error_code ec, std::size_t) {
  if (phase_ == Phase::closed) return;
  if (handle_read_error(ec)) return;

  const auto& req = parser_->get();
  target_ = parse_request_target(req.target());
  route_ = context_.handler.route(req.target());
  client_ = context_.proxies ? context_.proxies->client_of(peer_address_, req) : peer_address_;
  Outcome outcome = context_.handler.handle(exchange());
  std::visit(
      [this](auto&& answer) {
        using T = std::decay_t<decltype(answer)>;
        if constexpr (std::is_same_v<T, Response>)
          respond(std::move(answer));
        else if constexpr (std::is_same_v<T, Hold>)
          begin_hold(answer);
        else if constexpr (std::is_same_v<T, Deferred>)
          begin_deferred(std::move(answer));
        else
          upgrade(std::move(answer));
      },
      std::move(outcome));
}

template <class Stream>
void HttpSession<Stream>::respond(Response response) {
  response_ = std::move(response);
  finish(parser_->get(), response_);
  if (draining_) response_.keep_alive(false);
  after_write_ = response_.need_eof() ? AfterWrite::close : AfterWrite::next_request;
  if (edge_log().should_log(spdlog::level::debug)) {
    const auto& req = parser_->get();
    edge_log().debug("#{} {} {} {} -> {}", id_, peer_, req.method_string(),
                     loggable_target(context_.handler.info(route_), req.target()), response_.result_int());
  }
  do_write();
}

template <class Stream>
void HttpSession<Stream>::begin_deferred(Deferred deferred) {
  phase_ = Phase::deferred;
  // The answer comes from another thread; nothing else of the connection waits
  // meanwhile, so the answer holds the session (for as long as the work takes,
  // which the work queue bounds).
  deferred.start([self = this->shared_from_this(), executor = stream_.get_executor()](Response response) {
    asio::post(executor, [self, response = std::move(response)]() mutable {
      if (self->phase_ == Phase::closed) return;
      self->respond(std::move(response));
    });
  });
}

template <class Stream>
void HttpSession<Stream>::upgrade(Upgrade upgrade) {
  const auto& req = parser_->get();
  if (upgrade.websocket) {
    // The connection becomes a WebSocket session; this HTTP session ends here.
    edge_log().debug("#{} {} upgraded to a WebSocket", id_, peer_);
    hand_over();
    std::make_shared<WebsocketSession<Stream>>(std::move(stream_), context_, std::move(upgrade.websocket),
                                               std::move(slot_))
        ->run(parser_->release());
    return;
  }
  // The connection becomes an event stream; this HTTP session ends here.
  edge_log().debug("#{} {} opened an event stream", id_, peer_);
  hand_over();
  std::make_shared<SseSession<Stream>>(std::move(stream_), context_, std::move(upgrade.events), std::move(slot_))
      ->run(req.version());
}

template <class Stream>
void HttpSession<Stream>::hand_over() {
  // The socket goes back to blocking mode, as the session taking it expects.
  if constexpr (!kTls) {
    beast::error_code ignored;
    lowest().socket().non_blocking(false, ignored);
  }
  hold_timer_.cancel();
}

template <class Stream>
void HttpSession<Stream>::begin_hold(const Hold& hold) {
  if (draining_) return respond(context_.handler.expire(exchange(), hold));
  // The wake runs on the publishing thread: it only posts, and holds the session
  // weakly so a waiter never keeps a closed connection alive.
  auto wake = [weak = this->weak_from_this(), executor = stream_.get_executor()] {
    asio::post(executor, [weak] {
      if (auto self = weak.lock()) self->on_publish();
    });
  };
  const bool held = held_.begin(
      hold, std::move(wake), hold_timer_,
      beast::bind_front_handler(&HttpSession<Stream>::on_hold_timeout, this->shared_from_this()));
  // Shutting down: nothing will be published to this edge any more.
  if (!held) return respond(context_.handler.expire(exchange(), hold));
  edge_log().trace("#{} {} held for up to {} ms", id_, parser_->get().target(), hold.timeout.count());
  phase_ = Phase::held;

  watching_ = true;
  lowest().expires_never();
  stream_.async_read_some(buffer_.prepare(kWatchBytes),
                          beast::bind_front_handler(&HttpSession<Stream>::on_watch, this->shared_from_this()));

  // A publish between routing and registering woke no one; ask again now that
  // every later publish will.
  on_publish();
}

template <class Stream>
void HttpSession<Stream>::on_publish() {
  if (phase_ != Phase::held) return;
  auto response = held_.recheck(context_.handler, exchange());
  if (!response) return;
  stop_watching();
  respond(std::move(*response));
}

template <class Stream>
void HttpSession<Stream>::on_hold_timeout(beast::error_code ec) {
  if (ec || phase_ != Phase::held) return;
  Response response = held_.expire(context_.handler, exchange());
  stop_watching();
  respond(std::move(response));
}

template <class Stream>
void HttpSession<Stream>::end_hold() {
  if (!held_.active()) return;
  held_.end();
  stop_watching();
}

template <class Stream>
void HttpSession<Stream>::stop_watching() {
  // The watch read ends with operation_aborted; a response write started after
  // this is not affected. A TLS read is left to run instead: cancelling it could
  // cut a TLS record the engine is in the middle of. It ends with the client's
  // next request, which it keeps, or with the idle timer started in on_write().
  if (watching_ && !kTls) {
    beast::error_code ignored;
    lowest().socket().cancel(ignored);
  }
}

template <class Stream>
void HttpSession<Stream>::on_watch(beast::error_code ec, std::size_t bytes_transferred) {
  watching_ = false;
  if (phase_ != Phase::held) hold_timer_.cancel();  // the idle timer of watch_idle()
  // Bytes read are the start of a pipelined request: keep them for do_read().
  if (!ec) buffer_.commit(bytes_transferred);
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::held) {
    if (!ec) return;  // a pipelined request; the deadline still bounds the hold
    // The client hung up while waiting: nobody is left to answer.
    fail(ec, fmt::format("#{} held request", id_));
    phase_ = Phase::closed;
    end_hold();
    return;
  }
  if (phase_ == Phase::after_watch) do_read();
}

template <class Stream>
void HttpSession<Stream>::respond_and_close(http::status status, std::string_view message) {
  edge_log().debug("#{} {}: {}", id_, peer_, message);
  // The target is there as soon as the request line was read, before the header is done.
  route_ = context_.handler.route(parser_ ? parser_->get().target() : std::string_view());
  response_ = refuse_early(context_.handler.info(route_), status, message);
  response_.keep_alive(false);
  after_write_ = AfterWrite::linger;
  do_write();
}

template <class Stream>
void HttpSession<Stream>::do_write() {
  phase_ = Phase::writing;
  render_head(response_, head_);
  const std::string_view body = response_.body().view();
  // Head and body as one sequence through Asio's generic write loop, which skips
  // a spent buffer (its two-element std::array loop hands Beast's ssl_stream an
  // empty first buffer, which writes nothing and ends the write without the body).
  const auto buffers = beast::buffers_cat(asio::buffer(head_), asio::buffer(body.data(), body.size()));
  const size_t total = head_.size() + body.size();
  size_t sent = 0;
  if constexpr (!kTls) {
    // A segment goes from its file, by reference to its pages.
    if (context_.body_files && body.size() >= BodyFiles::kMinBytes) {
      if (auto file = context_.body_files->get(response_.body().data())) {
        file_ = std::move(file);
        file_offset_ = static_cast<size_t>(body.data() - response_.body().data()->data());
        file_sent_ = head_sent_ = 0;
        file_deadline_set_ = false;
        return send_file();
      }
    }
    // The socket is non-blocking (see run()): a response that fits its buffer
    // leaves here, without a trip through the reactor; the rest goes out asynchronously.
    beast::error_code ec;
    sent = lowest().socket().write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      ec = {};
    else if (ec)
      return on_write(ec, 0);
    if (sent == total) return on_write(ec, sent);
  }
  lowest().expires_after(context_.limits.send_timeout(total - sent));
  beast::buffers_suffix<std::decay_t<decltype(buffers)>> rest(buffers);
  rest.consume(sent);
  asio::async_write(stream_, rest,
                   [self = this->shared_from_this(), sent](beast::error_code ec, std::size_t bytes_transferred) {
                     self->on_write(ec, sent + bytes_transferred);
                   });
}

template <class Stream>
void HttpSession<Stream>::send_file() {
  if constexpr (!kTls) {
    const int socket = lowest().socket().native_handle();
    const size_t length = response_.body().size();
    while (head_sent_ < head_.size() || file_sent_ < length) {
      ssize_t n = 0;
      if (head_sent_ < head_.size()) {
        // MSG_MORE: the head leaves in the same packet as the body's start.
        n = ::send(socket, head_.data() + head_sent_, head_.size() - head_sent_, MSG_NOSIGNAL | MSG_MORE);
        if (n > 0) head_sent_ += static_cast<size_t>(n);
      } else {
        off_t offset = static_cast<off_t>(file_offset_ + file_sent_);
        n = ::sendfile(socket, file_->fd(), &offset, length - file_sent_);
        if (n > 0) file_sent_ += static_cast<size_t>(n);
      }
      if (n > 0) continue;
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        // The socket is full: wait for it, within the write's deadline.
        if (!file_timer_) file_timer_ = std::make_unique<asio::steady_timer>(stream_.get_executor());
        if (!file_deadline_set_) {
          file_deadline_set_ = true;
          file_timer_->expires_after(context_.limits.send_timeout(length - file_sent_));
          file_timer_->async_wait([weak = this->weak_from_this()](beast::error_code ec) {
            auto self = weak.lock();
            if (ec || !self || !self->file_) return;
            edge_log().debug("#{} {}: response not taken within the write timeout, closed", self->id_, self->peer_);
            self->phase_ = Phase::closed;
            self->lowest().close();
          });
        }
        lowest().socket().async_wait(tcp::socket::wait_write, [self = this->shared_from_this()](beast::error_code ec) {
          if (ec) return self->end_file(ec);
          self->send_file();
        });
        return;
      }
      // 0: the file is shorter than its body said, which cannot be; or a send error.
      return end_file(n < 0 ? beast::error_code(errno, beast::system_category()) : asio::error::eof);
    }
    end_file({});
  }
}

template <class Stream>
void HttpSession<Stream>::end_file(beast::error_code ec) {
  file_.reset();
  if (file_timer_) file_timer_->cancel();
  on_write(ec, head_sent_ + file_sent_);
}

template <class Stream>
void HttpSession<Stream>::on_write(beast::error_code ec, std::size_t bytes_transferred) {
  // Counted even when the write failed: the bytes that did go out were sent.
  context_.stats.response_sent(context_.handler.info(route_).label, response_.result_int(), bytes_transferred);
  if (phase_ == Phase::closed) return;
  if (ec) {
    phase_ = Phase::closing;
    return fail(ec, fmt::format("#{} write", id_));
  }
  // Release the body now: a finished response must not pin a segment the store has evicted.
  response_ = {};
  head_ = std::string();
  // And the read buffer, unless it holds a pipelined request or a hang-up watch
  // is reading into it: most connections now sit idle until the player's next reload.
  if (buffer_.size() == 0 && !watching_) buffer_.shrink_to_fit();
  served_any_ = true;
  if (after_write_ == AfterWrite::linger) return do_lingering_close();
  if (after_write_ == AfterWrite::close || draining_) {
    // A TLS hang-up watch may still be reading, and a TLS shutdown would need a second read.
    if (kTls && watching_) {
      phase_ = Phase::closed;
      return lowest().close();
    }
    return do_close();
  }
  if (watching_) {
    phase_ = Phase::after_watch;
    if constexpr (kTls) watch_idle();
    return;
  }
  do_read();
}

template <class Stream>
void HttpSession<Stream>::watch_idle() {
  hold_timer_.expires_after(context_.limits.idle_timeout());
  hold_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (ec || self->phase_ == Phase::held || !self->watching_) return;
    edge_log().trace("#{} idle after a held request", self->id_);
    self->phase_ = Phase::closed;
    self->lowest().close();
  });
}

template <class Stream>
void HttpSession<Stream>::do_close() {
  phase_ = Phase::closing;
  beast::error_code ec;
  if constexpr (kTls) {
    // close_notify, then the socket closes when the session ends; a peer that
    // never answers it is cut after the linger time.
    lowest().expires_after(kLingerTime);
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
      beast::error_code ignored;
      self->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  } else {
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  }
}

template <class Stream>
void HttpSession<Stream>::do_lingering_close() {
  // TLS: close_notify tells the client the response is complete; what it still
  // sends is discarded by the TLS shutdown.
  if constexpr (kTls) return do_close();
  phase_ = Phase::lingering;
  beast::error_code ec;
  lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return;
  lowest().expires_after(kLingerTime);
  buffer_.consume(buffer_.size());
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          beast::bind_front_handler(&HttpSession<Stream>::on_linger, this->shared_from_this()));
}

template <class Stream>
void HttpSession<Stream>::on_linger(beast::error_code ec, std::size_t bytes_transferred) {
  lingered_bytes_ += bytes_transferred;
  if (ec || phase_ == Phase::closed || lingered_bytes_ > kLingerMaxBytes) return;
  stream_.async_read_some(buffer_.prepare(16 * 1024),
                          beast::bind_front_handler(&HttpSession<Stream>::on_linger, this->shared_from_this()));
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

}  // namespace relay::net
