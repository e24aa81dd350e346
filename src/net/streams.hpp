#pragma once
// The two kinds of connection the edge serves: plain TCP and TLS over TCP. The
// sessions are templates over these, so the HTTP/1.1 routes, the Q&A WebSocket
// and the dashboard's event stream work the same on the plain and the TLS port.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace relay::net {

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

}  // namespace relay::net
