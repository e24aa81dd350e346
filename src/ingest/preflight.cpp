#include "ingest/preflight.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <unistd.h>

#include "config/source_uri.hpp"
#include "gst/init.hpp"

namespace relay::ingest {
namespace {

const std::vector<std::string> kRequiredElements = {
    "videotestsrc", "audiotestsrc",  "clockoverlay",   "uridecodebin",  "decodebin",     "videoconvert",
    "videoscale",   "videorate",     "audioconvert",   "audioresample", "intervideosink", "intervideosrc",
    "interaudiosink", "interaudiosrc", "input-selector", "imagefreeze", "textoverlay",   "x264enc",
    "h264parse",    "avenc_aac",     "aacparse",       "mp4mux",        "appsink",       "tee",
    "queue",        "mpegtsmux",     "level",          "jpegenc"};

// The element each input kind needs beyond the common ones.
const char* input_element(config::SourceKind kind) {
  switch (kind) {
    case config::SourceKind::srt: return "srtsrc";
    case config::SourceKind::rtsp: return "rtspsrc";
    case config::SourceKind::rtmp: return "rtmpsrc";
    case config::SourceKind::v4l2: return "v4l2src";
    default: return nullptr;
  }
}

}  // namespace

void check_prerequisites(const config::Config& cfg) {
  auto required = kRequiredElements;
  for (const auto& uri : {cfg.ingest.source, cfg.ingest.backup_source}) {
    if (uri.empty()) continue;
    if (const char* e = input_element(config::parse_source_uri(uri).kind)) required.push_back(e);
  }
  // [[audio]] tracks' inputs (channel: needs nothing beyond the ladder's own).
  for (const auto& track : cfg.audio) {
    switch (config::parse_audio_source(track.source).kind) {
      case config::AudioSourceKind::srt: required.push_back("srtsrc"); break;
      case config::AudioSourceKind::rtsp: required.push_back("rtspsrc"); break;
      case config::AudioSourceKind::alsa: required.push_back("alsasrc"); break;
      case config::AudioSourceKind::test: required.push_back("audiotestsrc"); break;
      case config::AudioSourceKind::channel: break;
    }
  }
  if (!cfg.ingest.slate_image.empty()) {
    if (::access(cfg.ingest.slate_image.c_str(), R_OK) != 0)
      throw std::runtime_error(fmt::format("cannot read ingest.slate_image '{}': {}", cfg.ingest.slate_image.string(),
                                           std::strerror(errno)));
  }
  auto missing = gst::init_and_check(required);
  if (!missing.empty()) {
    std::string list;
    for (auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw std::runtime_error(fmt::format(
        "GStreamer elements missing: {} (run scripts/setup.sh to install the plugin packages)", list));
  }
}

}  // namespace relay::ingest
