#include "ingest/srt_refusals.hpp"

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

#include <gst/gst.h>

#include "common/log.hpp"

namespace relay::ingest {
namespace {

std::atomic<health::IngestStatus*> g_refusal_status{nullptr};

void on_gst_log(GstDebugCategory* category, GstDebugLevel, const gchar*, const gchar*, gint, GObject*,
                GstDebugMessage* message, gpointer) {
  if (std::strcmp(gst_debug_category_get_name(category), "srtlib") != 0) return;
  const gchar* text = gst_debug_message_get(message);
  const char* reject = text ? std::strstr(text, "rsp(REJECT): ") : nullptr;
  if (!reject) return;
  std::string why = reject + std::strlen("rsp(REJECT): ");
  if (auto dash = why.find(" - "); dash != std::string::npos) why = why.substr(dash + 3);
  relay::log::get("ingest")->warn("refused an SRT sender: {}", why);
  if (auto* status = g_refusal_status.load()) status->record_refusal(why);
}

}  // namespace

void watch_srt_refusals(health::IngestStatus& status) {
  static std::once_flag once;
  g_refusal_status = &status;
  std::call_once(once, [] {
    // Without GST_DEBUG nothing reads GStreamer's debug log; keep it that way
    // rather than print libsrt's chatter to the console.
    if (!g_getenv("GST_DEBUG")) gst_debug_remove_log_function(gst_debug_log_default);
    if (gst_debug_get_default_threshold() < GST_LEVEL_INFO) gst_debug_set_threshold_for_name("srtlib", GST_LEVEL_INFO);
    gst_debug_add_log_function(&on_gst_log, nullptr, nullptr);
  });
}

}  // namespace relay::ingest
