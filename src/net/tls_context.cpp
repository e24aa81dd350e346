#include "net/tls_context.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace relay::net {
namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites of the intermediate profile; TLS 1.3 has its own, all good.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// ALPN protocol lists in wire format: a length byte before each name.
constexpr unsigned char kH2AndHttp11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned int in_len,
                void* offer_h2) {
  const bool h2 = offer_h2 != nullptr;
  const unsigned char* ours = h2 ? kH2AndHttp11 : kHttp11;
  const unsigned int ours_len = h2 ? sizeof kH2AndHttp11 : sizeof kHttp11;
  // Our order wins: HTTP/2 whenever the client offers it.
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, ours, ours_len, in, in_len) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;  // a client without a protocol in common gets HTTP/1.1 without ALPN
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

std::unique_ptr<ssl::context> make_tls_context(const std::filesystem::path& cert_file,
                                               const std::filesystem::path& key_file, bool offer_h2) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1)
    throw std::runtime_error("TLS: cipher list refused: " + openssl_reason());
  // Fewer round trips for returning viewers; tickets are rotated by OpenSSL per process.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);

  auto unreadable = [](std::string_view key, const std::filesystem::path& file, std::string_view what) {
    return std::runtime_error(fmt::format("edge.{} {}: {}", key, file.string(), what));
  };
  if (!std::filesystem::is_regular_file(cert_file)) throw unreadable("tls_cert_file", cert_file, "no such file");
  if (!std::filesystem::is_regular_file(key_file)) throw unreadable("tls_key_file", key_file, "no such file");
  // A key with a passphrase would otherwise make OpenSSL ask for it on the terminal.
  SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    throw unreadable("tls_cert_file", cert_file, "not a PEM certificate (" + openssl_reason() + ")");
  constexpr std::string_view kNotItsKey = "does not belong to the certificate in edge.tls_cert_file";
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // A key of another certificate (a renewal caught between its two files) is
    // refused here already, with OpenSSL's "key values mismatch".
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      throw unreadable("tls_key_file", key_file, kNotItsKey);
    }
    throw unreadable("tls_key_file", key_file,
                     "not a PEM private key without passphrase (" + openssl_reason() + ")");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    throw unreadable("tls_key_file", key_file, kNotItsKey);
  }

  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, offer_h2 ? reinterpret_cast<void*>(1) : nullptr);
  return context;
}

TlsContexts::TlsContexts(const std::filesystem::path& cert_file, const std::filesystem::path& key_file,
                         bool offer_h2)
    : offer_h2_(offer_h2), current_(make_tls_context(cert_file, key_file, offer_h2)) {}

std::shared_ptr<ssl::context> TlsContexts::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::string TlsContexts::reload(const std::filesystem::path& cert_file, const std::filesystem::path& key_file) {
  std::shared_ptr<ssl::context> renewed = make_tls_context(cert_file, key_file, offer_h2_);
  std::string served = describe_certificate(*renewed);
  std::lock_guard lock(mutex_);
  // The old context lives on in the connections that use it (each SSL holds its SSL_CTX).
  current_ = std::move(renewed);
  return served;
}

std::string describe_certificate(ssl::context& context) {
  const X509* cert = SSL_CTX_get0_certificate(context.native_handle());
  if (!cert) return "no certificate";
  std::string subject = "?";
  if (char* line = X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0)) {
    subject = line;
    OPENSSL_free(line);
  }
  std::string until = "?";
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
      char* data = nullptr;
      const long length = BIO_get_mem_data(bio, &data);
      if (length > 0) until.assign(data, static_cast<size_t>(length));
    }
    BIO_free(bio);
  }
  return fmt::format("{}, valid until {}", subject, until);
}

bool negotiated_h2(const SSL* ssl) {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &protocol, &length);
  return length == 2 && std::memcmp(protocol, "h2", 2) == 0;
}

}  // namespace relay::net
