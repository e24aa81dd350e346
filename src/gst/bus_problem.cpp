#include "gst/bus_problem.hpp"

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
  p.message = err ? err->message : (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR ? "unknown error" : "unknown warning");
  p.debug = to_string(dbg);
  return p;
}

}  // namespace relay::gst
