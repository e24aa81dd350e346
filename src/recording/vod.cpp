#include "recording/vod.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "common/clock.hpp"

namespace relay::recording {
namespace {

int64_t duration_ms(const SegmentEntry& segment) { return std::llround(segment.duration_s * 1000.0); }

// A quoted-string attribute value may hold neither '"' nor a line break (RFC 8216bis 4.2).
std::string quoted_attribute_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"') out += '\'';
    else if (c == '\r' || c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

// The attribute list of a tag line split at top-level commas (commas inside quotes stay).
std::vector<std::string> split_attributes(std::string_view list) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  for (char c : list) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string_view attribute_name(std::string_view attribute) { return attribute.substr(0, attribute.find('=')); }

std::string attribute_value(const std::vector<std::string>& attributes, std::string_view name) {
  for (const std::string& a : attributes) {
    if (attribute_name(a) != name) continue;
    std::string_view value = std::string_view(a).substr(std::min(a.size(), name.size() + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return {};
}

std::string join_attributes(const std::vector<std::string>& attributes) {
  std::string out;
  for (const std::string& a : attributes) {
    if (!out.empty()) out += ',';
    out += a;
  }
  return out;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

}  // namespace

std::optional<TalkSpan> talk_span(const EventIndex& index, std::string_view talk_id) {
  for (const TalkMark& mark : index.talks) {
    if (mark.talk != talk_id) continue;
    if (!mark.start_epoch_ms || !mark.end_epoch_ms || *mark.end_epoch_ms <= *mark.start_epoch_ms) return std::nullopt;
    return TalkSpan{mark.talk, *mark.start_epoch_ms, *mark.end_epoch_ms};
  }
  return std::nullopt;
}

std::vector<const SegmentEntry*> cut_segments(const EventIndex& index, std::string_view rendition, int64_t start_ms,
                                              int64_t end_ms) {
  std::vector<const SegmentEntry*> out;
  for (const SegmentEntry* segment : index.segments_of(rendition)) {
    if (segment->pdt_epoch_ms < end_ms && segment->pdt_epoch_ms + duration_ms(*segment) > start_ms)
      out.push_back(segment);
  }
  return out;
}

bool is_subtitle_segment(const SegmentEntry& segment) { return segment.init.empty(); }

std::optional<std::string> reference_rendition(const EventIndex& index) {
  std::optional<std::string> first;
  for (const std::string& rendition : index.renditions()) {
    const auto segments = index.segments_of(rendition);
    if (segments.empty()) continue;
    if (!is_subtitle_segment(*segments.front())) return rendition;
    if (!first) first = rendition;
  }
  return first;
}

double total_duration_s(const std::vector<const SegmentEntry*>& segments) {
  double total = 0;
  for (const SegmentEntry* s : segments) total += s->duration_s;
  return total;
}

std::string write_vod_playlist(const std::vector<const SegmentEntry*>& segments, std::string_view media_prefix,
                               const std::vector<DateRange>& ranges) {
  double longest = 0;
  for (const SegmentEntry* s : segments) longest = std::max(longest, s->duration_s);
  // Whole seconds, at least 1: a zero target duration is not valid.
  const auto target = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(longest - 1e-9)));
  std::string out = fmt::format(
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n",
      target);
  auto it = std::back_inserter(out);
  const SegmentEntry* previous = nullptr;
  for (const SegmentEntry* s : segments) {
    if (previous &&
        (s->run != previous->run || s->discontinuity || s->msn != previous->msn + 1))
      out += "#EXT-X-DISCONTINUITY\n";
    if (!s->init.empty() && (!previous || previous->init != s->init))
      fmt::format_to(it, "#EXT-X-MAP:URI=\"{}{}\"\n", media_prefix, s->init);
    fmt::format_to(it, "#EXT-X-PROGRAM-DATE-TIME:{}\n", format_iso8601_ms(s->pdt_epoch_ms));
    if (!previous) {
      for (const DateRange& r : ranges)
        fmt::format_to(it,
                       "#EXT-X-DATERANGE:ID=\"{}\",CLASS=\"{}\",START-DATE=\"{}\",END-DATE=\"{}\",X-TITLE=\"{}\"\n",
                       quoted_attribute_text(r.id), kTalkDateRangeClass, format_iso8601_ms(r.start_ms),
                       format_iso8601_ms(r.end_ms), quoted_attribute_text(r.title));
    }
    fmt::format_to(it, "#EXTINF:{:.3f},\n{}{}\n", s->duration_s, media_prefix, s->file);
    previous = s;
  }
  out += "#EXT-X-ENDLIST\n";
  return out;
}

std::string rendition_of_uri(std::string_view uri) {
  uri = uri.substr(0, uri.find_first_of("?#"));
  const size_t file = uri.rfind('/');
  if (file == std::string_view::npos) return {};
  uri = uri.substr(0, file);
  const size_t dir = uri.rfind('/');
  return std::string(dir == std::string_view::npos ? uri : uri.substr(dir + 1));
}

std::string write_vod_master(std::string_view live_master, const std::set<std::string>& available) {
  constexpr std::string_view kMedia = "#EXT-X-MEDIA:";
  constexpr std::string_view kVariant = "#EXT-X-STREAM-INF:";
  const std::vector<std::string_view> lines = lines_of(live_master);

  // Groups (TYPE, GROUP-ID) that keep at least one member; a member without a
  // URI is carried in the variants themselves and always counts.
  std::set<std::pair<std::string, std::string>> live_groups;
  std::set<std::pair<std::string, std::string>> kept_groups;
  for (std::string_view line : lines) {
    if (!line.starts_with(kMedia)) continue;
    const auto attributes = split_attributes(line.substr(kMedia.size()));
    std::pair<std::string, std::string> group{attribute_value(attributes, "TYPE"), attribute_value(attributes, "GROUP-ID")};
    live_groups.insert(group);
    const std::string uri = attribute_value(attributes, "URI");
    if (uri.empty() || available.contains(rendition_of_uri(uri))) kept_groups.insert(group);
  }
  // What a variant refers to, by attribute name, for the group types.
  static constexpr std::pair<std::string_view, std::string_view> kGroupAttributes[] = {
      {"AUDIO", "AUDIO"}, {"SUBTITLES", "SUBTITLES"}, {"VIDEO", "VIDEO"}, {"CLOSED-CAPTIONS", "CLOSED-CAPTIONS"}};

  std::string out;
  std::set<std::string> variants_listed;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.starts_with("#EXT-X-CONTENT-STEERING")) continue;
    if (line.starts_with(kMedia)) {
      auto attributes = split_attributes(line.substr(kMedia.size()));
      std::string uri = attribute_value(attributes, "URI");
      if (!uri.empty()) {
        const std::string rendition = rendition_of_uri(uri);
        if (!available.contains(rendition)) continue;
        for (std::string& a : attributes)
          if (attribute_name(a) == "URI") a = fmt::format("URI=\"{}/index.m3u8\"", rendition);
      }
      fmt::format_to(std::back_inserter(out), "{}{}\n", kMedia, join_attributes(attributes));
      continue;
    }
    if (line.starts_with(kVariant)) {
      // The URI line follows (blank lines and comments may come between).
      size_t uri_line = i + 1;
      while (uri_line < lines.size() && (lines[uri_line].empty() || lines[uri_line].starts_with('#'))) ++uri_line;
      if (uri_line >= lines.size()) break;
      const std::string rendition = rendition_of_uri(lines[uri_line]);
      i = uri_line;
      // Steering lists each variant once per pathway: the VOD lists it once.
      if (!available.contains(rendition) || !variants_listed.insert(rendition).second) continue;
      std::vector<std::string> kept;
      for (std::string& a : split_attributes(line.substr(kVariant.size()))) {
        const std::string_view name = attribute_name(a);
        if (name == "PATHWAY-ID" || name == "STABLE-VARIANT-ID") continue;
        bool dangling = false;
        for (const auto& [attribute, type] : kGroupAttributes) {
          if (name != attribute) continue;
          std::pair<std::string, std::string> group{std::string(type), attribute_value({a}, attribute)};
          dangling = live_groups.contains(group) && !kept_groups.contains(group);
        }
        if (!dangling) kept.push_back(std::move(a));
      }
      fmt::format_to(std::back_inserter(out), "{}{}\n{}/index.m3u8\n", kVariant, join_attributes(kept), rendition);
      continue;
    }
    if (line.empty()) continue;
    out += line;
    out += '\n';
  }
  return out;
}

double presentation_time_s(const std::vector<const SegmentEntry*>& segments, int64_t epoch_ms) {
  double position = 0;
  for (const SegmentEntry* s : segments) {
    if (epoch_ms < s->pdt_epoch_ms) return position;  // before the presentation, or in a gap
    if (epoch_ms < s->pdt_epoch_ms + duration_ms(*s))
      return position + std::min(s->duration_s, static_cast<double>(epoch_ms - s->pdt_epoch_ms) / 1000.0);
    position += s->duration_s;
  }
  return position;
}

std::vector<Chapter> chapters(const EventIndex& index, const std::vector<const SegmentEntry*>& presentation,
                              const std::vector<std::pair<std::string, std::string>>& talks) {
  std::vector<Chapter> out;
  if (presentation.empty()) return out;
  for (const auto& [id, title] : talks) {
    const auto span = talk_span(index, id);
    if (!span) continue;
    Chapter c{id, title, presentation_time_s(presentation, span->start_ms),
              presentation_time_s(presentation, span->end_ms)};
    if (c.end_s > c.start_s) out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(), [](const Chapter& a, const Chapter& b) { return a.start_s < b.start_s; });
  return out;
}

std::string format_vtt_time(double seconds) {
  const auto ms = static_cast<int64_t>(std::llround(std::max(0.0, seconds) * 1000.0));
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
}

std::string write_chapters_vtt(const std::vector<Chapter>& chapters) {
  std::string out = "WEBVTT\n";
  for (const Chapter& c : chapters) {
    // A cue's text ends at a blank line and may not hold "-->"; titles are one line already.
    std::string title = c.title;
    for (size_t p; (p = title.find("-->")) != std::string::npos;) title.replace(p, 3, "->");
    for (char& ch : title)
      if (ch == '\n' || ch == '\r') ch = ' ';
    fmt::format_to(std::back_inserter(out), "\ntalk-{}\n{} --> {}\n{}\n", c.talk, format_vtt_time(c.start_s),
                   format_vtt_time(c.end_s), title);
  }
  return out;
}

bool is_plain_file_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

}  // namespace relay::recording
