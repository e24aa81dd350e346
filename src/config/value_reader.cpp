#include "config/value_reader.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace relay::config {

std::string Origin::at(const toml::source_region& region) const {
  if (!positional_ || region.begin.line == 0) return name_;
  return fmt::format("{}:{}:{}", name_, region.begin.line, region.begin.column);
}

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::vector<std::pair<const toml::key*, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const toml::source_position& pa = a.first->source().begin;
    const toml::source_position& pb = b.first->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });
  return entries;
}

void ValueReader::fail(std::string_view problem) const {
  throw ConfigError(fmt::format("{}: {}: {}", where(), key_, problem));
}

void ValueReader::fail_type(std::string_view expected) const {
  fail(fmt::format("expected {}, got {}", expected, type_name(node_.type())));
}

int ValueReader::integer(std::int64_t min, std::int64_t max) const {
  const auto* value = node_.as_integer();
  if (!value) fail_type("an integer");
  const std::int64_t v = value->get();
  if (v < min || v > max) fail(fmt::format("{} is out of range, expected {}..{}", v, min, max));
  return static_cast<int>(v);
}

double ValueReader::number(double min, double max) const {
  double v = 0;
  if (const auto* i = node_.as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = node_.as_floating_point()) {
    v = f->get();
  } else {
    fail_type("a number");
  }
  // Written so that NaN fails too.
  if (!(v >= min && v <= max)) fail(fmt::format("{} is out of range, expected {}..{}", v, min, max));
  return v;
}

bool ValueReader::boolean() const {
  const auto* value = node_.as_boolean();
  if (!value) fail_type("true or false");
  return value->get();
}

std::string ValueReader::string() const {
  const auto* value = node_.as_string();
  if (!value) fail_type("a string");
  return value->get();
}

std::string ValueReader::one_of(std::initializer_list<std::string_view> accepted) const {
  std::string v = string();
  if (std::find(accepted.begin(), accepted.end(), v) != accepted.end()) return v;
  std::vector<std::string> shown;
  for (std::string_view a : accepted) shown.emplace_back(a.empty() ? "\"\"" : std::string(a));
  fail(fmt::format("'{}' is not accepted, expected one of: {}", v, fmt::join(shown, ", ")));
}

int ValueReader::integer_one_of(std::initializer_list<std::int64_t> accepted) const {
  const int v = integer(std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  if (std::find(accepted.begin(), accepted.end(), v) != accepted.end()) return v;
  fail(fmt::format("{} is not accepted, expected one of: {}", v, fmt::join(accepted, ", ")));
}

std::vector<std::string> ValueReader::strings() const {
  const toml::array& items = array();
  std::vector<std::string> result;
  for (std::size_t i = 0; i < items.size(); ++i) result.push_back(element(i).string());
  return result;
}

std::string ValueReader::path() const {
  std::string v = string();
  if (v.empty()) fail("must not be empty");
  return v;
}

const toml::table& ValueReader::table() const {
  const auto* value = node_.as_table();
  if (!value) fail_type("a table");
  return *value;
}

const toml::array& ValueReader::array() const {
  const auto* value = node_.as_array();
  if (!value) fail_type("an array");
  return *value;
}

ValueReader ValueReader::element(std::size_t index) const {
  return ValueReader(*array().get(index), fmt::format("{}[{}]", key_, index), origin_);
}

ValueReader ValueReader::member(std::string_view name) const {
  return ValueReader(*table().get(name), fmt::format("{}.{}", key_, name), origin_);
}

}  // namespace relay::config
