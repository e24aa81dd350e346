#pragma once
// Rules for the text people type: valid UTF-8 only, length counted in code points
// (what a person calls characters, near enough), and a word list whose hits are
// held for a moderator instead of published.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::qa {

// Code points in `text`, or nullopt if it is not valid UTF-8 (overlong forms,
// surrogates and values above U+10FFFF are invalid too) or holds control
// characters other than tab and newline.
std::optional<size_t> count_code_points(std::string_view text);

// Leading and trailing white space removed; "\r\n" becomes "\n".
std::string normalize_text(std::string_view text);

class WordFilter {
 public:
  WordFilter() = default;
  // Entries are matched case-insensitively (ASCII letters and the German
  // umlauts) as whole words; an entry ending in '*' also matches as a prefix.
  explicit WordFilter(const std::vector<std::string>& words);

  // The first listed entry found in `text`, if any.
  std::optional<std::string> match(std::string_view text) const;
  bool empty() const { return words_.empty(); }

 private:
  struct Entry {
    std::string word;  // folded
    bool prefix = false;
    std::string original;
  };
  std::vector<Entry> words_;
};

// Lower case for ASCII and Ä Ö Ü (to ä ö ü); everything else unchanged.
std::string fold_case(std::string_view text);

}  // namespace relay::qa
