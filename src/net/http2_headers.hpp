#pragma once
// Header blocks between HTTP/2 and the Beast messages the routes work on: the
// fields of a request's HEADERS frame become a Beast request (the pseudo-header
// fields its method, target and Host), and a Beast response becomes the field
// list nghttp2 sends, lower-case and without the connection-specific fields that
// HTTP/2 forbids (RFC 9113 8.2.2). No I/O, so it is unit-tested directly.
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nghttp2/nghttp2.h>

#include "net/http_types.hpp"

namespace relay::net {

// The version the routes see on a request that came over HTTP/2.
inline constexpr unsigned kHttp2Version = 20;

// Builds the Beast request of one HTTP/2 stream from its header block, field by
// field as nghttp2 decodes them. ":method", ":path" and ":authority" become the
// method, the target and Host; ":scheme" is implied by the port; "cookie"
// fields, which HTTP/2 may split, are joined again (RFC 9113 8.2.3). nghttp2
// checks the block's rules too; this keeps the routes safe on their own.
class Http2RequestBuilder {
 public:
  Http2RequestBuilder() { req_.version(kHttp2Version); }

  // False for a field a request must not carry: an unknown or repeated
  // pseudo-header, one after a regular field, or a connection-specific field.
  bool add(std::string_view name, std::string_view value);
  // True once the block had what every request needs: a method and, except for
  // CONNECT, a path starting with '/' (or "*" for OPTIONS).
  bool complete() const;

  Request& request() { return req_; }
  const Request& request() const { return req_; }

 private:
  enum Seen : unsigned { kMethod = 1, kPath = 2, kAuthority = 4, kScheme = 8, kRegular = 16 };
  Request req_;
  unsigned seen_ = 0;
};

// Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding and Upgrade: they
// describe one HTTP/1.1 hop and make an HTTP/2 message malformed.
bool is_connection_specific(std::string_view name);

// The field list of a response's HEADERS frame: ":status" first, then the
// response's fields with lower-case names. The nghttp2_nv entries point into
// `storage`, so the block must not be copied or outlive it; nghttp2 copies the
// fields when the response is submitted. assign() reuses the block's memory, so
// a block kept per thread makes no allocation per response.
class ResponseHeaderBlock {
 public:
  ResponseHeaderBlock() = default;
  explicit ResponseHeaderBlock(const Response::header_type& res) { assign(res); }
  ResponseHeaderBlock(const ResponseHeaderBlock&) = delete;
  ResponseHeaderBlock& operator=(const ResponseHeaderBlock&) = delete;

  void assign(const Response::header_type& res);

  const nghttp2_nv* data() const { return fields_.data(); }
  size_t size() const { return fields_.size(); }
  // For tests and logs: the i-th field's name and value.
  std::string_view name(size_t i) const;
  std::string_view value(size_t i) const;

 private:
  std::string storage_;
  std::vector<nghttp2_nv> fields_;
};

}  // namespace relay::net
