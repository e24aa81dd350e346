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

SteeringManifest::SteeringManifest(const config::ScaleConfig& scale) {
  if (scale.pathways.empty()) return;
  std::string json = steering_manifest_json(scale);
  etag_ = net::make_etag(fmt::format("st-{:016x}", net::content_hash(json)));
  cache_control_ = fmt::format("public, max-age={}", std::max(1, scale.steering_ttl_s / 2));
  body_ = make_bytes(std::move(json));
}

}  // namespace relay::delivery
