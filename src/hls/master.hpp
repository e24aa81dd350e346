#pragma once
// The master playlist: one variant per rendition (per cache path, with content
// steering), with BANDWIDTH never below the peak segment bitrate actually served
// and CODECS read from the real init sections.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hls/playlist.hpp"
#include "hls/store.hpp"

namespace relay::hls {

struct VariantSpec {
  std::string name;
  int bitrate_kbps = 0;        // video target bitrate (also the VBV maximum rate)
  int audio_bitrate_kbps = 0;
  double vbv_buffer_s = 0;     // VBV buffer, in seconds of bitrate
  double segment_duration_s = 2;
  double frame_rate = 30;      // nominal, until segments are measured
};

// Upper bound for a segment's bitrate from the encoder settings: a VBV-capped
// encoder can put at most rate × (D + buffer) bits in D seconds; plus audio and the
// fMP4 boxes around the samples.
uint64_t bandwidth_bound_bps(const VariantSpec& spec);

// A WebVTT subtitles rendition (live captions) of the master's "subs" group.
struct SubtitleRendition {
  std::string language;  // LANGUAGE, e.g. "de"
  std::string name;      // NAME, e.g. "Deutsch"
  std::string uri;       // relative to the master, e.g. "subs-de/index.m3u8"
};
inline constexpr std::string_view kSubtitleGroup = "subs";

// The master text with one EXT-X-MEDIA:TYPE=SUBTITLES line per rendition before
// the first variant, and every variant naming the group; unchanged without any.
std::string with_subtitles(std::string master, const std::vector<SubtitleRendition>& subtitles);
// The audio menu ([[audio]]): one EXT-X-MEDIA per track, the first the default.
// A track without URI is the sound muxed into the variants (RFC 8216 4.3.4.1);
// the relay gives every track a URI (the floor included, ingest/ladder.cpp).
struct AudioTrack {
  std::string name;
  std::string language;  // empty: no LANGUAGE attribute
  std::string uri;       // empty: the sound muxed into the variants
  uint64_t peak_bps = 0;  // bound of the track's segment bitrate, added to BANDWIDTH
};
struct AudioGroup {
  std::string id = "aud";
  // What the tracks are, added to a variant's CODECS that lacks it (video-only
  // variants: CODECS names every format a player may fetch for the variant).
  std::string codecs = "mp4a.40.2";
  std::vector<AudioTrack> tracks;  // the first one is the DEFAULT
};

// `master` with one EXT-X-MEDIA:TYPE=AUDIO per track before the variants, and
// AUDIO="<id>" on every variant.
std::string add_audio_group(const std::string& master, const AudioGroup& group);

class MasterPlaylist {
 public:
  // With `steering`, the master names every pathway (content steering); without,
  // it has one relative URI per variant.
  MasterPlaylist(std::vector<VariantSpec> specs, Store& store, std::optional<ContentSteering> steering = std::nullopt);

  // From a rendition's packager: the real stream's properties once its init is known.
  void set_stream_info(size_t rendition, int width, int height, std::string codecs);
  // From a rendition's packager, for every finished segment.
  void add_segment(size_t rendition, size_t bytes, double duration_s, double frame_rate);

  uint64_t peak_bps(size_t rendition) const;

  // Live captions: the subtitle renditions every variant offers. Before the ingest starts.
  void set_subtitles(std::vector<SubtitleRendition> subtitles);
  // Interpreter tracks: listed once every video variant is described.
  void set_audio_group(AudioGroup group);

 private:
  struct Entry {
    VariantSpec spec;
    int width = 0, height = 0;
    std::string codecs;
    double frame_rate = 0;
    uint64_t peak_bps = 0;
    double total_bytes = 0, total_seconds = 0;
  };
  void republish_locked();

  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  Store& store_;
  std::optional<ContentSteering> steering_;
  std::vector<SubtitleRendition> subtitles_;
  std::optional<AudioGroup> audio_;
};

}  // namespace relay::hls
