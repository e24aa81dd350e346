#pragma once
// What every fuzz target shares: the input as text, and a check that stops the
// run the way a sanitizer does when a property the code promises does not hold.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace relay::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The parts of `text` between lines that hold only `separator`; inputs made of
// several documents (a config and its --set overrides, a series of requests)
// use it, so they stay readable and easy to write by hand.
template <class F>
void for_each_part(std::string_view text, std::string_view separator, F&& f) {
  while (true) {
    size_t at = 0;
    size_t found = std::string_view::npos;
    while ((at = text.find(separator, at)) != std::string_view::npos) {
      bool line_start = at == 0 || text[at - 1] == '\n';
      size_t end = at + separator.size();
      bool line_end = end == text.size() || text[end] == '\n';
      if (line_start && line_end) {
        found = at;
        break;
      }
      at = end;
    }
    if (found == std::string_view::npos) {
      f(text);
      return;
    }
    std::string_view part = text.substr(0, found);
    if (!part.empty() && part.back() == '\n') part.remove_suffix(1);
    f(part);
    size_t next = found + separator.size();
    text = next < text.size() ? text.substr(next + 1) : std::string_view();
  }
}

}  // namespace relay::fuzz
