#pragma once
// Bearer tokens: attendee tokens are minted here from the system's CSPRNG; every
// token is kept and compared only as its SHA-256 digest, and role tokens are
// compared in constant time.
#include <array>
#include <string>
#include <string_view>

namespace relay::auth {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view text);
std::string to_hex(const Digest& digest);
// 32 random bytes as 64 hex characters.
std::string random_token();
// 8 random bytes as 16 hex characters, e.g. for the process epoch.
std::string random_id();
bool digests_equal(const Digest& a, const Digest& b);  // constant time

}  // namespace relay::auth
