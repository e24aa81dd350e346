#pragma once
// The one place I/O errors are reported. Cancellations and orderly closes are how
// connections normally end, so they stay silent.
#include <string_view>

#include <boost/beast/core/error.hpp>

namespace relay::net {

void fail(boost::beast::error_code ec, std::string_view what);

}  // namespace relay::net
