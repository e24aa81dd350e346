#pragma once
// libsrt refuses a sender with a wrong or missing passphrase inside its handshake;
// srtsrc never hears of it. GStreamer's srt plugin routes libsrt's log into the
// "srtlib" debug category, so the refusal is read from there.
#include "health/ingest_status.hpp"

namespace relay::ingest {

// Logs each refusal and records it in `status` from now on. The log hook is
// process-wide and installed once; a later call only redirects it to `status`.
void watch_srt_refusals(health::IngestStatus& status);

}  // namespace relay::ingest
