#include "edge/fail.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include "common/log.hpp"

namespace relay::edge {

void fail(boost::beast::error_code ec, std::string_view what) {
  namespace net = boost::asio;
  if (ec == net::error::operation_aborted || ec == boost::beast::http::error::end_of_stream) return;
  static const auto log = relay::log::get("edge");
  // Idle keep-alive timeouts, players aborting a download and pages leaving a live
  // feed are routine on a public edge.
  if (ec == boost::beast::error::timeout || ec == net::error::connection_reset || ec == net::error::broken_pipe ||
      ec == net::error::not_connected ||
      ec == net::error::eof || ec == boost::beast::http::error::partial_message ||
      // Scanners, plain HTTP sent to the TLS port, clients that vanish mid-TLS.
      ec.category() == net::error::get_ssl_category() || ec == net::ssl::error::stream_truncated) {
    log->debug("{}: {}", what, ec.message());
    return;
  }
  log->warn("{}: {}", what, ec.message());
}

}  // namespace relay::edge
