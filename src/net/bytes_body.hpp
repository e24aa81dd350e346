#pragma once
// A Beast body that sends a window of shared, immutable bytes. A segment is held
// once in the store and may be sent to thousands of players at the same time, so
// a response must point into it rather than copy it.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include "common/bytes.hpp"

namespace relay::net {

struct BytesBody {
  class value_type {
   public:
    value_type() = default;
    explicit value_type(Bytes data) : value_type(std::move(data), 0, SIZE_MAX) {}
    // The window is clamped to the data, so callers need not check it twice.
    value_type(Bytes data, size_t offset, size_t length) : data_(std::move(data)) {
      size_t size = data_ ? data_->size() : 0;
      offset_ = offset < size ? offset : size;
      length_ = length < size - offset_ ? length : size - offset_;
    }

    size_t size() const { return length_; }
    std::string_view view() const {
      return data_ ? std::string_view(*data_).substr(offset_, length_) : std::string_view();
    }
    const Bytes& data() const { return data_; }

   private:
    Bytes data_;
    size_t offset_ = 0;
    size_t length_ = 0;
  };

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (body_.size() == 0) return boost::none;
      std::string_view v = body_.view();
      return {{const_buffers_type(v.data(), v.size()), false}};
    }

   private:
    const value_type& body_;
  };
};

}  // namespace relay::net
