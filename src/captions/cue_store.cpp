#include "captions/cue_store.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace relay::captions {

namespace {
int64_t to_ms(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000.0)); }
}  // namespace

CueStore::CueStore(std::vector<Language> languages, CueRules rules)
    : languages_(std::move(languages)), rules_(rules), cues_(languages_.size()) {}

std::optional<size_t> CueStore::find(std::string_view code) const {
  for (size_t i = 0; i < languages_.size(); ++i)
    if (languages_[i].code == code) return i;
  return std::nullopt;
}

double CueStore::default_duration_s(std::string_view text) const {
  const double reading = static_cast<double>(code_points(text)) / rules_.chars_per_second;
  return std::clamp(reading, rules_.min_default_s, rules_.max_default_s);
}

Posted CueStore::post(size_t language, std::string text, std::string author, int64_t arrival_epoch_ms,
                      std::optional<double> duration_s, bool replace_last) {
  if (language >= cues_.size()) throw std::out_of_range("no such caption language");
  const int64_t length_ms = to_ms(duration_s ? *duration_s : default_duration_s(text));
  std::lock_guard lock(mutex_);
  auto& cues = cues_[language];
  Posted posted;
  // The last cue is still open to change while no published media holds it.
  const bool last_unpublished = !cues.empty() && cues.back().start_ms >= frontier_ms_;
  if (replace_last && last_unpublished) {
    Cue& last = cues.back();
    last.text = std::move(text);
    last.author = std::move(author);
    last.end_ms = last.start_ms + length_ms;
    posted.cue = last;
    posted.replaced = true;
    return posted;
  }
  int64_t start = arrival_epoch_ms - to_ms(rules_.offset_s);
  if (start < frontier_ms_) {
    start = frontier_ms_;
    posted.moved = true;
  }
  // Cues stay ordered by start even if the wall clock steps back.
  if (!cues.empty()) start = std::max(start, cues.back().start_ms);
  if (last_unpublished) {
    Cue& previous = cues.back();
    previous.end_ms = std::min(previous.end_ms,
                               std::max(start, previous.start_ms + to_ms(kMinShown_s)));
  }
  Cue cue{next_id_++, start, start + length_ms, std::move(text), std::move(author)};
  cues.push_back(cue);
  posted.cue = std::move(cue);
  return posted;
}

void CueStore::publish_until(int64_t epoch_ms) {
  std::lock_guard lock(mutex_);
  frontier_ms_ = std::max(frontier_ms_, epoch_ms);
  const int64_t forget_before = frontier_ms_ - to_ms(rules_.keep_s);
  for (auto& cues : cues_) {
    // Ordered by start, not by end: a long cue may outlast later short ones, so
    // only the front goes, once it ended.
    while (!cues.empty() && cues.front().end_ms < forget_before) cues.pop_front();
  }
}

int64_t CueStore::published_until() const {
  std::lock_guard lock(mutex_);
  return frontier_ms_;
}

std::vector<Cue> CueStore::overlapping(size_t language, int64_t from_ms, int64_t to_ms) const {
  std::vector<Cue> out;
  std::lock_guard lock(mutex_);
  if (language >= cues_.size()) return out;
  for (const Cue& cue : cues_[language]) {
    if (cue.start_ms >= to_ms) break;
    if (cue.end_ms > from_ms) out.push_back(cue);
  }
  return out;
}

std::vector<Cue> CueStore::all(size_t language) const {
  std::lock_guard lock(mutex_);
  if (language >= cues_.size()) return {};
  return {cues_[language].begin(), cues_[language].end()};
}

std::string normalize_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(c);
  }
  return out;
}

size_t code_points(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(),
                                            [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace relay::captions
