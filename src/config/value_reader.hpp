#pragma once
// Typed access to one TOML value on its way into a config struct. Every failure
// throws ConfigError naming where the value came from, the full key and what would
// have been accepted, so the operator can fix the file without reading code.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "config/config.hpp"

namespace relay::config {

// Where values came from: a file, whose TOML positions are worth printing, or one
// --set argument, whose positions are inside a snippet the user never wrote.
class Origin {
 public:
  static Origin file(std::string name) { return Origin(std::move(name), true); }
  static Origin argument(std::string text) { return Origin(std::move(text), false); }

  // "relay.toml:5:11", or "--set edge.threads=0" for an override.
  std::string at(const toml::source_region& region) const;

 private:
  Origin(std::string name, bool positional) : name_(std::move(name)), positional_(positional) {}

  std::string name_;
  bool positional_;
};

std::string_view type_name(toml::node_type type);

// toml++ iterates a table by key name; walking it in file order instead makes the
// first error reported the first one the operator meets reading the file.
std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table);

class ValueReader {
 public:
  // `node` and `origin` must outlive the reader.
  ValueReader(const toml::node& node, std::string key, const Origin& origin)
      : node_(node), key_(std::move(key)), origin_(origin) {}

  const std::string& key() const { return key_; }
  const toml::node& node() const { return node_; }
  std::string where() const { return origin_.at(node_.source()); }
  // Where something inside this value is, such as one of its table keys.
  std::string where(const toml::source_region& region) const { return origin_.at(region); }

  // "relay.toml:5:11: edge.threads: <problem>".
  [[noreturn]] void fail(std::string_view problem) const;

  int integer(std::int64_t min, std::int64_t max) const;
  // Integers are welcome where a float is wanted: "segment_duration_s = 2".
  double number(double min, double max) const;
  bool boolean() const;
  std::string string() const;
  std::string one_of(std::initializer_list<std::string_view> accepted) const;
  int integer_one_of(std::initializer_list<std::int64_t> accepted) const;
  std::vector<std::string> strings() const;
  // A non-empty string; resolving it against the config directory is the caller's job.
  std::string path() const;
  const toml::table& table() const;
  const toml::array& array() const;

  // The reader for element `index` of an array value: key "edge.cors_origins[1]".
  ValueReader element(std::size_t index) const;
  // The reader for an existing member of a table value: key "encoder.renditions[0].name".
  ValueReader member(std::string_view name) const;

 private:
  [[noreturn]] void fail_type(std::string_view expected) const;

  const toml::node& node_;
  std::string key_;
  const Origin& origin_;
};

}  // namespace relay::config
