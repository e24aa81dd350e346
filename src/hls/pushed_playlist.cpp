#include "hls/pushed_playlist.hpp"

#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace relay::hls {
namespace {

// The longest EXTINF or part a live stream could sensibly list.
constexpr double kMaxDurationS = 3600;

struct Reader {
  size_t line_no = 0;

  [[noreturn]] void fail(std::string_view why) const {
    throw PlaylistError(fmt::format("line {}: {}", line_no, why));
  }
};

std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_duration(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < 0 || v > kMaxDurationS)
    return std::nullopt;
  return v;
}

// The value of NAME= in an attribute list (NAME=value,NAME="quoted, value"); nullopt when absent.
std::optional<std::string_view> attribute(const Reader& r, std::string_view list, std::string_view name) {
  size_t i = 0;
  while (i < list.size()) {
    const size_t eq = list.find('=', i);
    if (eq == std::string_view::npos) r.fail(fmt::format("attribute list '{}' has a name without a value", list));
    std::string_view key = list.substr(i, eq - i);
    std::string_view value;
    size_t next;
    if (eq + 1 < list.size() && list[eq + 1] == '"') {
      const size_t close = list.find('"', eq + 2);
      if (close == std::string_view::npos) r.fail("attribute list has an unterminated quoted string");
      value = list.substr(eq + 2, close - eq - 2);
      next = close + 1;
      if (next < list.size() && list[next] != ',') r.fail("attribute list has text after a quoted string");
    } else {
      next = list.find(',', eq + 1);
      if (next == std::string_view::npos) next = list.size();
      value = list.substr(eq + 1, next - eq - 1);
    }
    if (key == name) return value;
    i = next + 1;
  }
  return std::nullopt;
}

std::string object_name(const Reader& r, std::string_view uri) {
  if (!valid_object_name(uri))
    r.fail(fmt::format("'{}' is not a plain object name: a pushed playlist names its objects by file name only "
                       "(letters, digits, '.', '_', '-'; no path, no query, at most {} characters)",
                       uri.substr(0, 64), kMaxObjectNameBytes));
  return std::string(uri);
}

double required_duration(const Reader& r, std::string_view s, std::string_view what) {
  auto d = parse_duration(s);
  if (!d) r.fail(fmt::format("{} '{}' is not a duration in seconds (0..{})", what, s.substr(0, 32), kMaxDurationS));
  return *d;
}

int days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

}  // namespace

bool valid_object_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxObjectNameBytes || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int64_t parse_iso8601_ms(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM|+HHMM)
  auto num = [&](size_t at, size_t len) -> int {
    if (at + len > s.size()) return -1;
    int v = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return -1;
  const int year = num(0, 4), month = num(5, 2), day = num(8, 2), hour = num(11, 2), minute = num(14, 2),
            second = num(17, 2);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60)
    return -1;
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t scale = 100;
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ms += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start || i - start > 9) return -1;
  }
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i] == '+' ? 1 : -1;
    const int oh = num(i + 1, 2);
    const size_t mm_at = i + 3 < s.size() && s[i + 3] == ':' ? i + 4 : i + 3;
    const int om = num(mm_at, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return -1;
    offset_min = sign * (oh * 60 + om);
    i = mm_at + 2;
  } else {
    return -1;
  }
  if (i != s.size()) return -1;
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
  return seconds * 1000 + ms;
}

