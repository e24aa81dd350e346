#include "hls/object_names.hpp"

#include <algorithm>
#include <charconv>
#include <random>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/content_hash.hpp"

namespace relay::hls {
namespace {

constexpr std::string_view kDigits36 = "0123456789abcdefghijklmnopqrstuvwxyz";

std::string base36(uint64_t v, size_t min_width = 1) {
  std::string out;
  while (v > 0 || out.size() < min_width) {
    out.insert(out.begin(), kDigits36[v % 36]);
    v /= 36;
  }
  return out;
}

std::optional<uint64_t> decimal(std::string_view text) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// "<prefix>-<instance>-<rest><suffix>" -> rest, when the instance is the given one.
std::optional<std::string_view> instance_body(std::string_view file, std::string_view prefix,
                                              std::string_view instance, std::string_view suffix) {
  if (instance.empty()) return std::nullopt;
  const size_t head = prefix.size() + instance.size() + 2;
  if (file.size() <= head + suffix.size() || !file.starts_with(prefix) || !file.ends_with(suffix)) return std::nullopt;
  if (file[prefix.size()] != '-' || file.substr(prefix.size() + 1, instance.size()) != instance ||
      file[head - 1] != '-')
    return std::nullopt;
  return file.substr(head, file.size() - head - suffix.size());
}

}  // namespace

std::string make_instance_id(int64_t epoch_ms, uint64_t random) {
  return base36(static_cast<uint64_t>(std::max<int64_t>(0, epoch_ms / 1000))) + base36(random % (36 * 36 * 36), 3);
}

std::string new_instance_id() {
  std::random_device rd;
  return make_instance_id(now_epoch_ms(), (static_cast<uint64_t>(rd()) << 32) ^ rd());
}

std::string segment_uri(std::string_view instance, uint64_t msn, std::string_view extension) {
  return fmt::format("seg-{}-{}.{}", instance, msn, extension);
}

std::string part_uri(std::string_view instance, uint64_t msn, size_t index, std::string_view extension) {
  return fmt::format("part-{}-{}.{}.{}", instance, msn, index, extension);
}

std::string init_uri(std::string_view init_section) {
  return fmt::format("init-{:012x}.mp4", content_hash(init_section) >> 16);
}

bool is_init_uri(std::string_view file) {
  constexpr std::string_view prefix = "init-", suffix = ".mp4";
  return file.size() == prefix.size() + 12 + suffix.size() && file.starts_with(prefix) && file.ends_with(suffix);
}

std::optional<uint64_t> parse_segment_uri(std::string_view file, std::string_view instance,
                                          std::string_view extension) {
  const std::string suffix = "." + std::string(extension);
  auto body = instance_body(file, "seg", instance, suffix);
  return body ? decimal(*body) : std::nullopt;
}

std::optional<std::pair<uint64_t, size_t>> parse_part_uri(std::string_view file, std::string_view instance,
                                                          std::string_view extension) {
  const std::string suffix = "." + std::string(extension);
  auto body = instance_body(file, "part", instance, suffix);
  if (!body) return std::nullopt;
  size_t dot = body->find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto msn = decimal(body->substr(0, dot));
  auto index = decimal(body->substr(dot + 1));
  if (!msn || !index) return std::nullopt;
  return std::pair<uint64_t, size_t>{*msn, static_cast<size_t>(*index)};
}

}  // namespace relay::hls
