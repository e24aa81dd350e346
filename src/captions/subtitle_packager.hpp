#pragma once
// The WebVTT subtitle renditions: one per caption language, each a media
// playlist that follows a reference video rendition segment by segment and
// part by part (same media sequence numbers, durations, PDT, discontinuities,
// target duration), published into their own store whenever the reference
// publishes. Plain C++: called on the reference's publishing thread.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "captions/cue_store.hpp"
#include "hls/store.hpp"

namespace relay::captions {

// The subtitle rendition of a language, as /live/<name>/index.m3u8: "subs-de".
std::string subtitle_rendition_name(std::string_view language_code);
std::vector<std::string> subtitle_rendition_names(const std::vector<Language>& languages);

class SubtitlePackager {
 public:
  // `subtitles` has one rendition per language of `cues`, in their order
  // (subtitle_rendition_names); both outlive this.
  SubtitlePackager(CueStore& cues, hls::Store& subtitles);

  // After every publish of the reference rendition, with its new snapshot:
  // the media it newly lists gets its subtitle files, and every language's
  // playlist is published with the same window.
  void follow(const hls::RenditionSnapshot& reference);

 private:
  struct Track {
    std::deque<std::shared_ptr<const hls::Segment>> segments;  // retained like the reference's
    uint64_t open_msn = 0;
    std::vector<hls::Part> open_parts;
    uint64_t version = 0;
  };
  void follow_track(size_t language, const hls::RenditionSnapshot& reference);
  hls::Part make_part(size_t language, const hls::Part& video) const;
  std::shared_ptr<const hls::Segment> make_segment(size_t language, const hls::Segment& video,
                                                   const Track& track) const;

  std::mutex mutex_;
  CueStore& cues_;
  hls::Store& subtitles_;
  std::vector<Track> tracks_;
};

}  // namespace relay::captions
