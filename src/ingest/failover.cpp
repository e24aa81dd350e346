#include "ingest/failover.hpp"

#include <utility>

#include "common/log.hpp"
#include "config/source_uri.hpp"
#include "ingest/pipeline_builder.hpp"
#include "ingest/srt_refusals.hpp"

namespace relay::ingest {
namespace {

SupervisorTiming timing(const config::Config& cfg) {
  SupervisorTiming t;
  t.input_timeout_ms = static_cast<int64_t>(cfg.ingest.input_timeout_s * 1000);
  t.slate_after_ms = static_cast<int64_t>(cfg.ingest.slate_after_s * 1000);
  t.failback_ms = static_cast<int64_t>(cfg.ingest.failback_s * 1000);
  return t;
}

}  // namespace

Failover::Failover(const config::Config& cfg, const std::string& channel, GMainContext* context, GstClock* clock,
                   Selectors& selectors, health::IngestStatus& status)
    : selectors_(selectors),
      status_(status),
      log_(relay::log::get("ingest")),
      supervisor_(timing(cfg), !cfg.ingest.backup_source.empty()) {
  // The primary is on air from the start, as the supervisor assumes: an input
  // that is up at once (test:, a file) then needs no switch, and one that is
  // not shows black for the first input_timeout_s, then the slate.
  selectors_.select(Output::primary);
  status_.set_output(to_string(Output::primary));

  auto report = [&status](bool error, const std::string& element, const std::string& message) {
    if (error)
      status.record_error(element, message);
    else
      status.record_warning(element, message);
  };
  for (const auto& uri : {cfg.ingest.source, cfg.ingest.backup_source}) {
    if (!uri.empty() && config::parse_source_uri(uri).srt_listener()) watch_srt_refusals(status);
  }
  std::vector<std::string> uris = {cfg.ingest.source};
  if (!cfg.ingest.backup_source.empty()) uris.push_back(cfg.ingest.backup_source);
  for (size_t i = 0; i < uris.size(); ++i) {
    inputs_.push_back(std::make_unique<SourceInput>(cfg, static_cast<int>(i), config::parse_source_uri(uris[i]),
                                                    input_channel(channel, static_cast<int>(i)), context, clock,
                                                    report));
  }
}

void Failover::start() {
  for (auto& input : inputs_) input->start();
}

void Failover::tick(int64_t now_ms) {
  for (auto& input : inputs_) input->tick(now_ms);
  InputSample primary{inputs_[0]->last_frame_ms(), inputs_[0]->ended()};
  InputSample backup;
  if (inputs_.size() > 1) backup = {inputs_[1]->last_frame_ms(), inputs_[1]->ended()};
  // After a ladder error the state stays failed, whatever the inputs do.
  auto before = status_.snapshot().state;
  Decision d = supervisor_.tick(now_ms, primary, backup);
  follow(d);
  if (before != health::IngestState::failed) status_.set_state(d.state);
  std::vector<health::InputInfo> infos;
  for (auto& input : inputs_) infos.push_back(input->info(now_ms));
  status_.set_inputs(std::move(infos));
}

// Tells of a loss and puts the supervisor's choice on air.
void Failover::follow(const Decision& d) {
  if (d.input_lost) {
    status_.record_loss();
    log_->warn("input lost: {}", d.output == Output::backup ? "switching to the backup" : "holding the last picture");
  }
  if (d.switched) {
    selectors_.select(d.output);
    status_.set_output(to_string(d.output));
    log_->info("on air: {}", to_string(d.output));
  }
}

}  // namespace relay::ingest
