#pragma once
// The hall relay's uplink: pushes every rendition's init section, parts (or
// whole segments without LL-HLS parts) and media playlist, and the master
// playlist, to a relay in the cloud by HTTP PUT, as HLS ingest does (ffmpeg's
// `-method PUT`, AWS MediaPackage):
//   PUT <url>/<rendition>/<file as the playlist names it>
//   PUT <url>/<rendition>/index.m3u8      the full media playlist
//   PUT <url>/master.m3u8                 when it changes
// with "Authorization: Bearer <token>". Each rendition's objects go one at a
// time, in order (outbound/uplink_queue), over a kept-alive connection; a
// failed one is tried again with doubling backoff (0.5 s to 5 s) while a
// bounded backlog keeps the newest media. libsoup runs on a thread of its own
// with its own GLib main context (as the webhook sender's), so neither the
// ingest's GLib loop nor an edge thread ever waits for the uplink.
#include <cstddef>
#include <memory>
#include <string>

#include "health/uplink_status.hpp"
#include "hls/store.hpp"

namespace relay::outbound {

struct UplinkOptions {
  std::string url;             // base URL, e.g. "https://cloud.example/ingest"
  std::string token;           // sent as a bearer token; never logged
  double timeout_s = 5;        // one PUT without progress this long fails
  double backlog_s = 30;       // media seconds kept per rendition during an outage
  size_t backlog_bytes = 64 * 1024 * 1024;  // bytes kept, all renditions together
  double first_backoff_s = 0.5;  // then doubling, up to max_backoff_s
  double max_backoff_s = 5;
};

class UplinkSender {
 public:
  // Subscribes to the store's publishes and starts the sender's thread. Throws
  // std::runtime_error when the URL is not an http:// or https:// one libsoup
  // accepts. (Which URLs are allowed at all, http:// only to loopback unless
  // uplink.allow_insecure, the config decides.)
  UplinkSender(UplinkOptions options, hls::Store& store);
  // Unsubscribes and stops the thread; what was not pushed yet is dropped.
  ~UplinkSender();
  UplinkSender(const UplinkSender&) = delete;
  UplinkSender& operator=(const UplinkSender&) = delete;

  // Any thread.
  health::UplinkStatus status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relay::outbound
