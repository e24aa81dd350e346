#pragma once
// The names of a rendition's media objects, relative to its media playlist. Each
// object has exactly one name, and a name is never given to two different objects,
// not even across restarts of the stream: segment and part names carry the id of
// the stream instance (one per start of the packagers, shared by all renditions),
// and an init section is named by its content. So an HTTP cache may keep any of
// them for a year (RFC 8216bis Appendix B) and never serve an old object for a new one.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace relay::hls {

// A short base36 id: the start time in seconds and some randomness, so two runs
// started in the same second still differ.
std::string make_instance_id(int64_t epoch_ms, uint64_t random);
// make_instance_id with the wall clock and std::random_device.
std::string new_instance_id();

std::string segment_uri(std::string_view instance, uint64_t msn, std::string_view extension = "m4s");
std::string part_uri(std::string_view instance, uint64_t msn, size_t index, std::string_view extension = "m4s");
std::string init_uri(std::string_view init_section);
// Whether `file` has the shape init_uri gives ("init-<12 hex>.mp4"): a cheap test
// before looking a name up among a rendition's init sections.
bool is_init_uri(std::string_view file);

// The inverse of segment_uri and part_uri for one instance: any other instance,
// and any other spelling of the numbers (leading zeros, signs), is no name.
std::optional<uint64_t> parse_segment_uri(std::string_view file, std::string_view instance,
                                          std::string_view extension);
std::optional<std::pair<uint64_t, size_t>> parse_part_uri(std::string_view file, std::string_view instance,
                                                          std::string_view extension = "m4s");

}  // namespace relay::hls
