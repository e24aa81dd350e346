#pragma once
// The HLS content steering manifest (the "Content Steering" specification that
// rfc8216bis 4.4.6.6 refers to) the relay serves at kSteeringPath when
// [scale] pathways are configured: which cache path players should prefer.
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "config/config.hpp"

namespace relay::delivery {

inline constexpr std::string_view kSteeringPath = "/live/steering.json";

// {"VERSION":1,"TTL":..,"RELOAD-URI":..,"PATHWAY-PRIORITY":[ids in config order]}.
std::string steering_manifest_json(const config::ScaleConfig& scale);

// The manifest as served: made once from the config, since the preference is
// the operator's and does not change while the relay runs.
class SteeringManifest {
 public:
  explicit SteeringManifest(const config::ScaleConfig& scale);

  bool enabled() const { return static_cast<bool>(body_); }  // false without pathways: 404
  const Bytes& body() const { return body_; }
  std::string_view etag() const { return etag_; }
  // Half the TTL: a cache may hold it, but a player reloading every TTL then
  // sees a change within 1.5 × TTL, never an answer older than one TTL.
  std::string_view cache_control() const { return cache_control_; }

 private:
  Bytes body_;
  std::string etag_;
  std::string cache_control_;
};

}  // namespace relay::delivery
