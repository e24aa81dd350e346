#pragma once
// Accepts connections and gives each its session: an HttpSession on the plain
// port; on the TLS port, after the handshake, an HttpSession over TLS or, when
// ALPN chose HTTP/2, an Http2Session. Connections go round-robin to the workers'
// executors, each run by one thread, so a session's handlers never run concurrently.
#include <cstddef>
#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "net/connection_limiter.hpp"
#include "net/http_session.hpp"
#include "net/tls_context.hpp"

namespace relay::net {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // The acceptor is already bound and listening (so bind errors surface in
  // Server::start on the caller's thread); its executor must be single-threaded.
  // `workers` (at least one) are where the sessions go, each run by one thread.
  // With `tls`, which must outlive the listener, connections are TLS, each with
  // the context current when it is accepted.
  Listener(std::vector<boost::asio::any_io_executor> workers, boost::asio::ip::tcp::acceptor acceptor,
           const SessionContext& context, const TlsContexts* tls = nullptr);

  void run();
  // Safe from any thread: closes the acceptor on its strand.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void start_session(boost::asio::ip::tcp::socket socket);
  void start_tls(boost::asio::ip::tcp::socket socket, ConnectionSlot slot);
  const boost::asio::any_io_executor& next_worker();

  std::vector<boost::asio::any_io_executor> workers_;
  size_t next_worker_ = 0;
  boost::asio::ip::tcp::acceptor acceptor_;
  // Backoff after accept errors such as EMFILE, which would otherwise repeat at once, forever.
  boost::asio::steady_timer retry_timer_;
  const SessionContext& context_;
  const TlsContexts* tls_;
  bool stopped_ = false;
};

}  // namespace relay::net
