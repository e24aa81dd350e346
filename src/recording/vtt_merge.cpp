#include "recording/vtt_merge.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace relay::recording {
namespace {

// MPEG-TS timestamps wrap at 2^33 ticks of 90 kHz (about 26.5 hours).
constexpr uint64_t kMpegTsWrap = uint64_t{1} << 33;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The lines of a file, with CRLF and CR line ends taken as LF.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.push_back(std::move(line));
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(std::move(line));
  return lines;
}

std::optional<uint64_t> digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// "hh:mm:ss.ttt" or "mm:ss.ttt" (WebVTT timestamps) in milliseconds.
std::optional<int64_t> parse_timestamp(std::string_view s) {
  const size_t dot = s.rfind('.');
  if (dot == std::string_view::npos || s.size() - dot != 4) return std::nullopt;
  auto fraction = digits(s.substr(dot + 1));
  std::vector<std::string_view> parts;
  std::string_view clock = s.substr(0, dot);
  for (size_t colon; (colon = clock.find(':')) != std::string_view::npos;) {
    parts.push_back(clock.substr(0, colon));
    clock.remove_prefix(colon + 1);
  }
  parts.push_back(clock);
  if (!fraction || parts.size() < 2 || parts.size() > 3) return std::nullopt;
  std::optional<uint64_t> hours = parts.size() == 3 ? digits(parts[0]) : std::optional<uint64_t>(0);
  auto minutes = digits(parts[parts.size() - 2]);
  auto secs = digits(parts.back());
  if (!hours || !minutes || !secs || *minutes > 59 || *secs > 59 || parts[parts.size() - 2].size() != 2 ||
      parts.back().size() != 2 || *hours > 1'000'000)
    return std::nullopt;
  return static_cast<int64_t>(((*hours * 60 + *minutes) * 60 + *secs) * 1000 + *fraction);
}

std::string format_timestamp(int64_t ms) {
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
}

// Milliseconds to add to a segment's local cue times to put them on the talk's
// timeline, from its X-TIMESTAMP-MAP (a segment without one: LOCAL 0 = MPEGTS 0).
int64_t timeline_offset_ms(const std::vector<std::string>& header, uint64_t origin_90k) {
  uint64_t mpegts = 0;
  int64_t local_ms = 0;
  for (const auto& line : header) {
    constexpr std::string_view kMap = "X-TIMESTAMP-MAP=";
    if (line.rfind(kMap, 0) != 0) continue;
    std::string_view rest = std::string_view(line).substr(kMap.size());
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view field = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (field.rfind("MPEGTS:", 0) == 0) {
        if (auto v = digits(field.substr(7))) mpegts = *v;
      } else if (field.rfind("LOCAL:", 0) == 0) {
        if (auto v = parse_timestamp(field.substr(6))) local_ms = *v;
      }
    }
  }
  int64_t delta_90k;
  if (mpegts < kMpegTsWrap && origin_90k < kMpegTsWrap) {
    // Both may have wrapped: the nearer of the two ways round.
    delta_90k = static_cast<int64_t>((mpegts - origin_90k) & (kMpegTsWrap - 1));
    if (delta_90k >= static_cast<int64_t>(kMpegTsWrap / 2)) delta_90k -= static_cast<int64_t>(kMpegTsWrap);
  } else {
    delta_90k = mpegts >= origin_90k ? static_cast<int64_t>(mpegts - origin_90k)
                                     : -static_cast<int64_t>(origin_90k - mpegts);
  }
  return static_cast<int64_t>(std::llround(static_cast<double>(delta_90k) / 90.0)) - local_ms;
}

struct Cue {
  std::string id;
  int64_t start_ms = 0, end_ms = 0;
  std::string settings;
  std::string payload;  // its lines, '\n'-separated, as they were
};

struct Timing {
  int64_t start_ms, end_ms;
  std::string settings;
};

std::optional<Timing> parse_timing(std::string_view line) {
  const size_t arrow = line.find("-->");
  if (arrow == std::string_view::npos) return std::nullopt;
  auto start = parse_timestamp(trim(line.substr(0, arrow)));
  std::string_view rest = trim(line.substr(arrow + 3));
  const size_t space = rest.find_first_of(" \t");
  auto end = parse_timestamp(rest.substr(0, space));
  if (!start || !end || *end < *start) return std::nullopt;
  std::string settings = space == std::string_view::npos ? std::string() : std::string(trim(rest.substr(space)));
  return Timing{*start, *end, std::move(settings)};
}

