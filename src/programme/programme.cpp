#include "programme/programme.hpp"

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

MarkResult Programme::advance(std::int64_t now) {
  const Talk* upcoming = next();
  if (!upcoming) return {MarkError::nothing_next, "no talk left to start", {}, {}};
  return start(upcoming->id, now);
}

}  // namespace relay::programme
