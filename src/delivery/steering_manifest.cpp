#include "delivery/steering_manifest.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "net/etag.hpp"

namespace relay::delivery {

std::string steering_manifest_json(const config::ScaleConfig& scale) {
  nlohmann::ordered_json priority = nlohmann::ordered_json::array();
  for (const config::Pathway& pathway : scale.pathways) priority.push_back(pathway.id);
  // RELOAD-URI resolves against the manifest's own address, so the relative
  // default keeps players asking the host they asked first.
  nlohmann::ordered_json manifest{{"VERSION", 1},
                                  {"TTL", scale.steering_ttl_s},
                                  {"RELOAD-URI", scale.steering_uri},
                                  {"PATHWAY-PRIORITY", priority}};
  return manifest.dump();
}

void SteeringManifest::reload(const config::ScaleConfig& scale) {
  std::shared_ptr<const Served> served;
  if (!scale.pathways.empty()) {
    std::string json = steering_manifest_json(scale);
    std::string etag = net::make_etag(fmt::format("st-{:016x}", net::content_hash(json)));
    served = std::make_shared<const Served>(Served{make_bytes(std::move(json)), std::move(etag),
                                                   fmt::format("public, max-age={}", std::max(1, scale.steering_ttl_s / 2))});
  }
  std::lock_guard lock(mutex_);
  served_ = std::move(served);
}

std::shared_ptr<const SteeringManifest::Served> SteeringManifest::current() const {
  std::lock_guard lock(mutex_);
  return served_;
}

}  // namespace relay::delivery
