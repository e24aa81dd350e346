#pragma once
// Accepts connections and gives each its own strand and HttpSession.
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "edge/http_session.hpp"

namespace relay::edge {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // The acceptor is already bound and listening (so bind errors surface in
  // Server::start on the caller's thread) and runs on its own strand.
  Listener(boost::asio::io_context& ioc, boost::asio::ip::tcp::acceptor acceptor, const SessionContext& context);

  void run();
  // Safe from any thread: closes the acceptor on its strand.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  // Backoff after accept errors such as EMFILE, which would otherwise repeat at once, forever.
  boost::asio::steady_timer retry_timer_;
  const SessionContext& context_;
  bool stopped_ = false;
};

}  // namespace relay::edge
