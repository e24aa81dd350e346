#include "net/fast_path.hpp"

#include <cstdlib>
#include <string_view>

namespace relay::net::fast_path {
namespace detail {
namespace {

bool from_environment() {
  const char* value = std::getenv("SEMINAR_RELAY_FAST_PATH");
  return !(value && std::string_view(value) == "0");
}

}  // namespace

bool g_enabled = from_environment();

}  // namespace detail

void set_enabled(bool on) noexcept { detail::g_enabled = on; }

}  // namespace relay::net::fast_path
