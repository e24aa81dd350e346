#pragma once
// The ingest.source / ingest.backup_source URI, split into what the pipeline
// builder needs. Parsing is strict so a typo fails at start with a hint, not as a
// GStreamer error once the seminar has begun.
#include <map>
#include <stdexcept>
#include <string>

#include "config/config.hpp"

namespace relay::config {

// push: another encoder (a hall relay, ffmpeg -method PUT) pushes the finished
// ladder by HTTP PUT to /ingest/; the relay republishes it without transcoding.
enum class SourceKind { test, file, srt, rtsp, rtmp, v4l2, push };

const char* to_string(SourceKind kind);

struct SourceUri {
  SourceKind kind = SourceKind::test;
  std::string text;   // the URI as written
  std::string host;   // srt, rtsp, rtmp; empty for an SRT listener on every address
  int port = 0;       // srt (required), rtsp/rtmp (0 = scheme default)
  std::string path;   // file and v4l2: the absolute path; rtsp/rtmp: the path after the host
  std::map<std::string, std::string> query;  // srt options such as mode, passphrase, latency

  // SRT only: a listener waits for senders (OBS, vMix, encoders) to push to it.
  bool srt_listener() const;
  // An SRT listener that other hosts can reach (not bound to 127.x or ::1) and
  // whose URI sets no passphrase: whoever connects first becomes the programme,
  // unless ingest.srt_passphrase is set.
  bool exposed_srt_listener() const;
  bool push() const { return kind == SourceKind::push; }
  // Sources the relay connects to, and so reconnects to with backoff.
  bool pulls() const { return kind == SourceKind::rtsp || kind == SourceKind::rtmp || (kind == SourceKind::srt && !srt_listener()); }
};

class SourceUriError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws SourceUriError with what is wrong and what is accepted.
SourceUri parse_source_uri(const std::string& text);

// Whether a valid config lets anyone on the network push the programme: an
// exposed SRT listener without any passphrase, which only ingest.allow_unauthenticated
// lets through validation.
bool accepts_unauthenticated_senders(const IngestConfig& ingest);

// An [[audio]] entry's source: an audio-only SRT or RTSP input, an ALSA capture
// device, one channel of the main input's sound, or a test tone.
enum class AudioSourceKind { srt, rtsp, alsa, channel, test };

struct AudioSource {
  AudioSourceKind kind = AudioSourceKind::test;
  SourceUri uri;        // srt and rtsp
  std::string device;   // alsa: "hw:1,0"
  int channel = 0;      // channel: 1-based
  int tone_hz = 0;      // test: 0 = the relay picks one per entry
};

// Throws SourceUriError with what is wrong and the forms accepted.
AudioSource parse_audio_source(const std::string& text);

extern const char* const kAcceptedAudioSources;

// What the URI forms are, for error messages and --help.
extern const char* const kAcceptedSources;

}  // namespace relay::config
