#pragma once
// The HLS content steering manifest (the "Content Steering" specification that
// rfc8216bis 4.4.6.6 refers to) the relay serves at kSteeringPath when
// [scale] pathways are configured: which cache path players should prefer.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "config/config.hpp"

namespace relay::delivery {

inline constexpr std::string_view kSteeringPath = "/live/steering.json";

// {"VERSION":1,"TTL":..,"RELOAD-URI":..,"PATHWAY-PRIORITY":[ids in config order]}.
std::string steering_manifest_json(const config::ScaleConfig& scale);

// The manifest as served, made from the config at start and again on SIGHUP
// (a new order or TTL of the same pathways: the master players hold names them).
class SteeringManifest {
 public:
  struct Served {
    Bytes body;
    std::string etag;
    // Half the TTL: a cache may hold it, but a player reloading every TTL then
    // sees a change within 1.5 × TTL, never an answer older than one TTL.
    std::string cache_control;
  };

  explicit SteeringManifest(const config::ScaleConfig& scale) { reload(scale); }

  void reload(const config::ScaleConfig& scale);
  // Null without pathways (then the route is 404).
  std::shared_ptr<const Served> current() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Served> served_;
};

}  // namespace relay::delivery
