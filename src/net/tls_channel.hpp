#pragma once
// TLS records in memory: an SSL connection whose ciphertext goes through our own
// buffers instead of a socket or Asio's BIO pair. The HTTP/2 session takes its
// connection over from Asio's ssl::stream once the handshake is done and moves
// the ciphertext itself:
//
// - Asio's stream encrypts one record, writes it, waits for the write's
//   completion handler and only then encrypts the next, copying each record
//   twice on the way (into its BIO pair, out into its output buffer). Here
//   records are encrypted straight into one buffer, many at a time, and leave in
//   one send.
// - The 2 x 17 KiB of buffers Asio's stream keeps per connection are freed.
//
// Not thread-safe: one connection, one thread at a time (the connection's
// executor). Plaintext writes always succeed: the output only grows until taken.
#include <cstddef>
#include <string>
#include <string_view>

#include <openssl/ssl.h>

namespace relay::net {

class TlsChannel {
 public:
  // Adopts `ssl`, whose handshake is complete, taking a reference of its own.
  // Ciphertext the handshake already read past its end (a client sends its first
  // requests right behind its Finished message) is kept and read first.
  // Throws std::runtime_error when the connection cannot be taken over (handshake
  // output still unsent).
  explicit TlsChannel(SSL* ssl);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  enum class ReadResult {
    data,         // `bytes` of plaintext
    need_more,    // everything fed has been used; feed more
    closed,       // the peer sent close_notify
    failed,       // a bad record or an alert; error() says what
  };
  // Ciphertext from the peer. It must be used up (read() returning need_more)
  // before the next feed; it is not copied.
  void feed(std::string_view ciphertext);
  // True while fed (or carried) ciphertext is not yet used up.
  bool has_input() const { return !input_.empty(); }
  // Decrypts into `out`.
  ReadResult read(char* out, size_t capacity, size_t& bytes);

  // Encrypts `plaintext` as one record (at most 16 KiB), appended to output().
  // Returns false when the connection is broken; error() says why.
  bool write_record(std::string_view plaintext);

  // Ciphertext to send: records, and what reading made OpenSSL answer (a key
  // update, an alert). The caller sends it and erases what went out.
  std::string& output() { return output_; }

  const std::string& error() const { return error_; }

 private:
  struct Bio;
  friend struct Bio;
  void note_error(int ssl_error);

  SSL* ssl_;
  std::string carried_;         // ciphertext the handshake read past its end, until used up
  std::string_view input_;      // fed and not yet read by OpenSSL
  std::string output_;
  std::string error_;
};

}  // namespace relay::net
