#pragma once
// The inputs and which of them is on air. The primary and (when configured) the
// backup each run as a SourceInput; at every tick the Supervisor decides from
// their newest pictures whether the primary, the backup or the slate is on air,
// the selectors follow, and health hears of losses, switches and each input's
// measures. Lives on the ingest's GLib thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <glib.h>
#include <gst/gst.h>
#include <spdlog/logger.h>

#include "config/config.hpp"
#include "health/ingest_status.hpp"
#include "ingest/selectors.hpp"
#include "ingest/source_input.hpp"
#include "ingest/supervisor.hpp"

namespace relay::ingest {

class Failover {
 public:
  // Puts the primary on air and makes the inputs, which write into `channel`'s
  // inter* channels; they run on `context` and `clock`.
  Failover(const config::Config& cfg, const std::string& channel, GMainContext* context, GstClock* clock,
           Selectors& selectors, health::IngestStatus& status);
  Failover(const Failover&) = delete;
  Failover& operator=(const Failover&) = delete;

  // Starts every input; see SourceInput::start for what throws.
  void start();
  void tick(int64_t now_ms);

 private:
  void follow(const Decision& d);

  Selectors& selectors_;
  health::IngestStatus& status_;
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<SourceInput>> inputs_;
  Supervisor supervisor_;
};

}  // namespace relay::ingest
