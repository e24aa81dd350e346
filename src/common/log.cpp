#include "common/log.hpp"

#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/redact.hpp"

namespace relay::log {
namespace {
std::mutex g_mutex;
spdlog::level::level_enum g_level = spdlog::level::info;

// Every line passes text::redact_secrets on its way out, so a URI with a
// password or a key that some module (or a GStreamer message) puts into a log
// line is hidden even where no caller thought of it.
class RedactingSink final : public spdlog::sinks::sink {
 public:
  explicit RedactingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}
  void log(const spdlog::details::log_msg& msg) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const std::string redacted = text::redact_secrets(payload);
    if (redacted == payload) {
      inner_->log(msg);
      return;
    }
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(redacted.data(), redacted.size());
    inner_->log(copy);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override { inner_->set_formatter(std::move(formatter)); }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

std::shared_ptr<spdlog::sinks::sink> shared_sink() {
  static const auto sink =
      std::make_shared<RedactingSink>(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  return sink;
}
}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = std::make_shared<spdlog::logger>(module, shared_sink());
  spdlog::register_logger(logger);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  logger->set_level(g_level);
  return logger;
}

void set_level(const std::string& level) {
  std::lock_guard lock(g_mutex);
  g_level = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(g_level); });
}

}  // namespace relay::log
