#include "auth/tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "common/text.hpp"

namespace relay::auth {
namespace {

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1)
    throw std::runtime_error("the system random generator failed");
  return text::hex_encode(buffer.data(), buffer.size());
}

}  // namespace

Digest sha256(std::string_view text) {
  Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size())
    throw std::runtime_error("SHA-256 failed");
  return digest;
}

std::string to_hex(const Digest& digest) { return text::hex_encode(digest.data(), digest.size()); }

std::string random_token() { return random_hex(32); }

std::string random_id() { return random_hex(8); }

bool digests_equal(const Digest& a, const Digest& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

}  // namespace relay::auth
