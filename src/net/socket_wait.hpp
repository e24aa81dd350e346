#pragma once
// Waiting for a socket that a read or write just found empty or full, without a
// system call.
//
// Asio's socket::async_wait does not know that the caller has just run into
// EAGAIN, so its epoll reactor re-arms the descriptor (epoll_ctl MOD) on every
// wait, which makes an edge-triggered report of readiness that is already there.
// A connection that waits for its next request after each response paid one
// epoll_ctl per request (and under many connections, the epoll tree's cache
// misses), on top of the read and the write. nginx registers each socket once,
// edge-triggered, and never touches it again.
//
// wait_after_would_block() queues the wait on the reactor the way a read or write
// that would block queues itself: no epoll_ctl (but once per connection, to add
// EPOLLOUT for the first write wait). The descriptor is registered edge-triggered
// for input from the start, so anything that arrives after the caller's EAGAIN is
// a new edge, reported by the next epoll_wait. That is only true when
//  - the caller's last read (or write) on this socket, in this same handler, found
//    it empty (full): EAGAIN, or a read shorter than its buffer; and
//  - the socket's io_context is run by one thread, so no epoll_wait can run, and
//    drop the edge, between that read and the wait being queued.
// Both hold for the edge's sessions (one io_context per worker thread).
//
// This reaches into Asio's reactor, so it is only built for the Asio it was
// written against (Boost 1.74, Debian 12's, with epoll); any other falls back to
// socket.async_wait.
#include <cstddef>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION == 107400 && defined(BOOST_ASIO_HAS_EPOLL)
#define RELAY_SOCKET_WAIT_IN_REACTOR 1
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#endif

namespace relay::net {

#if RELAY_SOCKET_WAIT_IN_REACTOR
namespace socket_wait_detail {

namespace asio_detail = boost::asio::detail;

// The reactor's per-descriptor state lives in the socket's implementation, which
// basic_socket keeps protected.
struct SocketAccess : boost::asio::ip::tcp::socket {
  static auto& implementation(boost::asio::ip::tcp::socket& socket) {
    return (socket.*(&SocketAccess::impl_)).get_implementation();
  }
};

// A reactor operation that is done on the first readiness the reactor reports
// once it is queued. While it is being started the reactor may call perform() as
// it would try a read before queuing one: that call says "not yet", because the
// caller's own read has just said so.
template <class Handler>
class WaitOp final : public asio_detail::reactor_op {
 public:
  explicit WaitOp(Handler handler)
      : reactor_op(boost::system::error_code(), &WaitOp::do_perform, &WaitOp::do_complete),
        handler_(std::move(handler)) {}

  // After start_op: from now on a call of perform() is the reactor reporting readiness.
  void started() { started_ = true; }

 private:
  static status do_perform(reactor_op* base) { return static_cast<WaitOp*>(base)->started_ ? done : not_done; }

  // owner is null when the io_context is destroyed with the wait still queued:
  // the handler is destroyed, not called. A closed socket completes the wait with
  // operation_aborted, as async_wait does.
  static void do_complete(void* owner, asio_detail::operation* base, const boost::system::error_code&,
                          std::size_t) {
    auto* op = static_cast<WaitOp*>(base);
    Handler handler(std::move(op->handler_));
    const boost::system::error_code ec = op->ec_;
    delete op;
    if (owner) handler(ec);
  }

  Handler handler_;
  bool started_ = false;
};

}  // namespace socket_wait_detail
#endif

// Calls handler(error_code) on the socket's executor once the socket is readable
// (wait_read) or writable (wait_write) again. See above for when it may be used.
template <class Handler>
void wait_after_would_block(boost::asio::ip::tcp::socket& socket, boost::asio::socket_base::wait_type type,
                            Handler handler) {
#if RELAY_SOCKET_WAIT_IN_REACTOR
  namespace d = socket_wait_detail;
  auto& context = boost::asio::query(socket.get_executor(), boost::asio::execution::context);
  auto& reactor = boost::asio::use_service<d::asio_detail::reactor>(context);
  auto& impl = d::SocketAccess::implementation(socket);
  const int op_type = type == boost::asio::socket_base::wait_write ? d::asio_detail::reactor::write_op
                                                                   : d::asio_detail::reactor::read_op;
  auto* op = new d::WaitOp<Handler>(std::move(handler));
  // Queued, or posted to complete at once (a closed socket): either way it runs
  // on this thread later, so it is still there to be told.
  reactor.start_op(op_type, impl.socket_, impl.reactor_data_, op, false, true);
  op->started();
#else
  socket.async_wait(type, std::move(handler));
#endif
}

}  // namespace relay::net
