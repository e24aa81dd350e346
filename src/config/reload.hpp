#pragma once
// What a config reload (SIGHUP) may change in a running relay, and what it may not.
#include <string>
#include <vector>

#include "config/config.hpp"

namespace relay::config {

// The keys that differ between the running config and a newly loaded one but
// only take effect at a restart (listen ports, the ladder, the source, paths...),
// as "section.key", in file order. The keys a reload applies live are: edge
// timeouts, caps and size limits, log.level, the qa role tokens, and the health
// alert thresholds and hold times.
std::vector<std::string> keys_needing_restart(const Config& running, const Config& loaded);

}  // namespace relay::config
