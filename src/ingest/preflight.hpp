#pragma once
// What the machine must offer before the ingest builds anything: every GStreamer
// element the configured pipelines use, and a readable slate image.
#include "config/config.hpp"

namespace relay::ingest {

// Initialises GStreamer; throws std::runtime_error with one clear line naming what
// is missing.
void check_prerequisites(const config::Config& cfg);

}  // namespace relay::ingest
