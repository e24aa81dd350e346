#include "net/fail.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "common/log.hpp"

namespace relay::net {

void fail(boost::beast::error_code ec, std::string_view what) {
  namespace asio = boost::asio;
  if (ec == asio::error::operation_aborted || ec == boost::beast::http::error::end_of_stream) return;
  static const auto log = relay::log::get("edge");
  // Idle keep-alive timeouts, players aborting a download and pages leaving a live
  // feed are routine on a public edge.
  if (ec == boost::beast::error::timeout || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
      ec == asio::error::not_connected ||
      ec == asio::error::eof || ec == boost::beast::http::error::partial_message ||
      // Scanners, plain HTTP sent to the TLS port, clients that vanish mid-TLS.
      ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated) {
    log->debug("{}: {}", what, ec.message());
    return;
  }
  log->warn("{}: {}", what, ec.message());
}

}  // namespace relay::net
