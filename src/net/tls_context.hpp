#pragma once
// The TLS settings of the HTTPS port: the certificate and key from the config,
// TLS 1.2 and 1.3 only with forward-secret AEAD ciphers (Mozilla's "intermediate"
// profile, which every browser of the last years speaks), no compression and no
// renegotiation, and ALPN choosing HTTP/2 before HTTP/1.1.
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace relay::net {

// Throws std::runtime_error with one line naming the file and what is wrong with it.
std::unique_ptr<boost::asio::ssl::context> make_tls_context(const std::filesystem::path& cert_file,
                                                            const std::filesystem::path& key_file, bool offer_h2);

// The HTTPS port's context, renewable while serving (an ACME client's renewal
// and a SIGHUP): each new connection takes the context current at its accept,
// an open connection keeps the one it began with, so nobody is dropped.
class TlsContexts {
 public:
  // Throws as make_tls_context.
  TlsContexts(const std::filesystem::path& cert_file, const std::filesystem::path& key_file, bool offer_h2);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Reads the files again and swaps the new context in; returns a line for the
  // log naming the certificate now served. Throws as make_tls_context, and then
  // the current context stays. Any thread.
  std::string reload(const std::filesystem::path& cert_file, const std::filesystem::path& key_file);

 private:
  const bool offer_h2_;
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
};

// "CN=example.org, valid until Mar  1 12:00:00 2027 GMT": which certificate a context serves.
std::string describe_certificate(boost::asio::ssl::context& context);

// True when the handshake on `ssl` chose HTTP/2.
bool negotiated_h2(const SSL* ssl);

}  // namespace relay::net
