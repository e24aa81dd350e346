#pragma once
// The TLS settings of the HTTPS port: the certificate and key from the config,
// TLS 1.2 and 1.3 only with forward-secret AEAD ciphers (Mozilla's "intermediate"
// profile, which every browser of the last years speaks), no compression and no
// renegotiation, and ALPN choosing HTTP/2 before HTTP/1.1.
#include <filesystem>
#include <memory>

#include <boost/asio/ssl/context.hpp>

namespace relay::net {

// Throws std::runtime_error with one line naming the file and what is wrong with it.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const std::filesystem::path& cert_file,
                                                            const std::filesystem::path& key_file, bool offer_h2);

// True when the handshake on `ssl` chose HTTP/2.
bool negotiated_h2(const SSL* ssl);

}  // namespace relay::net
