#pragma once
// Bytes that never change once made (a segment, a playlist, a response body),
// shared by every reader that sends them rather than copied.
#include <memory>
#include <string>

namespace relay {

using Bytes = std::shared_ptr<const std::string>;

inline Bytes make_bytes(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

}  // namespace relay
