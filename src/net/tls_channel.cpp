#include "net/tls_channel.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/err.h>

namespace relay::net {

// The BIO under the SSL object: reads come from the channel's input, writes go
// to the end of its output.
struct TlsChannel::Bio {
  static TlsChannel& channel(BIO* bio) { return *static_cast<TlsChannel*>(BIO_get_data(bio)); }

  static int write(BIO* bio, const char* data, int size) {
    BIO_clear_retry_flags(bio);
    if (size <= 0) return 0;
    channel(bio).output_.append(data, static_cast<size_t>(size));
    return size;
  }

  static int read(BIO* bio, char* out, int capacity) {
    BIO_clear_retry_flags(bio);
    auto& input = channel(bio).input_;
    if (input.empty()) {
      BIO_set_retry_read(bio);
      return -1;
    }
    const size_t n = std::min(input.size(), static_cast<size_t>(std::max(capacity, 0)));
    std::memcpy(out, input.data(), n);
    input.remove_prefix(n);
    return static_cast<int>(n);
  }

  static long control(BIO* bio, int command, long, void*) {
    switch (command) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING:
        return static_cast<long>(std::min<size_t>(channel(bio).input_.size(), LONG_MAX));
      default:
        return 0;
    }
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static const BIO_METHOD* method() {
    static BIO_METHOD* const m = [] {
      BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "relay TLS channel");
      if (!made || !BIO_meth_set_write(made, write) || !BIO_meth_set_read(made, read) ||
          !BIO_meth_set_ctrl(made, control) || !BIO_meth_set_create(made, create))
        throw std::runtime_error("OpenSSL cannot make a BIO method");
      return made;
    }();
    return m;
  }
};

TlsChannel::TlsChannel(SSL* ssl) : ssl_(ssl) {
  if (!ssl_ || SSL_up_ref(ssl_) != 1) throw std::runtime_error("no TLS connection to take over");
  BIO* old_read = SSL_get_rbio(ssl_);
  BIO* old_write = SSL_get_wbio(ssl_);
  if (old_write && BIO_ctrl_wpending(old_write) > 0) {
    SSL_free(ssl_);
    throw std::runtime_error("the TLS handshake has output not yet sent");
  }
  if (old_read) {
    carried_.resize(BIO_ctrl_pending(old_read));
    size_t got = 0;
    while (got < carried_.size()) {
      const int n = BIO_read(old_read, carried_.data() + got, static_cast<int>(std::min<size_t>(carried_.size() - got, INT_MAX)));
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    carried_.resize(got);
  }
  BIO* bio = BIO_new(Bio::method());
  if (!bio) {
    SSL_free(ssl_);
    throw std::runtime_error("OpenSSL cannot make a BIO");
  }
  BIO_set_data(bio, this);
  // One BIO for both directions; SSL_set_bio takes its one reference and frees the old pair end.
  SSL_set_bio(ssl_, bio, bio);
  input_ = carried_;
}

TlsChannel::~TlsChannel() { SSL_free(ssl_); }

void TlsChannel::feed(std::string_view ciphertext) { input_ = ciphertext; }

TlsChannel::ReadResult TlsChannel::read(char* out, size_t capacity, size_t& bytes) {
  bytes = 0;
  ERR_clear_error();
  if (SSL_read_ex(ssl_, out, capacity, &bytes) == 1) return ReadResult::data;
  const int error = SSL_get_error(ssl_, 0);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      // Everything is used up, what the handshake left over included.
      if (!carried_.empty()) std::string().swap(carried_);
      return ReadResult::need_more;
    case SSL_ERROR_ZERO_RETURN:
      return ReadResult::closed;
    default:
      note_error(error);
      return ReadResult::failed;
  }
}

bool TlsChannel::write_record(std::string_view plaintext) {
  if (plaintext.empty()) return true;
  ERR_clear_error();
  size_t written = 0;
  if (SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written) == 1 && written == plaintext.size())
    return true;
  note_error(SSL_get_error(ssl_, 0));
  return false;
}

void TlsChannel::note_error(int ssl_error) {
  const unsigned long code = ERR_peek_last_error();
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    error_ = text;
  } else {
    error_ = "TLS error " + std::to_string(ssl_error);
  }
  ERR_clear_error();
}

}  // namespace relay::net
