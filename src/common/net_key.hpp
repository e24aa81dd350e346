#pragma once
// The network a client address stands for, where one client owns many
// addresses: an IPv6 host usually gets a whole /64 and can pick a fresh address
// for every request, so limits meant per client count IPv6 per /64. IPv4 (also
// mapped into IPv6 as ::ffff:a.b.c.d) counts per address.
#include <string>
#include <string_view>

namespace relay {

// "2001:db8:1:2::/64" for an IPv6 address, the address itself for IPv4 ("10.0.0.7"
// also for "::ffff:10.0.0.7"), the text unchanged if it is neither.
std::string network_key(std::string_view address);

}  // namespace relay
