#include "qa/text_rules.hpp"

#include <cstdint>

namespace relay::qa {
namespace {

// Word characters for the word list: ASCII letters and digits, and any byte of a
// multi-byte UTF-8 sequence (so "Straße" is one word).
bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 || c == '_';
}

}  // namespace

std::optional<size_t> count_code_points(std::string_view text) {
  size_t count = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    size_t length = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) return std::nullopt;
      ++p;
      ++count;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      length = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      length = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      length = 4;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (static_cast<size_t>(end - p) < length) return std::nullopt;
    for (size_t i = 1; i < length; ++i) {
      if ((p[i] & 0xc0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[length] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
    // C1 controls (U+0080..U+009F) are as invisible as C0 ones.
    if (cp >= 0x80 && cp <= 0x9f) return std::nullopt;
    p += length;
    ++count;
  }
  return count;
}

std::string normalize_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out += text[i];
  }
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t first = 0;
  while (first < out.size() && space(out[first])) ++first;
  size_t last = out.size();
  while (last > first && space(out[last - 1])) --last;
  return out.substr(first, last - first);
}

std::string fold_case(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (c == 0xc3 && i + 1 < text.size()) {
      // Ä Ö Ü are C3 84, C3 96, C3 9C; their lower case is 0x20 higher.
      const unsigned char next = text[i + 1];
      out += static_cast<char>(c);
      out += static_cast<char>(next == 0x84 || next == 0x96 || next == 0x9c ? next + 0x20 : next);
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

WordFilter::WordFilter(const std::vector<std::string>& words) {
  for (const std::string& word : words) {
    std::string folded = fold_case(normalize_text(word));
    bool prefix = !folded.empty() && folded.back() == '*';
    if (prefix) folded.pop_back();
    if (folded.empty()) continue;
    words_.push_back({std::move(folded), prefix, word});
  }
}

std::optional<std::string> WordFilter::match(std::string_view text) const {
  if (words_.empty()) return std::nullopt;
  const std::string folded = fold_case(text);
  for (const Entry& entry : words_) {
    for (size_t at = folded.find(entry.word); at != std::string::npos; at = folded.find(entry.word, at + 1)) {
      const bool starts = at == 0 || !is_word_byte(folded[at - 1]);
      const size_t after = at + entry.word.size();
      const bool ends = after == folded.size() || !is_word_byte(folded[after]);
      if (starts && (ends || entry.prefix)) return entry.original;
    }
  }
  return std::nullopt;
}

}  // namespace relay::qa
