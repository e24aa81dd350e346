#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "delivery/steering_manifest.hpp"

using relay::config::ScaleConfig;
using relay::delivery::SteeringManifest;
using relay::delivery::steering_manifest_json;

namespace {
ScaleConfig two_caches() {
  ScaleConfig scale;
  scale.pathways = {{"cache-a", "https://a.example.org/"}, {"cache-b", "https://b.example.org/"}};
  scale.steering_ttl_s = 10;
  return scale;
}
}  // namespace

TEST_CASE("the steering manifest has VERSION 1, the TTL, RELOAD-URI and the pathways in config order",
          "[steering]") {
  const auto manifest = nlohmann::json::parse(steering_manifest_json(two_caches()));
  CHECK(manifest == nlohmann::json::parse(R"({"VERSION":1,"TTL":10,"RELOAD-URI":"steering.json",
                                              "PATHWAY-PRIORITY":["cache-a","cache-b"]})"));
  // The keys in the spec's order, VERSION first (a reader need not look further on a newer version).
  CHECK(steering_manifest_json(two_caches()).starts_with(R"({"VERSION":1,"TTL":10,)"));
}

TEST_CASE("the served manifest: cached half its TTL, none without pathways, a new order on reload", "[steering]") {
  ScaleConfig scale = two_caches();
  SteeringManifest manifest(scale);
  auto served = manifest.current();
  REQUIRE(served);
  CHECK(*served->body == steering_manifest_json(scale));
  CHECK(served->cache_control == "public, max-age=5");
  CHECK(served->etag.starts_with("\"st-"));

  // SIGHUP with cache-a drained: B first, a new tag; what was handed out stays as it was.
  std::swap(scale.pathways[0], scale.pathways[1]);
  scale.steering_ttl_s = 1;
  manifest.reload(scale);
  auto reloaded = manifest.current();
  REQUIRE(reloaded);
  CHECK(nlohmann::json::parse(*reloaded->body)["PATHWAY-PRIORITY"] == nlohmann::json::array({"cache-b", "cache-a"}));
  CHECK(reloaded->cache_control == "public, max-age=1");
  CHECK(reloaded->etag != served->etag);
  CHECK(nlohmann::json::parse(*served->body)["PATHWAY-PRIORITY"][0] == "cache-a");

  scale.pathways.clear();
  CHECK_FALSE(SteeringManifest(scale).current());
}
