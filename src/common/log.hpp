#pragma once
// Logging: one spdlog logger per module, so every line says where it came from.
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace relay::log {

// The logger for a module ("edge", "ingest", ...); created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& module);

// Sets the level of every module logger ("trace", "debug", "info", "warn", "error").
void set_level(const std::string& level);

}  // namespace relay::log
