#include "net/sse_session.hpp"

#include <atomic>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <fmt/format.h>

#include "net/connection_registry.hpp"
#include "net/fail.hpp"
#include "net/http_types.hpp"

namespace relay::net {
namespace beast = boost::beast;
namespace asio = boost::asio;

namespace {
// Apart from the HTTP sessions' and WebSocket sessions' ids in the registry.
std::atomic<uint64_t> g_next_sse_id{uint64_t{3} << 61};
}  // namespace

template <class Stream>
SseSession<Stream>::SseSession(Stream&& stream, const SessionContext& context, std::shared_ptr<EventSource> source,
                               ConnectionSlot slot)
    : stream_(std::move(stream)),
      timer_(stream_.get_executor()),
      context_(context),
      source_(std::move(source)),
      id_(g_next_sse_id.fetch_add(1)),
      slot_(std::move(slot)) {}

template <class Stream>
SseSession<Stream>::~SseSession() { context_.registry.remove(id_); }

template <class Stream>
void SseSession<Stream>::run(unsigned http_version) {
  if (!context_.registry.add(id_, this->weak_from_this())) return;
  asio::dispatch(stream_.get_executor(), [self = this->shared_from_this(), http_version] {
    // No Content-Length: the body is the stream, ended by closing the connection.
    std::string header = fmt::format(
        "HTTP/{}.{} 200 OK\r\nServer: {}\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        http_version / 10, http_version % 10, kServerName);
    self->write_next(true, std::move(header));
  });
}

template <class Stream>
void SseSession<Stream>::close() {
  asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->closed_ = true;
    self->timer_.cancel();
    beast::get_lowest_layer(self->stream_).close();
  });
}

template <class Stream>
void SseSession<Stream>::write_next(bool first, std::string prefix) {
  auto event = source_->next(first);
  if (!event) {
    closed_ = true;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    return;
  }
  out_ = std::move(prefix);
  out_ += frame_event(*event, first);
  beast::get_lowest_layer(stream_).expires_after(source_->write_timeout);
  asio::async_write(stream_, asio::buffer(out_), beast::bind_front_handler(&SseSession<Stream>::on_write, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_write(beast::error_code ec, std::size_t) {
  if (closed_) return;
  if (ec) return fail(ec, fmt::format("#{} event stream", id_));
  timer_.expires_after(source_->interval);
  timer_.async_wait(beast::bind_front_handler(&SseSession<Stream>::on_timer, this->shared_from_this()));
}

template <class Stream>
void SseSession<Stream>::on_timer(beast::error_code ec) {
  if (ec || closed_) return;
  write_next(false);
}

template class SseSession<PlainStream>;
template class SseSession<TlsStream>;

}  // namespace relay::net
