// seminar-relay: camera in, adaptive HLS out, one process.
// The setup steps: read the arguments and the config, mask the signals, build
// and start the relay (app/relay.cpp wires it), then wait for a signal: SIGHUP
// reloads, SIGINT/SIGTERM stop in the reverse order of start.
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <variant>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "app/relay.hpp"
#include "app/remux_command.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "config/config.hpp"
#include "qa/store.hpp"
#include "recording/recorder.hpp"
#include "recording/retention.hpp"

namespace {

constexpr const char* kUsage =
    "usage: seminar-relay --config FILE [--set section.key=value ...] [--check-config]\n"
    "       seminar-relay purge --config FILE [--set ...] [--before YYYY-MM-DD]\n"
    "       seminar-relay remux-mp4 --out FILE --init INIT SEGMENT... [--init INIT SEGMENT...]\n"
    "\n"
    "  --config FILE      the TOML config (see config/relay.toml for every key)\n"
    "  --set KEY=VALUE    override one config key, e.g. --set edge.listen=127.0.0.1:9000\n"
    "  --check-config     validate the config, print a summary and exit\n"
    "  --help             this text\n"
    "\n"
    "  purge              delete the recorded events with nothing after --before (a UTC\n"
    "                     date), or older than recording.retention_days (never today's),\n"
    "                     and the Q&A's questions, votes and attendees created before\n"
    "                     --before, or older than qa.retention_days, compact the database\n"
    "                     and print what went; the Q&A part is refused while a relay uses it\n"
    "  remux-mp4          one MP4 with its index first from recorded fMP4 segments and their\n"
    "                     init section, samples copied; each further --init starts a run\n"
    "                     (a relay restart) that follows the previous one; --large-offsets\n"
    "                     writes 64-bit offsets even for a small file\n";

struct Args {
  std::string config;
  std::vector<std::string> overrides;
  bool check_only = false;
  bool purge = false;
  std::optional<int64_t> before_ms;  // purge --before, midnight UTC
};

// YYYY-MM-DD as milliseconds since the epoch at 00:00 UTC.
std::optional<int64_t> parse_date(const std::string& text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char end = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &end) != 3) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)};
  if (!date.ok()) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::sys_days(date).time_since_epoch()).count();
}

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

// Start-up errors quote config values, URIs and arguments: redacted like every log line.
int fail(const std::string& message, int code = 1) {
  std::fprintf(stderr, "seminar-relay: error: %s\n", relay::text::redact_secrets(message).c_str());
  return code;
}

// The arguments, or the exit code when main() should end at once (--help, a bad argument).
std::variant<Args, int> parse_args(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "remux-mp4") return relay::app::remux_command(argc - 2, argv + 2);
  Args args;
  int first = 1;
  if (argc > 1 && std::string(argv[1]) == "purge") {
    args.purge = true;
    first = 2;
  }
  for (int i = first; i < argc; ++i) {
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
      } else if (a == "--check-config" && !args.purge) {
        args.check_only = true;
      } else if (a == "--before" && args.purge) {
        const std::string date = value("--before");
        args.before_ms = parse_date(date);
        if (!args.before_ms) throw std::invalid_argument(fmt::format("--before '{}' is not a date (YYYY-MM-DD)", date));
      } else if (a == "--help" || a == "-h") {
        std::fputs(kUsage, stdout);
        std::fputs(relay::app::kRemuxHelp, stdout);
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
  return args;
}

// `seminar-relay purge`: what qa.retention_days does once a day, on demand,
// with no relay running on the data folder (the database's lock refuses it).
// The recorded events (recording.dir) before the cut-off go first; the event a
// relay records today (recording.event, or today's UTC day) is never removed.
void purge_recordings(const relay::config::Config& cfg, std::optional<int64_t> before_ms) {
  using namespace relay;
  if (!before_ms) before_ms = recording::retention_cutoff(now_epoch_ms(), cfg.recording.retention_days);
  if (!before_ms || !std::filesystem::exists(cfg.recording.dir)) return;
  const std::string keep = cfg.recording.event.empty() ? recording::utc_day(now_epoch_ms()) : cfg.recording.event;
  std::vector<std::string> errors;
  const auto removed = recording::purge_events(cfg.recording.dir, *before_ms, keep, &errors);
  for (const auto& name : removed)
    std::printf("removed recorded event %s (nothing in it after %s) from %s\n", name.c_str(),
                format_iso8601_ms(*before_ms).c_str(), cfg.recording.dir.c_str());
  for (const auto& error : errors) std::fprintf(stderr, "seminar-relay: could not remove %s\n", error.c_str());
  if (removed.empty() && errors.empty())
    std::printf("no recorded event before %s in %s\n", format_iso8601_ms(*before_ms).c_str(),
                cfg.recording.dir.c_str());
}

