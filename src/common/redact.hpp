#pragma once
// The one place that decides what of a URI or a line of text may be shown: in
// logs, error messages, /api/health and --check-config. A relay on the public
// internet logs what operators paste into tickets, so nothing secret may be in it.
#include <string>
#include <string_view>

namespace relay::text {

// `text` with every secret it carries replaced by "***". `text` may be one URI
// (an ingest source, a webhook URL) or any line that contains URIs (a pipeline
// description, a GStreamer error, a config error). Hidden are:
//   - the user information of any scheme://user:password@host (all of it, since
//     a camera or a service may take a token as the user name), whatever
//     characters the password holds, percent-encoded or not;
//   - every query value but a few harmless SRT options (mode, latency, ...):
//     SRT's passphrase and stream id, a webhook's ?key=, a camera's ?token=;
//   - an RTMP URI's last path element, the stream key;
//   - passphrase=... and streamid=... outside a URI (GStreamer element properties).
std::string redact_secrets(std::string_view text);

}  // namespace relay::text
