#pragma once
// The facts of an ERROR or WARNING bus message as plain strings.
#include <string>

#include <gst/gst.h>

namespace relay::gst {

struct BusProblem {
  std::string element;  // path of the element that posted it, "pipeline" when unknown
  std::string message;  // the GError text
  std::string debug;    // GStreamer's debug detail, may be empty
};

// `msg` must be a GST_MESSAGE_ERROR or GST_MESSAGE_WARNING.
BusProblem read_problem(GstMessage* msg);

}  // namespace relay::gst
