#include "gst/bus_problem.hpp"

#include "common/redact.hpp"
#include "gst/handles.hpp"

namespace relay::gst {

BusProblem read_problem(GstMessage* msg) {
  GError* raw = nullptr;
  gchar* debug = nullptr;
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR)
    gst_message_parse_error(msg, &raw, &debug);
  else
    gst_message_parse_warning(msg, &raw, &debug);
  ErrorPtr err(raw);
  CharPtr dbg(debug);
  BusProblem p;
  if (GstObject* src = GST_MESSAGE_SRC(msg)) {
    CharPtr path(gst_object_get_path_string(src));
    p.element = to_string(path);
  } else {
    p.element = "pipeline";
  }
  // An element's messages may quote its URI (rtspsrc names its location, with
  // the password): redacted here, before a log, /api/health or an alert sees them.
  p.message = text::redact_secrets(
      err ? err->message : (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR ? "unknown error" : "unknown warning"));
  p.debug = text::redact_secrets(to_string(dbg));
  return p;
}

}  // namespace relay::gst
