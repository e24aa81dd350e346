#include "gst/init.hpp"

#include <mutex>

#include <gst/gst.h>

namespace relay::gst {

std::vector<std::string> init_and_check(const std::vector<std::string>& required_elements) {
  static std::once_flag once;
  std::call_once(once, [] { gst_init(nullptr, nullptr); });
  std::vector<std::string> missing;
  for (const auto& name : required_elements) {
    GstElementFactory* f = gst_element_factory_find(name.c_str());
    if (!f) {
      missing.push_back(name);
    } else {
      gst_object_unref(f);
    }
  }
  return missing;
}

}  // namespace relay::gst
