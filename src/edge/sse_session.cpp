#include "edge/sse_session.hpp"

#include <atomic>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <fmt/format.h>

#include "edge/fail.hpp"
#include "edge/router.hpp"

namespace relay::edge {
namespace beast = boost::beast;
namespace net = boost::asio;

namespace {
// Apart from the HTTP sessions' and WebSocket sessions' ids in the registry.
std::atomic<uint64_t> g_next_sse_id{uint64_t{3} << 61};
}  // namespace

template <class Stream>
SseSession<Stream>::SseSession(Stream&& stream, const SseContext& context, ConnectionSlot slot)
    : stream_(std::move(stream)),
      timer_(stream_.get_executor()),
      context_(context),
      id_(g_next_sse_id.fetch_add(1)),
      slot_(std::move(slot)) {}

template <class Stream>
SseSession<Stream>::~SseSession() { context_.registry.remove(id_); }

template <class Stream>
void SseSession<Stream>::run(unsigned http_version) {
  if (!context_.registry.add(id_, this->weak_from_this())) return;
  net::dispatch(stream_.get_executor(), [self = this->shared_from_this(), http_version] {
    // No Content-Length: the body is the stream, ended by closing the connection.
    std::string header = fmt::format(
        "HTTP/{}.{} 200 OK\r\nServer: {}\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        http_version / 10, http_version % 10, kServerName);
    self->write(header + fmt::format("retry: 2000\n\ndata: {}\n\n", self->context_.next_event(true)));
  });
}

template <class Stream>
void SseSession<Stream>::close() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->closed_ = true;
    self->timer_.cancel();
    beast::get_lowest_layer(self->stream_).close();
  });
}

template <class Stream>
void SseSession<Stream>::write(std::string text) {
  out_ = std::move(text);
  beast::get_lowest_layer(stream_).expires_after(context_.write_timeout);
  net::async_write(stream_, net::buffer(out_), beast::bind_front_handler(&SseSession<Stream>::on_write, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_write(beast::error_code ec, std::size_t) {
  if (closed_) return;
  if (ec) return fail(ec, fmt::format("#{} event stream", id_));
  timer_.expires_after(context_.interval);
  timer_.async_wait(beast::bind_front_handler(&SseSession<Stream>::on_timer, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_timer(beast::error_code ec) {
  if (ec || closed_) return;
  write(fmt::format("data: {}\n\n", context_.next_event(false)));
}

template class SseSession<PlainStream>;
template class SseSession<TlsStream>;

}  // namespace relay::edge
