#include "net/etag.hpp"

#include <ctime>

#include <fmt/format.h>

#include "common/content_hash.hpp"
#include "common/text.hpp"

namespace relay::net {

using text::trim;
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::optional<int> digits(std::string_view text) {
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string_view strip_weak(std::string_view tag) {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

uint64_t content_hash(std::string_view data) { return relay::content_hash(data); }

std::string format_http_date(int64_t epoch_s) {
  const std::time_t t = static_cast<std::time_t>(epoch_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::optional<int64_t> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  text = trim(text);
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT")
    return std::nullopt;
  std::tm tm{};
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (text.substr(8, 3) == kMonths[i]) month = i;
  auto day = digits(text.substr(5, 2)), year = digits(text.substr(12, 4)), hour = digits(text.substr(17, 2)),
       minute = digits(text.substr(20, 2)), second = digits(text.substr(23, 2));
  if (month < 0 || !day || !year || !hour || !minute || !second || *day < 1 || *day > 31 || *hour > 23 ||
      *minute > 59 || *second > 60)
    return std::nullopt;
  tm.tm_mday = *day;
  tm.tm_mon = month;
  tm.tm_year = *year - 1900;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return static_cast<int64_t>(timegm(&tm));
}

bool not_modified_since(std::string_view if_modified_since, int64_t modified_epoch_ms, bool changes_in_place) {
  auto since = parse_http_date(if_modified_since);
  if (!since || modified_epoch_ms <= 0) return false;
  const int64_t limit_ms = (*since + (changes_in_place ? 0 : 1)) * 1000;
  return modified_epoch_ms < limit_ms;
}

std::string make_etag(std::string_view opaque) {
  std::string tag;
  tag.reserve(opaque.size() + 2);
  tag += '"';
  tag += opaque;
  tag += '"';
  return tag;
}

bool if_none_match_matches(std::string_view if_none_match, std::string_view etag) {
  if_none_match = trim(if_none_match);
  if (if_none_match == "*") return true;
  std::string_view ours = strip_weak(etag);
  while (!if_none_match.empty()) {
    size_t comma = if_none_match.find(',');
    std::string_view candidate = trim(if_none_match.substr(0, comma));
    if (!candidate.empty() && strip_weak(candidate) == ours) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace relay::net
