// seminar-relay: camera in, adaptive HLS out, one process.
// Wiring and lifetime only: config → store → edge → ingest, then wait for a signal
// and stop in the reverse order (stop accepting, close sessions, stop the
// pipelines, join threads).
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "config/reload.hpp"
#include "edge/server.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "hls/master.hpp"
#include "hls/store.hpp"
#include "ingest/ingest.hpp"
#include "ingest/pipeline_builder.hpp"
#include "qa/service.hpp"
#include "relay/webhook.hpp"

namespace {

constexpr const char* kUsage =
    "usage: seminar-relay --config FILE [--set section.key=value ...] [--check-config]\n"
    "\n"
    "  --config FILE      the TOML config (see config/relay.toml for every key)\n"
    "  --set KEY=VALUE    override one config key, e.g. --set edge.listen=127.0.0.1:9000\n"
    "  --check-config     validate the config, print a summary and exit\n"
    "  --help             this text\n";

struct Args {
  std::string config;
  std::vector<std::string> overrides;
  bool check_only = false;
};

// Every viewer is a socket, and the usual soft limit of 1,024 open files would cap
// an edge at about a thousand. Take what the hard limit allows, as nginx's
// worker_rlimit_nofile does.
void raise_open_file_limit(spdlog::logger& logger) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0)
    logger.debug("open file limit raised from {} to {}", before, limit.rlim_cur);
  else
    logger.warn("cannot raise the open file limit above {}: at most about that many viewers", before);
}

int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "seminar-relay: error: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace relay;
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", flag));
      return argv[++i];
    };
    try {
      if (a == "--config") {
        args.config = value("--config");
      } else if (a.rfind("--config=", 0) == 0) {
        args.config = a.substr(9);
      } else if (a == "--set") {
        args.overrides.push_back(value("--set"));
      } else if (a.rfind("--set=", 0) == 0) {
        args.overrides.push_back(a.substr(6));
      } else if (a == "--check-config") {
        args.check_only = true;
      } else if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        return 0;
      } else {
        std::fputs(kUsage, stderr);
        return fail(fmt::format("unknown argument '{}'", a), 2);
      }
    } catch (const std::invalid_argument& e) {
      return fail(e.what(), 2);
    }
  }
  if (args.config.empty()) {
    std::fputs(kUsage, stderr);
    return fail("no config file given (--config FILE)", 2);
  }

  config::Config cfg;
  try {
    cfg = config::load_config(args.config, args.overrides);
  } catch (const config::ConfigError& e) {
    return fail(e.what(), 2);
  }
  if (args.check_only) {
    std::printf("%s: ok (source %s, %zu renditions, listen %s)\n", args.config.c_str(), ingest::redact_uri(cfg.ingest.source).c_str(),
                cfg.encoder.renditions.size(), cfg.edge.listen.c_str());
    return 0;
  }
  log::set_level(cfg.log.level);
  auto logger = log::get("app");

  // Signals are taken synchronously on this thread; every thread started below
  // inherits the mask, so none of them is interrupted by SIGINT/SIGTERM/SIGHUP.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit(*logger);

  std::vector<std::string> names;
  std::vector<hls::VariantSpec> specs;
  for (const auto& r : cfg.encoder.renditions) {
    names.push_back(r.name);
    specs.push_back({r.name, r.bitrate_kbps, cfg.encoder.audio_bitrate_kbps, cfg.encoder.vbv_buffer_s,
                     cfg.hls.segment_duration_s, double(cfg.ingest.framerate)});
  }
  hls::Store store(names);
  hls::MasterPlaylist master(specs, store);
  health::IngestStatus status(ingest::redact_uri(cfg.ingest.source));

  // The Q&A outlives the edge that serves it; its database is opened before
  // anything listens, so a bad qa.data_dir stops the relay at once.
  std::unique_ptr<qa::Service> questions;
  try {
    questions = std::make_unique<qa::Service>(cfg.qa, [] { return now_epoch_ms(); });
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  if (cfg.qa.moderator_tokens.empty() && cfg.qa.admin_tokens.empty())
    logger->warn("no qa.moderator_tokens set: nobody can moderate the Q&A on /moderator");

  // Alerts go to the incident log and, when configured, to a webhook; neither
  // blocks the edge's health timer that raises them.
  std::unique_ptr<health::Monitor> monitor;
  std::unique_ptr<outbound::WebhookSender> webhooks;
  try {
    monitor = std::make_unique<health::Monitor>(cfg, now_epoch_ms());
    monitor->set_pending_questions([q = questions.get()] { return q->pending_questions(); });
    if (!cfg.health.webhook_url.empty()) {
      webhooks = std::make_unique<outbound::WebhookSender>(outbound::WebhookOptions{
          cfg.health.webhook_url, cfg.health.webhook_secret, cfg.health.webhook_retries, cfg.health.webhook_timeout_s});
      monitor->set_listener([&webhooks, source = status.snapshot().source](const health::AlertEvent& event,
                                                                           uint64_t incident) {
        webhooks->send(outbound::alert_payload(event, incident, source));
      });
    }
  } catch (const std::exception& e) {
    return fail(e.what());
  }

  edge::Server server(cfg, store, status, {}, questions.get(), monitor.get());
  ingest::Ingest ingest(cfg, store, master, status);
  try {
    server.start();
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  try {
    ingest.start();
  } catch (const std::exception& e) {
    server.stop();
    return fail(e.what());
  }
  logger->info("serving http://{}/ (port {})", cfg.edge.listen, server.port());
  if (server.tls_port() != 0) logger->info("serving https://{}/ (port {})", cfg.edge.tls_listen, server.tls_port());

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    // Reload: the same file and --set overrides as at start. A config that does
    // not load changes nothing; one that does is applied where it can be live.
    logger->info("SIGHUP received, reloading {}", args.config);
    config::Config loaded;
    try {
      loaded = config::load_config(args.config, args.overrides);
    } catch (const config::ConfigError& e) {
      logger->error("reload failed, keeping the running settings: {}", e.what());
      continue;
    }
    for (const auto& key : config::keys_needing_restart(cfg, loaded))
      logger->warn("reload: {} changed; it needs a restart to take effect", key);
    server.reload(loaded.edge);
    questions->set_role_tokens(loaded.qa);
    monitor->reconfigure(loaded.health);
    log::set_level(loaded.log.level);
    if (loaded.qa.moderator_tokens.empty() && loaded.qa.admin_tokens.empty())
      logger->warn("no qa.moderator_tokens set: nobody can moderate the Q&A on /moderator");
    logger->info("reloaded");
  }
  logger->info("{} received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  // In-flight responses finish first (edge.shutdown_grace_s), then everything closes.
  server.drain();
  server.stop();
  ingest.stop();
  logger->info("stopped");
  return 0;
}
