#include "hls/playlist.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/clock.hpp"

namespace relay::hls {

std::string segment_uri(uint64_t msn) { return fmt::format("seg{}.m4s", msn); }

int rounded_duration(double seconds) { return static_cast<int>(std::lround(seconds)); }

std::string write_media_playlist(const MediaPlaylistView& view) {
  std::string out;
  out.reserve(256 + view.segments.size() * 96);
  auto it = std::back_inserter(out);
  fmt::format_to(it, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n", view.target_duration_s);
  uint64_t first_msn = view.segments.empty() ? 1 : view.segments.front()->msn;
  fmt::format_to(it, "#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n", first_msn);
  if (!view.init_uri.empty()) fmt::format_to(it, "#EXT-X-MAP:URI=\"{}\"\n", view.init_uri);
  for (const auto& seg : view.segments) {
    if (seg->discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    // PDT on every segment: the capture wall clock, so players can show latency.
    fmt::format_to(it, "#EXT-X-PROGRAM-DATE-TIME:{}\n", format_iso8601_ms(seg->pdt_epoch_ms));
    fmt::format_to(it, "#EXTINF:{:.3f},\n{}\n", seg->duration_s, segment_uri(seg->msn));
  }
  return out;
}

std::string write_master_playlist(const std::vector<Variant>& variants) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  auto it = std::back_inserter(out);
  for (const auto& v : variants) {
    fmt::format_to(it,
                   "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE={:.3f},"
                   "CODECS=\"{}\"\n{}\n",
                   v.bandwidth_bps, v.average_bandwidth_bps, v.width, v.height, v.frame_rate, v.codecs, v.uri);
  }
  return out;
}

}  // namespace relay::hls
