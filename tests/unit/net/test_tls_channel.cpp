// TlsChannel: a server connection whose handshake ran over a BIO pair (as
// Asio's ssl::stream does it) is taken over and talks to a real OpenSSL client.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/tls_channel.hpp"

using relay::net::TlsChannel;

namespace {

struct Free {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
  void operator()(SSL* p) const { SSL_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

// A server context with a self-signed P-256 certificate made here.
Owned<SSL_CTX> server_context() {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  Owned<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  Owned<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  REQUIRE(SSL_CTX_use_certificate(ctx.get(), cert.get()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(ctx.get(), key.get()) == 1);
  return ctx;
}

// Both ends of a connection, each behind a BIO pair; pump() carries the bytes.
struct Link {
  Owned<SSL_CTX> server_ctx = server_context();
  Owned<SSL_CTX> client_ctx{SSL_CTX_new(TLS_client_method())};
  SSL* server = nullptr;  // owned by `server_owner` until a TlsChannel takes a reference
  Owned<SSL> server_owner;
  Owned<SSL> client;
  BIO* server_outside = nullptr;
  BIO* client_outside = nullptr;
  Owned<BIO> server_outside_owner, client_outside_owner;

  Link() {
    server_owner.reset(SSL_new(server_ctx.get()));
    server = server_owner.get();
    client.reset(SSL_new(client_ctx.get()));
    BIO *inside = nullptr, *outside = nullptr;
    REQUIRE(BIO_new_bio_pair(&inside, 0, &outside, 0) == 1);
    SSL_set_bio(server, inside, inside);
    server_outside = outside;
    server_outside_owner.reset(outside);
    REQUIRE(BIO_new_bio_pair(&inside, 0, &outside, 0) == 1);
    SSL_set_bio(client.get(), inside, inside);
    client_outside = outside;
    client_outside_owner.reset(outside);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client.get());
  }

  static std::string drain(BIO* outside) {
    std::string bytes;
    char buffer[4096];
    int n;
    while ((n = BIO_read(outside, buffer, sizeof buffer)) > 0) bytes.append(buffer, static_cast<size_t>(n));
    return bytes;
  }
  static void put(BIO* outside, const std::string& bytes) {
    if (!bytes.empty()) REQUIRE(BIO_write(outside, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size()));
  }

  void handshake() {
    for (int round = 0; round < 20; ++round) {
      const int c = SSL_do_handshake(client.get());
      put(server_outside, drain(client_outside));
      const int s = SSL_do_handshake(server);
      put(client_outside, drain(server_outside));
      if (c == 1 && s == 1) return;
    }
    FAIL("no handshake");
  }

  // What the client decrypts from `ciphertext`.
  std::string client_reads(const std::string& ciphertext) {
    std::string plain;
    size_t at = 0;
    char buffer[16384];
    for (;;) {
      // The client's BIO pair holds 17 KiB: feed it in portions.
      if (at < ciphertext.size()) {
        const int n = BIO_write(client_outside, ciphertext.data() + at, static_cast<int>(ciphertext.size() - at));
        if (n > 0) at += static_cast<size_t>(n);
      }
      size_t got = 0;
      if (SSL_read_ex(client.get(), buffer, sizeof buffer, &got) == 1) {
        plain.append(buffer, got);
        continue;
      }
      if (at == ciphertext.size()) return plain;
    }
  }
};

// The channel's whole input, decrypted.
std::string channel_reads(TlsChannel& channel, TlsChannel::ReadResult& last) {
  std::string plain;
  char buffer[1000];  // smaller than a record: a record is read in parts
  for (;;) {
    size_t got = 0;
    last = channel.read(buffer, sizeof buffer, got);
    if (last != TlsChannel::ReadResult::data) return plain;
    plain.append(buffer, got);
  }
}

}  // namespace

TEST_CASE("TlsChannel keeps what the client sent right behind its handshake", "[tls]") {
  Link link;
  link.handshake();
  // The client's first request arrives before the connection is taken over.
  REQUIRE(SSL_write(link.client.get(), "PRI * HTTP/2.0", 14) == 14);
  link.put(link.server_outside, link.drain(link.client_outside));
  TlsChannel channel(link.server);
  link.server_owner.reset();  // the channel holds its own reference now

  TlsChannel::ReadResult last{};
  CHECK(channel_reads(channel, last) == "PRI * HTTP/2.0");
  CHECK(last == TlsChannel::ReadResult::need_more);

  // More from the client, fed one byte at a time: records come together across feeds.
  std::string request(5000, 'r');
  REQUIRE(SSL_write(link.client.get(), request.data(), static_cast<int>(request.size())) == 5000);
  const std::string ciphertext = link.drain(link.client_outside);
  std::string got;
  for (char byte : ciphertext) {
    channel.feed(std::string_view(&byte, 1));
    got += channel_reads(channel, last);
    REQUIRE(last == TlsChannel::ReadResult::need_more);
  }
  CHECK(got == request);
}

TEST_CASE("TlsChannel encrypts records the client can read", "[tls]") {
  Link link;
  link.handshake();
  TlsChannel channel(link.server);
  link.server_owner.reset();

  std::string body;
  for (int i = 0; i < 100000; ++i) body.push_back(static_cast<char>('a' + i % 26));
  for (size_t at = 0; at < body.size(); at += 16384)
    REQUIRE(channel.write_record(std::string_view(body).substr(at, 16384)));
  CHECK(channel.write_record(""));
  // Seven records, each 16 KiB of plaintext or less, plus their overhead.
  CHECK(channel.output().size() > body.size());
  CHECK(channel.output().size() < body.size() + 7 * 64);
  CHECK(link.client_reads(channel.output()) == body);
}

TEST_CASE("TlsChannel reports a close_notify and a broken record", "[tls]") {
  SECTION("close_notify") {
    Link link;
    link.handshake();
    TlsChannel channel(link.server);
    link.server_owner.reset();
    SSL_shutdown(link.client.get());
    const std::string alert = link.drain(link.client_outside);
    channel.feed(alert);
    TlsChannel::ReadResult last{};
    CHECK(channel_reads(channel, last).empty());
    CHECK(last == TlsChannel::ReadResult::closed);
  }
  SECTION("a flipped bit") {
    Link link;
    link.handshake();
    TlsChannel channel(link.server);
    link.server_owner.reset();
    REQUIRE(SSL_write(link.client.get(), "GET", 3) == 3);
    std::string ciphertext = link.drain(link.client_outside);
    ciphertext.back() ^= 1;
    channel.feed(ciphertext);
    TlsChannel::ReadResult last{};
    CHECK(channel_reads(channel, last).empty());
    CHECK(last == TlsChannel::ReadResult::failed);
    CHECK(!channel.error().empty());
    // A broken connection writes nothing more.
    CHECK_FALSE(channel.write_record("late"));
  }
}

TEST_CASE("TlsChannel refuses a connection with handshake output unsent", "[tls]") {
  Link link;
  // The server has answered the ClientHello but its flight is still in the pair.
  SSL_do_handshake(link.client.get());
  link.put(link.server_outside, link.drain(link.client_outside));
  SSL_do_handshake(link.server);
  CHECK_THROWS_WITH(TlsChannel(link.server), Catch::Contains("not yet sent"));
}