int purge(const relay::config::Config& cfg, std::optional<int64_t> before_ms) {
  using namespace relay;
  purge_recordings(cfg, before_ms);
  if (!before_ms) {
    if (cfg.qa.retention_days <= 0)
      return fail("nothing to purge: qa.retention_days is 0 (keep forever); give --before YYYY-MM-DD", 2);
    before_ms = now_epoch_ms() - int64_t{cfg.qa.retention_days} * 24 * 3600 * 1000;
  }
  const std::filesystem::path file = cfg.qa.data_dir / "qa.sqlite3";
  if (cfg.qa.database == "sqlite" && !std::filesystem::exists(file))
    return fail(fmt::format("no Q&A database at '{}' (qa.data_dir)", file.string()));
  try {
    const std::unique_ptr<qa::Store> store = qa::open_store(cfg.qa);
    const qa::Store::Purged purged = store->purge(*before_ms);
    std::printf("deleted %lld questions, %lld votes and %lld attendees created before %s from %s\n",
                static_cast<long long>(purged.questions), static_cast<long long>(purged.votes),
                static_cast<long long>(purged.attendees), format_iso8601_ms(*before_ms).c_str(),
                store->describe().c_str());
  } catch (const qa::StoreError& e) {
    return fail(e.what());
  }
  return 0;
}

// Signals are taken synchronously on the main thread; every thread started
// after this inherits the mask, so none of them is interrupted by SIGINT/SIGTERM/SIGHUP.
sigset_t block_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

// Until SIGINT or SIGTERM: a SIGHUP reloads the same file and --set overrides
// as at start. A config that does not load changes nothing; one that does is
// applied where it can be live.
int wait_for_stop(const sigset_t& signals, const Args& args, relay::app::Relay& running) {
  auto logger = relay::log::get("app");
  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) return sig;
    logger->info("SIGHUP received, reloading {}", args.config);
    relay::config::Config loaded;
    try {
      loaded = relay::config::load_config(args.config, args.overrides);
    } catch (const relay::config::ConfigError& e) {
      logger->error("reload failed, keeping the running settings: {}", e.what());
      continue;
    }
    running.reload(loaded);
    logger->info("reloaded");
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace relay;
  auto parsed = parse_args(argc, argv);
  if (auto* code = std::get_if<int>(&parsed)) return *code;
  const Args& args = std::get<Args>(parsed);

  config::Config cfg;
  try {
    cfg = config::load_config(args.config, args.overrides);
  } catch (const config::ConfigError& e) {
    return fail(e.what(), 2);
  }
  if (args.purge) return purge(cfg, args.before_ms);
  if (args.check_only) {
    std::printf("%s: ok (source %s, %zu renditions, listen %s)\n", args.config.c_str(),
                text::redact_secrets(cfg.ingest.source).c_str(), cfg.encoder.renditions.size(), cfg.edge.listen.c_str());
    return 0;
  }
  log::set_level(cfg.log.level);
  auto logger = log::get("app");
  const sigset_t signals = block_signals();
  raise_open_file_limit(*logger);

  std::unique_ptr<app::Relay> running;
  try {
    running = std::make_unique<app::Relay>(cfg);
    running->start();
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  logger->info("serving http://{}/ (port {})", cfg.edge.listen, running->port());
  if (running->tls_port() != 0)
    logger->info("serving https://{}/ (port {})", cfg.edge.tls_listen, running->tls_port());

  const int sig = wait_for_stop(signals, args, *running);
  logger->info("{} received, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  running->stop();
  logger->info("stopped");
  return 0;
}
