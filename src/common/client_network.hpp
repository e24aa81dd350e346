#pragma once
// The network a client address belongs to, as every per-client limit counts it
// (open connections, new Q&A identities, network bans). One client usually owns
// one IPv4 address but a whole IPv6 /64, from which it can pick a fresh address
// for every request; counting per /64 stops it from looking like many clients.
#include <string>
#include <string_view>

namespace relay {

// "2001:db8:1:2::/64" for an IPv6 address, the address itself for IPv4 (also
// when mapped into IPv6 as ::ffff:a.b.c.d), the text unchanged if it is neither.
std::string client_network(std::string_view address);

}  // namespace relay
