// TlsContexts: a renewed certificate reaches new connections, a bad one leaves
// the running one in place, and a connection keeps the context it began with.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/tls_context.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using relay::net::describe_certificate;
using relay::net::TlsContexts;

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(FILE* p) const { std::fclose(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

// A self-signed P-256 certificate for `name`, written as cert.pem and key.pem under `folder`.
void make_pair(const fs::path& folder, const char* name) {
  fs::create_directories(folder);
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  Owned<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  Owned<FILE> cert_file(std::fopen((folder / "cert.pem").c_str(), "w"));
  REQUIRE(cert_file);
  REQUIRE(PEM_write_X509(cert_file.get(), cert.get()) == 1);
  Owned<FILE> key_file(std::fopen((folder / "key.pem").c_str(), "w"));
  REQUIRE(key_file);
  REQUIRE(PEM_write_PrivateKey(key_file.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
}

std::string served_by(boost::asio::ssl::context& context) { return describe_certificate(context); }

struct Folder {
  fs::path path = fs::temp_directory_path() / ("relay-tls-" + std::to_string(::getpid()));
  Folder() { fs::remove_all(path); }
  ~Folder() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("a reload swaps in a renewed certificate; a connection keeps the one it began with", "[tls]") {
  Folder tmp;
  make_pair(tmp.path / "a", "first.example");
  make_pair(tmp.path / "b", "renewed.example");
  TlsContexts contexts(tmp.path / "a" / "cert.pem", tmp.path / "a" / "key.pem", true);
  auto first = contexts.current();
  CHECK_THAT(served_by(*first), Contains("CN=first.example") && Contains("valid until"));
  Owned<SSL> open_connection(SSL_new(first->native_handle()));
  first.reset();

  const std::string line = contexts.reload(tmp.path / "b" / "cert.pem", tmp.path / "b" / "key.pem");
  CHECK_THAT(line, Contains("CN=renewed.example"));
  CHECK_THAT(served_by(*contexts.current()), Contains("CN=renewed.example"));
  // The open connection's context is the old one, still alive through its SSL.
  X509* kept = SSL_CTX_get0_certificate(SSL_get_SSL_CTX(open_connection.get()));
  REQUIRE(kept);
  char subject[128];
  X509_NAME_oneline(X509_get_subject_name(kept), subject, sizeof subject);
  CHECK(std::string(subject) == "/CN=first.example");
}

TEST_CASE("a certificate that does not load leaves the running one", "[tls]") {
  Folder tmp;
  make_pair(tmp.path / "a", "running.example");
  make_pair(tmp.path / "b", "other.example");
  TlsContexts contexts(tmp.path / "a" / "cert.pem", tmp.path / "a" / "key.pem", true);

  // A renewal caught half way: the new certificate with the old key.
  CHECK_THROWS_WITH(contexts.reload(tmp.path / "b" / "cert.pem", tmp.path / "a" / "key.pem"),
                    Contains("edge.tls_key_file") && Contains("does not belong to the certificate"));
  CHECK_THROWS_WITH(contexts.reload(tmp.path / "missing.pem", tmp.path / "a" / "key.pem"),
                    Contains("edge.tls_cert_file") && Contains("no such file"));
  CHECK_THROWS_WITH(contexts.reload(tmp.path / "a" / "key.pem", tmp.path / "a" / "key.pem"),
                    Contains("not a PEM certificate"));
  CHECK_THAT(served_by(*contexts.current()), Contains("CN=running.example"));
}