PushedPlaylist parse_pushed_playlist(std::string_view text) {
  Reader r;
  if (text.size() > kMaxPushedPlaylistBytes)
    throw PlaylistError(fmt::format("the playlist is {} bytes, more than the {} a live playlist may have",
                                    text.size(), kMaxPushedPlaylistBytes));
  PushedPlaylist out;
  bool seen_header = false, seen_sequence = false, seen_target = false;
  // What the tags so far say about the next segment.
  PushedSegment next;
  std::string map_uri;
  double extinf = -1;  // the pending #EXTINF's duration; -1 = none
  bool any_segment_tag = false;

  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++r.line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!seen_header) {
      if (line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
      if (line != "#EXTM3U") r.fail("a playlist starts with #EXTM3U");
      seen_header = true;
      continue;
    }
    if (line.empty()) continue;
    if (line[0] != '#') {
      // A URI line: the segment the tags before it describe.
      if (extinf < 0) r.fail(fmt::format("'{}' is listed without an #EXTINF before it", line.substr(0, 64)));
      if (out.segments.size() >= kMaxPushedSegments)
        r.fail(fmt::format("more than {} segments in one playlist", kMaxPushedSegments));
      next.uri = object_name(r, line);
      next.duration_s = extinf;
      next.map_uri = map_uri;
      out.segments.push_back(std::move(next));
      next = PushedSegment{};
      extinf = -1;
      any_segment_tag = false;
      continue;
    }
    if (!line.starts_with("#EXT")) continue;  // a comment
    const size_t colon = line.find(':');
    const std::string_view tag = line.substr(0, colon);
    const std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (tag == "#EXT-X-MEDIA-SEQUENCE") {
      if (!out.segments.empty() || any_segment_tag) r.fail("#EXT-X-MEDIA-SEQUENCE must come before the first segment");
      auto v = parse_uint(value);
      // Media sequence numbers are decimal integers below 2^63 here, so msn + count never wraps.
      if (!v || *v > (uint64_t(1) << 62)) r.fail(fmt::format("#EXT-X-MEDIA-SEQUENCE '{}' is not a number in 0..2^62", value.substr(0, 32)));
      out.media_sequence = *v;
      seen_sequence = true;
    } else if (tag == "#EXT-X-TARGETDURATION") {
      auto v = parse_uint(value);
      if (!v || *v < 1 || *v > 3600) r.fail(fmt::format("#EXT-X-TARGETDURATION '{}' is not 1..3600", value.substr(0, 32)));
      out.target_duration_s = static_cast<int>(*v);
      seen_target = true;
    } else if (tag == "#EXT-X-PART-INF") {
      auto target = attribute(r, value, "PART-TARGET");
      if (!target) r.fail("#EXT-X-PART-INF has no PART-TARGET");
      out.part_target_s = required_duration(r, *target, "PART-TARGET");
    } else if (tag == "#EXT-X-MAP") {
      auto uri = attribute(r, value, "URI");
      if (!uri) r.fail("#EXT-X-MAP has no URI");
      if (attribute(r, value, "BYTERANGE")) r.fail("#EXT-X-MAP with BYTERANGE is not accepted; push the init section as its own object");
      map_uri = object_name(r, *uri);
    } else if (tag == "#EXTINF") {
      const std::string_view duration = value.substr(0, value.find(','));
      extinf = required_duration(r, duration, "#EXTINF");
      any_segment_tag = true;
    } else if (tag == "#EXT-X-PROGRAM-DATE-TIME") {
      const int64_t ms = parse_iso8601_ms(value);
      if (ms < 0) r.fail(fmt::format("#EXT-X-PROGRAM-DATE-TIME '{}' is not an ISO 8601 date and time", value.substr(0, 40)));
      next.pdt_epoch_ms = ms;
      any_segment_tag = true;
    } else if (tag == "#EXT-X-DISCONTINUITY") {
      next.discontinuity = true;
      any_segment_tag = true;
    } else if (tag == "#EXT-X-PART") {
      auto uri = attribute(r, value, "URI");
      auto duration = attribute(r, value, "DURATION");
      if (!uri || !duration) r.fail("#EXT-X-PART needs URI and DURATION");
      if (attribute(r, value, "BYTERANGE")) r.fail("#EXT-X-PART with BYTERANGE is not accepted; push each part as its own object");
      if (next.parts.size() >= 1000) r.fail("more than 1000 parts in one segment");
      PushedPart part;
      part.uri = object_name(r, *uri);
      part.duration_s = required_duration(r, *duration, "part DURATION");
      auto independent = attribute(r, value, "INDEPENDENT");
      part.independent = independent && *independent == "YES";
      next.parts.push_back(std::move(part));
      any_segment_tag = true;
    } else if (tag == "#EXT-X-SKIP") {
      r.fail("#EXT-X-SKIP: push the whole playlist, not a delta update");
    } else if (tag == "#EXT-X-ENDLIST") {
      out.ended = true;
    } else if (tag == "#EXT-X-STREAM-INF" || tag == "#EXT-X-MEDIA") {
      r.fail("this is a master playlist; push it to /ingest/master.m3u8 and each media playlist to "
             "/ingest/<rendition>/index.m3u8");
    }
    // EXT-X-VERSION, SERVER-CONTROL, PRELOAD-HINT, RENDITION-REPORT, INDEPENDENT-SEGMENTS, ...: not needed.
  }
  if (!seen_header) throw PlaylistError("the playlist is empty; it starts with #EXTM3U");
  if (!seen_target) throw PlaylistError("the playlist has no #EXT-X-TARGETDURATION");
  (void)seen_sequence;  // absent means 0 (rfc8216bis 4.4.3.2)
  if (extinf >= 0) throw PlaylistError("the playlist ends with an #EXTINF that has no URI after it");
  // Parts after the last URI line belong to the segment being built.
  if (!next.parts.empty()) {
    next.map_uri = map_uri;
    out.segments.push_back(std::move(next));
  }
  for (size_t i = 0; i < out.segments.size(); ++i) out.segments[i].msn = out.media_sequence + i;
  return out;
}

}  // namespace relay::hls
