#include "hls/playlist.hpp"

#include <cmath>

#include <fmt/format.h>

#include "common/clock.hpp"

namespace relay::hls {

double hold_back(int target_duration_s) { return 3.0 * target_duration_s; }
double can_skip_until(int target_duration_s) { return 6.0 * target_duration_s; }

namespace {

double open_duration(const MediaPlaylistView& view) {
  double d = 0;
  for (const auto& p : view.open_parts) d += p.duration_s;
  return d;
}

void write_parts(std::string& out, std::string_view instance, const std::vector<Part>& parts,
                 std::string_view extension) {
  auto it = std::back_inserter(out);
  for (const auto& p : parts) {
    fmt::format_to(it, "#EXT-X-PART:DURATION={:.3f},URI=\"{}\"{}\n", p.duration_s, part_uri(instance, p.msn, p.index, extension),
                   p.independent ? ",INDEPENDENT=YES" : "");
  }
}

}  // namespace

size_t skippable_segments(const MediaPlaylistView& view) {
  if (!view.low_latency) return 0;
  double limit = can_skip_until(view.target_duration_s);
  double after = open_duration(view);  // playlist time after the end of segment i
  std::vector<double> tail(view.segments.size());
  for (size_t i = view.segments.size(); i-- > 0;) {
    tail[i] = after;
    after += view.segments[i]->duration_s;
  }
  size_t n = 0;
  while (n < view.segments.size() && tail[n] >= limit) ++n;
  return n;
}

int rounded_duration(double seconds) { return static_cast<int>(std::lround(seconds)); }

std::string write_media_playlist(const MediaPlaylistView& view) {
  std::string out;
  out.reserve(256 + view.segments.size() * 96);
  auto it = std::back_inserter(out);
  const auto& ll = view.low_latency;
  int target = view.target_duration_s;
  // Version 9 for EXT-X-SKIP; the LL tags themselves need 6 (EXT-X-MAP without I-frames).
  fmt::format_to(it, "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{}\n", ll ? 9 : 7, target);
  if (ll) {
    fmt::format_to(it,
                   "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={:.3f},HOLD-BACK={:.3f},"
                   "CAN-SKIP-UNTIL={:.3f}\n#EXT-X-PART-INF:PART-TARGET={:.3f}\n",
                   ll->part_hold_back(), hold_back(target), can_skip_until(target), ll->advertised_part_target());
  }
  uint64_t first_msn = view.segments.empty() ? (view.open_msn ? view.open_msn : 1) : view.segments.front()->msn;
  fmt::format_to(it, "#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n", first_msn);
  if (view.discontinuity_sequence > 0)
    fmt::format_to(it, "#EXT-X-DISCONTINUITY-SEQUENCE:{}\n", view.discontinuity_sequence);

  size_t skip = view.delta ? skippable_segments(view) : 0;
  // An EXT-X-MAP holds for the segments after it, up to the next one: written
  // for the first segment listed, then wherever the init section changes.
  std::string_view map = skip < view.segments.size() ? view.segments[skip]->init_uri : view.init_uri;
  if (!map.empty()) fmt::format_to(it, "#EXT-X-MAP:URI=\"{}\"\n", map);
  auto write_map_if_changed = [&](std::string_view uri) {
    if (uri.empty() || uri == map) return;
    map = uri;
    fmt::format_to(it, "#EXT-X-MAP:URI=\"{}\"\n", map);
  };
  if (skip > 0) fmt::format_to(it, "#EXT-X-SKIP:SKIPPED-SEGMENTS={}\n", skip);

  // Parts are listed only for the newest three target durations of the playlist.
  std::vector<bool> with_parts(view.segments.size(), false);
  if (ll) {
    double covered = open_duration(view);
    for (size_t i = view.segments.size(); i-- > 0 && covered < 3.0 * target;) {
      with_parts[i] = true;
      covered += view.segments[i]->duration_s;
    }
  }
  for (size_t i = skip; i < view.segments.size(); ++i) {
    const auto& seg = view.segments[i];
    if (seg->discontinuity) out += "#EXT-X-DISCONTINUITY\n";
    write_map_if_changed(seg->init_uri);
    // PDT on every segment: the capture wall clock, so players can show latency.
    fmt::format_to(it, "#EXT-X-PROGRAM-DATE-TIME:{}\n", format_iso8601_ms(seg->pdt_epoch_ms));
    if (with_parts[i]) write_parts(out, view.instance, seg->parts, view.part_extension);
    fmt::format_to(it, "#EXTINF:{:.3f},\n{}\n", seg->duration_s,
                   segment_uri(view.instance, seg->msn, view.segment_extension));
  }
  if (ll && view.open_msn != 0) {
    if (!view.open_parts.empty()) {
      if (view.open_discontinuity) out += "#EXT-X-DISCONTINUITY\n";
      write_map_if_changed(view.init_uri);
      fmt::format_to(it, "#EXT-X-PROGRAM-DATE-TIME:{}\n", format_iso8601_ms(view.open_pdt_epoch_ms));
      write_parts(out, view.instance, view.open_parts, view.part_extension);
    }
  }
  if (ll && view.hint_msn != 0)
    fmt::format_to(it, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"\n",
                   part_uri(view.instance, view.hint_msn, view.hint_index, view.part_extension));
  return out;
}

std::string write_master_playlist(const std::vector<Variant>& variants, const ContentSteering* steering) {
  std::string out = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  auto it = std::back_inserter(out);
  auto write_variant = [&](const Variant& v, std::string_view extra, std::string_view base) {
    fmt::format_to(it,
                   "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},FRAME-RATE={:.3f},"
                   "CODECS=\"{}\"{}\n{}{}\n",
                   v.bandwidth_bps, v.average_bandwidth_bps, v.width, v.height, v.frame_rate, v.codecs, extra, base,
                   v.uri);
  };
  if (!steering || steering->pathways.empty()) {
    for (const auto& v : variants) write_variant(v, "", "");
    return out;
  }
  // Players read the steering tag before the variants it groups; PATHWAY-ID
  // names where they start until the steering manifest says otherwise.
  fmt::format_to(it, "#EXT-X-CONTENT-STEERING:SERVER-URI=\"{}\",PATHWAY-ID=\"{}\"\n", steering->server_uri,
                 steering->pathways.front().id);
  for (const auto& pathway : steering->pathways) {
    for (const auto& v : variants) {
      // STABLE-VARIANT-ID tells a player that a variant on one pathway is the
      // same stream as on another, so a move keeps the rendition it was playing.
      std::string extra = fmt::format(",PATHWAY-ID=\"{}\",STABLE-VARIANT-ID=\"{}\"", pathway.id, v.stable_id);
      write_variant(v, extra, pathway.media_base);
    }
  }
  return out;
}

}  // namespace relay::hls
