#pragma once
// Accepts connections and gives each its own strand and session: an HttpSession
// on the plain port; on the TLS port, after the handshake, an HttpSession over
// TLS or, when ALPN chose HTTP/2, an Http2Session.
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "edge/connection_limiter.hpp"
#include "edge/http_session.hpp"

namespace relay::edge {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // The acceptor is already bound and listening (so bind errors surface in
  // Server::start on the caller's thread) and runs on its own strand.
  // With `tls`, which must outlive the listener and its sessions, connections are TLS.
  Listener(boost::asio::io_context& ioc, boost::asio::ip::tcp::acceptor acceptor, const SessionContext& context,
           boost::asio::ssl::context* tls = nullptr);

  void run();
  // Safe from any thread: closes the acceptor on its strand.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void start_tls(boost::asio::ip::tcp::socket socket, ConnectionSlot slot);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  // Backoff after accept errors such as EMFILE, which would otherwise repeat at once, forever.
  boost::asio::steady_timer retry_timer_;
  const SessionContext& context_;
  boost::asio::ssl::context* tls_;
  bool stopped_ = false;
};

}  // namespace relay::edge
