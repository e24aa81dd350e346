#include "net/gzip.hpp"

#include "common/text.hpp"

#include <stdexcept>

#include <zlib.h>

namespace relay::net {

using text::iequals;
using text::trim;
namespace {

// A weight is "0", "0." or "0." followed by zeros when it refuses the coding.
bool weight_is_zero(std::string_view q) {
  if (q.empty() || q[0] != '0') return false;
  if (q.size() == 1) return true;
  if (q[1] != '.') return false;
  for (char c : q.substr(2))
    if (c != '0') return false;
  return true;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  enum class Verdict { unlisted, refused, accepted };
  Verdict gzip = Verdict::unlisted, any = Verdict::unlisted;
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);

    size_t semi = element.find(';');
    std::string_view coding = trim(element.substr(0, semi));
    bool zero = false;
    while (semi != std::string_view::npos) {
      element.remove_prefix(semi + 1);
      semi = element.find(';');
      std::string_view param = trim(element.substr(0, semi));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
        zero = weight_is_zero(trim(param.substr(2)));
    }
    Verdict v = zero ? Verdict::refused : Verdict::accepted;
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      gzip = v;
    } else if (coding == "*") {
      any = v;
    }
  }
  if (gzip != Verdict::unlisted) return gzip == Verdict::accepted;
  return any == Verdict::accepted;
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // 15 window bits + 16: a gzip header and trailer instead of a zlib one.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  // deflateBound is an upper bound for a single Z_FINISH call, so anything else is a zlib fault.
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

}  // namespace relay::net
