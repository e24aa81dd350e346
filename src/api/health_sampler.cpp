#include "api/health_sampler.hpp"

#include <cmath>

namespace relay::api {

HealthSampler::HealthSampler(const hls::Store& store, const health::IngestStatus& ingest, double window_s,
                             const health::QoeAggregator* qoe)
    : store_(store),
      ingest_(ingest),
      qoe_(qoe),
      window_ms_(static_cast<int64_t>(std::llround(window_s * 1000))),
      tracks_(store.rendition_count()) {}

health::HealthSample HealthSampler::sample(int64_t now_ms) {
  health::HealthSample s;
  s.now_ms = now_ms;
  const health::IngestSnapshot ingest = ingest_.snapshot();
  s.ingest_state = ingest.state;
  if (const health::InputInfo* input = health::on_air_input(ingest)) {
    if (input->bitrate_kbps > 0) s.input_bitrate_kbps = input->bitrate_kbps;
    if (input->framerate > 0) s.input_framerate = input->framerate;
    s.input_keyframe_interval_s = input->keyframe_interval_s;
  }
  // level posts twice a second; an old figure means the ladder stopped, which other rules report.
  if (ingest.audio_rms_db && now_ms - ingest.audio_level_epoch_ms < 3000) s.audio_rms_db = ingest.audio_rms_db;
  for (const auto& track : ingest.audio_tracks)
    if (track.state == "lost" || track.state == "waiting") s.silent_audio_tracks.push_back(track.name);
  if (qoe_) {
    health::QoeSummary q = qoe_->summary(now_ms);
    if (q.viewers > 0) s.stalls_per_viewer_minute = q.stalls_per_viewer_minute;
  }

  for (size_t i = 0; i < store_.rendition_count(); ++i) {
    health::HealthSample::Rendition r;
    r.name = store_.names()[i];
    auto snapshot = store_.rendition(i);
    Track& track = tracks_[i];
    if (snapshot && snapshot->last_segment_epoch_ms != 0) {
      r.last_segment_age_s = static_cast<double>(now_ms - snapshot->last_segment_epoch_ms) / 1000.0;
      const uint64_t msn = snapshot->last_msn;
      // A restarted packager counts again from 1: start over.
      if (!track.history.empty() && msn < track.history.back().msn) track.history.clear();
      if (track.history.empty() || msn > track.history.back().msn) {
        double media_s = 0;
        if (!track.history.empty()) {
          media_s = track.history.back().media_s;
          for (uint64_t m = track.history.back().msn + 1; m <= msn; ++m) {
            auto it = snapshot->segments.find(m);
            media_s += it != snapshot->segments.end() && it->second ? it->second->duration_s
                                                                    : snapshot->last_segment_duration_s;
          }
        }
        track.history.push_back({msn, snapshot->last_segment_epoch_ms, media_s});
      }
      // Keep one publish from before the window, so the window is covered whole.
      while (track.history.size() > 2 && track.history[1].at_ms < now_ms - window_ms_) track.history.pop_front();
      const Published& first = track.history.front();
      const Published& last = track.history.back();
      // Publishes come in bursts of a segment; half a window of them is needed for a stable figure.
      if (last.at_ms - first.at_ms >= window_ms_ / 2 && first.at_ms >= now_ms - 2 * window_ms_)
        r.realtime_factor = (last.media_s - first.media_s) / ((last.at_ms - first.at_ms) / 1000.0);
    }
    s.renditions.push_back(std::move(r));
  }
  return s;
}

}  // namespace relay::api
