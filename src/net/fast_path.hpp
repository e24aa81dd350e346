#pragma once
// The transport's performance trick that reaches into another library, with its
// plain fallback: wait_after_would_block(), a readiness wait queued on Asio's
// epoll reactor without the epoll_ctl that socket::async_wait makes on every
// wait. It is compiled in only for the Asio it was written against, and
// SEMINAR_RELAY_FAST_PATH=0 in the environment turns it off at start for an A/B
// measurement. Why, and what it was measured to save: docs/performance.md, "Fast path".
#include <cstddef>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/version.hpp>

#if BOOST_VERSION == 107400 && defined(BOOST_ASIO_HAS_EPOLL)
#define RELAY_FAST_PATH_REACTOR_WAIT 1
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#endif

namespace relay::net::fast_path {

// Whether the reactor wait is compiled in (Debian 12's Boost 1.74, epoll).
#if RELAY_FAST_PATH_REACTOR_WAIT
inline constexpr bool kReactorWaitCompiled = true;
#else
inline constexpr bool kReactorWaitCompiled = false;
#endif

namespace detail {
// Set before main() from SEMINAR_RELAY_FAST_PATH (fast_path.cpp); one load per use.
extern bool g_enabled;
}  // namespace detail

// False when SEMINAR_RELAY_FAST_PATH=0 was set at start (or set_enabled(false)).
inline bool enabled() noexcept { return detail::g_enabled; }
// For tests, before any session runs: the flag is read without synchronisation.
void set_enabled(bool on) noexcept;

#if RELAY_FAST_PATH_REACTOR_WAIT
namespace detail {

namespace asio_detail = boost::asio::detail;

// The reactor's per-descriptor state lives in the socket's implementation, which
// basic_socket keeps protected.
struct SocketAccess : boost::asio::ip::tcp::socket {
  static auto& implementation(boost::asio::ip::tcp::socket& socket) {
    return (socket.*(&SocketAccess::impl_)).get_implementation();
  }
};

// Done on the first readiness the reactor reports once it is queued. While it is
// being started the reactor may call perform() as it would try a read before
// queuing one: that call says "not yet", because the caller's own read just did.
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

}  // namespace detail
#endif

// Calls handler(error_code) on the socket's executor once the socket is readable
// (wait_read) or writable (wait_write) again; as socket.async_wait, but without
// re-arming the descriptor in epoll. Only valid when
//  - the caller's last read (write) on this socket, in this same handler, found it
//    empty (full): EAGAIN, or a read shorter than its buffer; and
//  - the socket's io_context is run by one thread,
// so that whatever arrives after that read is a new edge for the next epoll_wait.
template <class Handler>
void wait_after_would_block(boost::asio::ip::tcp::socket& socket, boost::asio::socket_base::wait_type type,
                            Handler handler) {
#if RELAY_FAST_PATH_REACTOR_WAIT
  if (enabled()) {
    namespace d = detail;
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
    return;
  }
#endif
  socket.async_wait(type, std::move(handler));
}

}  // namespace relay::net::fast_path
