// The rules for text people type (qa/text_rules): code points are counted only
// in valid UTF-8 without control characters, checked here against a decoder
// written from the table of well-formed byte sequences (Unicode 15, table 3-7)
// rather than from bit masks; normalizing and case folding keep valid text
// valid; the word filter answers with one of its own entries.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "qa/text_rules.hpp"

namespace {

// Code points of well-formed UTF-8 with no C0/C1 control other than tab and
// newline and no DEL, or nullopt.
std::optional<size_t> reference_count(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  size_t count = 0;
  for (size_t i = 0; i < n; ++count) {
    unsigned char b = s[i];
    size_t length;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (b <= 0x7f) {
      if ((b < 0x20 && b != '\t' && b != '\n') || b == 0x7f) return std::nullopt;
      ++i;
      continue;
    } else if (in(b, 0xc2, 0xdf)) {
      length = 2;
      if (b == 0xc2 && i + 1 < n && in(s[i + 1], 0x80, 0x9f)) return std::nullopt;  // C1 controls
    } else if (b == 0xe0) {
      length = 3, lo = 0xa0;
    } else if (in(b, 0xe1, 0xec) || in(b, 0xee, 0xef)) {
      length = 3;
    } else if (b == 0xed) {
      length = 3, hi = 0x9f;
    } else if (b == 0xf0) {
      length = 4, lo = 0x90;
    } else if (in(b, 0xf1, 0xf3)) {
      length = 4;
    } else if (b == 0xf4) {
      length = 4, hi = 0x8f;
    } else {
      return std::nullopt;
    }
    if (n - i < length || !in(s[i + 1], lo, hi)) return std::nullopt;
    for (size_t k = 2; k < length; ++k)
      if (!in(s[i + k], 0x80, 0xbf)) return std::nullopt;
    i += length;
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relay::qa;
  static const WordFilter filter({"spam", "verboten*", "\xC3\x84rger", " Mixed Case "});
  const std::string_view text = relay::fuzz::as_text(data, size);

  const std::optional<size_t> count = count_code_points(text);
  FUZZ_CHECK(count == reference_count(text));

  const std::string normalized = normalize_text(text);
  FUZZ_CHECK(normalized.size() <= text.size());
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  FUZZ_CHECK(normalized.empty() || (!space(normalized.front()) && !space(normalized.back())));
  if (count) FUZZ_CHECK(count_code_points(normalized).has_value());

  const std::string folded = fold_case(text);
  FUZZ_CHECK(folded.size() == text.size());
  if (count) FUZZ_CHECK(count_code_points(folded) == count);

  if (auto hit = filter.match(text)) {
    FUZZ_CHECK(*hit == "spam" || *hit == "verboten*" || *hit == "\xC3\x84rger" || *hit == " Mixed Case ");
  }
  // A word list read from a file is text like any other.
  std::vector<std::string> words;
  relay::fuzz::for_each_part(text, "%%", [&](std::string_view word) { words.emplace_back(word); });
  WordFilter(words).match(normalized);
  return 0;
}