bool is_non_cue_block(const std::string& first_line) {
  for (std::string_view word : {"NOTE", "STYLE", "REGION"}) {
    if (first_line.rfind(word, 0) != 0) continue;
    if (first_line.size() == word.size() || first_line[word.size()] == ' ' || first_line[word.size()] == '\t')
      return true;
  }
  return false;
}

// The cues of one segment, on the talk's timeline. A file that does not start
// with "WEBVTT" has none.
std::vector<Cue> cues_of(const std::string& text, uint64_t origin_90k) {
  std::vector<std::vector<std::string>> blocks(1);
  for (auto& line : lines_of(text)) {
    if (line.empty()) {
      if (!blocks.back().empty()) blocks.emplace_back();
    } else {
      blocks.back().push_back(std::move(line));
    }
  }
  if (blocks.front().empty()) return {};
  std::string_view signature = blocks.front().front();
  if (signature.rfind("\xEF\xBB\xBF", 0) == 0) signature.remove_prefix(3);  // a byte order mark
  if (signature.rfind("WEBVTT", 0) != 0 ||
      (signature.size() > 6 && signature[6] != ' ' && signature[6] != '\t'))
    return {};
  const int64_t offset = timeline_offset_ms(blocks.front(), origin_90k);
  std::vector<Cue> cues;
  for (size_t b = 1; b < blocks.size(); ++b) {
    const auto& block = blocks[b];
    if (block.empty() || is_non_cue_block(block.front())) continue;
    Cue cue;
    size_t timing_line = 0;
    if (block.front().find("-->") == std::string::npos) {
      cue.id = block.front();
      timing_line = 1;
    }
    if (timing_line >= block.size()) continue;
    auto timing = parse_timing(block[timing_line]);
    if (!timing) continue;
    cue.start_ms = timing->start_ms + offset;
    cue.end_ms = timing->end_ms + offset;
    cue.settings = std::move(timing->settings);
    for (size_t i = timing_line + 1; i < block.size(); ++i) {
      if (i > timing_line + 1) cue.payload += '\n';
      cue.payload += block[i];
    }
    cues.push_back(std::move(cue));
  }
  return cues;
}

}  // namespace

std::string merge_webvtt(const std::vector<std::string>& segment_texts, uint64_t origin_90k, double duration_s) {
  std::vector<Cue> merged;
  std::map<std::string, size_t> by_key;
  for (const auto& text : segment_texts) {
    for (auto& cue : cues_of(text, origin_90k)) {
      // Without an identifier a repeat still ends when its first copy ends, with the same text.
      std::string key = cue.id.empty() ? fmt::format("\x1f{}\x1f{}", cue.end_ms, cue.payload) : cue.id;
      auto [it, fresh] = by_key.emplace(std::move(key), merged.size());
      if (fresh) {
        merged.push_back(std::move(cue));
      } else {
        // A captioner may correct the last line in place (captions/cue_store.hpp):
        // the later segment has the corrected text.
        Cue& kept = merged[it->second];
        kept.start_ms = std::min(kept.start_ms, cue.start_ms);
        kept.end_ms = std::max(kept.end_ms, cue.end_ms);
        kept.settings = std::move(cue.settings);
        kept.payload = std::move(cue.payload);
      }
    }
  }
  const int64_t duration_ms = std::llround(std::max(duration_s, 0.0) * 1000);
  std::vector<Cue> kept;
  for (auto& cue : merged) {
    cue.start_ms = std::max<int64_t>(cue.start_ms, 0);
    cue.end_ms = std::min(cue.end_ms, duration_ms);
    if (cue.end_ms > cue.start_ms) kept.push_back(std::move(cue));
  }
  std::stable_sort(kept.begin(), kept.end(), [](const Cue& a, const Cue& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.end_ms < b.end_ms;
  });
  std::string out = "WEBVTT\n\n";
  for (const auto& cue : kept) {
    if (!cue.id.empty()) out += cue.id + '\n';
    out += format_timestamp(cue.start_ms) + " --> " + format_timestamp(cue.end_ms);
    if (!cue.settings.empty()) out += ' ' + cue.settings;
    out += '\n';
    if (!cue.payload.empty()) out += cue.payload + '\n';
    out += '\n';
  }
  return out;
}

}  // namespace relay::recording
