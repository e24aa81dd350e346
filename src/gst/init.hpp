#pragma once
#include <string>
#include <vector>

namespace relay::gst {

// gst_init once per process; returns the names of required elements that this
// machine's GStreamer does not have (empty when all are there).
std::vector<std::string> init_and_check(const std::vector<std::string>& required_elements);

}  // namespace relay::gst
