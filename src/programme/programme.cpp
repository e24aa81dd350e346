#include "programme/programme.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace relay::programme {

Programme::Programme(const config::ProgrammeConfig& config) {
  for (const config::TalkConfig& t : config.talks)
    talks_.push_back(Talk{t.id, t.title, t.speakers, t.start, t.end, t.language, t.abstract, {}, {}});
}

const Talk* Programme::find(const std::string& id) const {
  for (const Talk& talk : talks_)
    if (talk.id == id) return &talk;
  return nullptr;
}

Talk* Programme::find_mutable(const std::string& id) { return const_cast<Talk*>(find(id)); }

const Talk* Programme::on_stage() const { return on_stage_ ? &talks_[*on_stage_] : nullptr; }

const Talk* Programme::next() const {
  for (std::size_t i = on_stage_ ? *on_stage_ + 1 : 0; i < talks_.size(); ++i)
    if (!talks_[i].actual_start) return &talks_[i];
  // A talk skipped earlier (the order changed on the day) is still to come.
  for (std::size_t i = 0; i < talks_.size(); ++i)
    if (!talks_[i].actual_start) return &talks_[i];
  return nullptr;
}

MarkResult Programme::start(const std::string& id, std::int64_t now) {
  Talk* talk = find_mutable(id);
  if (!talk) return {MarkError::unknown_talk, fmt::format("no talk '{}' in the programme", id), {}, {}};
  if (on_stage() == talk) return {};
  if (talk->actual_end)
    return {MarkError::already_ended, fmt::format("talk '{}' has already ended", id), {}, {}};
  MarkResult result;
  if (on_stage_) {
    talks_[*on_stage_].actual_end = now;
    result.ended = talks_[*on_stage_].id;
  }
  talk->actual_start = now;
  on_stage_ = static_cast<std::size_t>(talk - talks_.data());
  result.started = talk->id;
  return result;
}

MarkResult Programme::end(const std::string& id, std::int64_t now) {
  Talk* talk = find_mutable(id);
  if (!talk) return {MarkError::unknown_talk, fmt::format("no talk '{}' in the programme", id), {}, {}};
  if (on_stage() != talk)
    return {MarkError::not_on_stage, fmt::format("talk '{}' is not on stage", id), {}, {}};
  talk->actual_end = now;
  on_stage_.reset();
  return {{}, {}, talk->id, {}};
}

bool Programme::restore_mark(const std::string& id, std::optional<std::int64_t> start,
                             std::optional<std::int64_t> end) {
  Talk* talk = find_mutable(id);
  if (!talk) return false;
  if (start) talk->actual_start = start;
  if (end) talk->actual_end = end;
  const auto index = static_cast<std::size_t>(talk - talks_.data());
  if (talk->actual_start && !talk->actual_end) {
    // One talk is on stage: a later one restored replaces an earlier one that never got its end mark.
    if (on_stage_ && *on_stage_ != index) talks_[*on_stage_].actual_end = talk->actual_start;
    on_stage_ = index;
  } else if (on_stage_ == index) {
    on_stage_.reset();
  }
  return true;
}

namespace {

// The config's rules for a talk's text (config/schema.cpp, read_talk_text).
bool plain_text(const std::string& text, std::size_t max_bytes, bool multiline) {
  return text.size() <= max_bytes && std::none_of(text.begin(), text.end(), [multiline](char c) {
           const auto byte = static_cast<unsigned char>(c);
           return (byte < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || byte == 0x7f;
         });
}

bool language_tag(const std::string& tag) {
  return tag.empty() || (tag.size() <= 35 && tag.front() != '-' && tag.back() != '-' &&
                         std::all_of(tag.begin(), tag.end(), [](char c) {
                           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                  c == '-';
                         }));
}

}  // namespace

std::optional<std::string> Programme::update(const std::string& id, const TalkPatch& patch) {
  Talk* found = find_mutable(id);
  if (!found) return fmt::format("no talk '{}' in the programme", id);
  Talk talk = *found;
  if (patch.title) talk.title = *patch.title;
  if (patch.speakers) talk.speakers = *patch.speakers;
  if (patch.start) talk.planned_start = *patch.start;
  if (patch.end) talk.planned_end = *patch.end;
  if (patch.language) talk.language = *patch.language;
  if (patch.abstract) talk.abstract = *patch.abstract;
  if (talk.title.empty() || !plain_text(talk.title, 300, false))
    return "title: 1..300 bytes without control characters";
  if (talk.speakers.size() > 20) return "speakers: at most 20";
  for (const std::string& speaker : talk.speakers)
    if (speaker.empty() || !plain_text(speaker, 200, false))
      return "speakers: each 1..200 bytes without control characters";
  if (!plain_text(talk.abstract, 4000, true)) return "abstract: at most 4000 bytes without control characters";
  if (!language_tag(talk.language)) return fmt::format("language: '{}' is not a BCP 47 tag", talk.language);
  if (talk.planned_end.unix_seconds <= talk.planned_start.unix_seconds)
    return fmt::format("end: {} is not after the start ({})", wall_time::format_rfc3339(talk.planned_end),
                       wall_time::format_rfc3339(talk.planned_start));
  for (const Talk& other : talks_) {
    if (other.id != id && talk.planned_start.unix_seconds < other.planned_end.unix_seconds &&
        other.planned_start.unix_seconds < talk.planned_end.unix_seconds)
      return fmt::format("the slot {} .. {} overlaps '{}' ({} .. {})", wall_time::format_rfc3339(talk.planned_start),
                         wall_time::format_rfc3339(talk.planned_end), other.id,
                         wall_time::format_rfc3339(other.planned_start), wall_time::format_rfc3339(other.planned_end));
  }
  const std::optional<std::string> stage = on_stage() ? std::optional(on_stage()->id) : std::nullopt;
  *found = std::move(talk);
  std::stable_sort(talks_.begin(), talks_.end(), [](const Talk& a, const Talk& b) {
    return a.planned_start.unix_seconds < b.planned_start.unix_seconds;
  });
  if (stage) on_stage_ = static_cast<std::size_t>(find(*stage) - talks_.data());
  return std::nullopt;
}

MarkResult Programme::advance(std::int64_t now) {
  const Talk* upcoming = next();
  if (!upcoming) return {MarkError::nothing_next, "no talk left to start", {}, {}};
  return start(upcoming->id, now);
}

}  // namespace relay::programme
