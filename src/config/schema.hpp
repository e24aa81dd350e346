#pragma once
// The config keys: which sections exist, which keys each holds and what each key
// accepts. A new key needs a line here, a member in config.hpp and its
// documentation in config/relay.toml; a unit test walks this table to check the last.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/value_reader.hpp"

namespace relay::config {

template <class Target>
struct Field {
  std::string_view name;
  // Reads, checks and stores one value; throws ConfigError via the reader.
  void (*set)(const ValueReader& value, Target& target);
};

struct Section {
  std::string_view name;
  std::span<const Field<Config>> fields;
};

std::span<const Section> sections();
// The keys of one [[encoder.renditions]] table.
std::span<const Field<Rendition>> rendition_fields();
// The [[audio]] array of tables (config.hpp, AudioTrackConfig).
std::vector<AudioTrackConfig> read_audio_tracks(const ValueReader& value);
// The [programme] table with its [[programme.talks]] (config.hpp, ProgrammeConfig).
ProgrammeConfig read_programme(const ValueReader& value);

const Section* find_section(std::string_view name);

template <class Target>
const Field<Target>* find_field(std::span<const Field<Target>> fields, std::string_view name) {
  for (const Field<Target>& field : fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

template <class Target>
std::vector<std::string_view> names(std::span<const Field<Target>> fields) {
  std::vector<std::string_view> result;
  for (const Field<Target>& field : fields) result.push_back(field.name);
  return result;
}

// "unknown key 'edge.thread'; did you mean 'threads'? known keys in [edge]: listen, ..."
// `key` is the full key as the operator would write it with --set.
std::string unknown_key_message(std::string_view key, std::string_view table,
                                const std::vector<std::string_view>& known);

// For a top-level name that is not a section: a typo of one, or a key written
// above the first [section] header.
std::string unknown_section_message(std::string_view name);

}  // namespace relay::config
