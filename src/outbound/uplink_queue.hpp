#pragma once
// What the hall's uplink still has to push for one rendition, in the order the
// receiver needs it: the init section before the media that needs it, each
// media object before the playlist that lists it, then that playlist. Plain
// C++ (no GLib, no sockets), so the order, the "each byte once" rule and the
// outage policy are tested directly.
//
// Each media byte travels once: with LL-HLS parts, the parts and never the
// whole segment (the receiver assembles segments from them); without parts
// (part target 0, MPEG-TS) whole segments. Playlists are coalesced: a newer
// playlist replaces an unsent older one unless a segment starts between them,
// so a backlog still carries one playlist per segment for the receiver to
// place the media by. The backlog is bounded in media seconds and in bytes;
// beyond either, whole segments are dropped from the oldest and the queue
// resumes at a segment start (the receiver sees a gap, not half a segment).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.hpp"
#include "hls/store.hpp"

namespace relay::outbound {

enum class UplinkObjectKind { init, part, segment, playlist };

struct UplinkObject {
  UplinkObjectKind kind = UplinkObjectKind::part;
  std::string path;          // "<rendition>/<file>", relative to uplink.url
  std::string_view content_type;
  Bytes data;
  uint64_t msn = 0;
  double duration_s = 0;       // media seconds it carries; 0 for init and playlists
  bool segment_start = false;  // the first media object of a segment
  int64_t queued_ms = 0;       // monotonic, for the lag
};

struct UplinkLimits {
  double backlog_s = 30;                   // media seconds waiting, at most
  size_t backlog_bytes = 64 * 1024 * 1024; // bytes waiting (media and playlists), at most
};

class RenditionUplinkQueue {
 public:
  RenditionUplinkQueue(std::string rendition, UplinkLimits limits);

  // Queues what `snapshot` holds that was not queued before. Nothing is queued
  // before the rendition's first playlist, which names the init section; the
  // media published before it is still in the snapshot then.
  void update(const hls::RenditionSnapshot& snapshot, int64_t now_ms);

  // The object to send next, now in flight (it stays queued and is not dropped
  // until finish_send or retry_later); nullopt when empty or already sending.
  std::optional<UplinkObject> begin_send();
  // The object in flight was delivered (or refused for good): off the queue.
  void finish_send();
  // The object in flight failed and will be tried again; meanwhile an overflow may drop it.
  void retry_later();

  bool empty() const { return queue_.empty(); }
  bool sending() const { return in_flight_; }
  size_t size() const { return queue_.size(); }
  double backlog_s() const { return backlog_s_; }
  size_t backlog_bytes() const { return backlog_bytes_; }
  // When the oldest object still queued was queued (monotonic ms); nullopt when empty.
  std::optional<int64_t> oldest_queued_ms() const;
  uint64_t segments_dropped() const { return segments_dropped_; }
  const std::deque<UplinkObject>& queued() const { return queue_; }

 private:
  void push(UplinkObject object);
  void push_media(UplinkObject object);
  void push_playlist(UplinkObject object);
  void queue_segment_media(const hls::RenditionSnapshot& snapshot, const hls::Segment& segment, int64_t now_ms);
  void queue_part(const hls::RenditionSnapshot& snapshot, const hls::Part& part, int64_t now_ms);
  void erase_at(size_t index);
  void enforce_limits();
  bool drop_oldest_segment();
  std::string path_of(std::string_view file) const { return rendition_ + "/" + std::string(file); }

  std::string rendition_;
  UplinkLimits limits_;
  std::deque<UplinkObject> queue_;
  bool in_flight_ = false;  // the front is being sent
  double backlog_s_ = 0;
  size_t backlog_bytes_ = 0;
  uint64_t segments_dropped_ = 0;

  // Where the next media starts: part `next_part_` of segment `next_msn_`
  // (whole segment `next_msn_` without parts). next_msn_ == 0: not started.
  uint64_t next_msn_ = 0;
  size_t next_part_ = 0;
  Bytes queued_init_, queued_playlist_;
  std::string queued_init_uri_;
};

}  // namespace relay::outbound
