#pragma once
// The live captions of every configured language: per language a list of cues
// on the wall clock (the clock of the video's PROGRAM-DATE-TIME), as captioners
// post them. Plain C++ (no GLib, no Asio), any thread.
//
// The rules (docs/captions.md):
// - A cue starts when its line arrives, shifted back by the configured offset
//   (the captioner's typical delay behind the speech).
// - It lasts as long as the API says, else as long as its text takes to read
//   (kCharsPerSecond), within kMinDefault..kMaxDefault.
// - Media up to the publish frontier is out: subtitle segments and parts up to
//   there are published and immutable, and so is every cue starting before it.
//   A cue stamped before the frontier starts at the frontier instead.
// - A new line of a language ends that language's previous cue early, while that
//   cue is unpublished; a published cue keeps its times, and the two show
//   together (like two lines of roll-up captions) until the older one ends.
// - A correction replaces the last cue while it is unpublished; once published,
//   the corrected text goes on as a new cue, and the old one is not changed.
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace relay::captions {

struct Cue {
  uint64_t id = 0;         // unique in this run, never reused: players tell repeated cues apart by it
  int64_t start_ms = 0;    // wall clock (epoch ms), on the video's PDT clock
  int64_t end_ms = 0;
  std::string text;        // plain text, one line; escaped only when written (webvtt.hpp)
  std::string author;      // the captioner's label
};

struct Language {
  std::string code;  // BCP 47, e.g. "de"
  std::string name;  // as players list it, e.g. "Deutsch"
};

struct CueRules {
  double offset_s = 0;      // [captions] offset_s
  double keep_s = 60;       // cues ended longer ago than this are forgotten (the DVR or live window)
  double chars_per_second = 15;
  double min_default_s = 2;
  double max_default_s = 7;
};

// What post() did.
struct Posted {
  Cue cue;
  bool replaced = false;  // the last cue was corrected in place
  bool moved = false;     // it was stamped before the frontier and starts there instead
};

class CueStore {
 public:
  static constexpr double kMinShown_s = 1.0;  // an early end never leaves a cue shorter than this

  CueStore(std::vector<Language> languages, CueRules rules);

  const std::vector<Language>& languages() const { return languages_; }
  std::optional<size_t> find(std::string_view code) const;
  const CueRules& rules() const { return rules_; }

  // A line that arrived at `arrival_epoch_ms`. `duration_s`: the sender's; none:
  // from the text's length. `replace_last`: a correction of the language's last line.
  Posted post(size_t language, std::string text, std::string author, int64_t arrival_epoch_ms,
              std::optional<double> duration_s = std::nullopt, bool replace_last = false);

  // Moves the publish frontier forward (never back) and forgets cues that ended
  // rules.keep_s before it. The caller publishes media up to `epoch_ms` next,
  // with the cues it then reads: no post can change them any more.
  void publish_until(int64_t epoch_ms);
  int64_t published_until() const;

  // The cues of a language overlapping [from_ms, to_ms), oldest first.
  std::vector<Cue> overlapping(size_t language, int64_t from_ms, int64_t to_ms) const;
  // Every cue kept for a language (for a recording, a transcript), oldest first.
  std::vector<Cue> all(size_t language) const;

  // The default length of a cue with this text.
  double default_duration_s(std::string_view text) const;

 private:
  std::vector<Language> languages_;
  CueRules rules_;
  mutable std::mutex mutex_;
  std::vector<std::deque<Cue>> cues_;  // per language, by start
  int64_t frontier_ms_ = 0;
  uint64_t next_id_ = 1;
};

// Plain text as one caption line: control characters and runs of white space
// become one space, leading and trailing space goes.
std::string normalize_line(std::string_view text);
// Unicode code points in UTF-8 text.
size_t code_points(std::string_view text);

}  // namespace relay::captions
