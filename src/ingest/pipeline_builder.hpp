#pragma once
// Builds the GStreamer pipeline descriptions from the templates in pipelines/ and
// the config. Pure text: tested without running anything.
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "config/config.hpp"

namespace relay::ingest {

class PipelineError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Replaces every {placeholder}; an unknown placeholder or a value missing from
// `values` is an error naming the template. Lines starting with '#' are dropped.
std::string fill_template(const std::string& text, const std::map<std::string, std::string>& values,
                          const std::string& template_name);

struct PipelineTexts {
  std::string source;  // the source side, ending in intervideosink/interaudiosink
  std::string ladder;  // the encoder side, ending in one appsink per rendition
};

// `channel` names the inter* pair that joins the two pipelines.
PipelineTexts build_pipelines(const config::Config& cfg, const std::string& channel);

// The source kind of an ingest.source URI: "test" or "file".
std::string source_kind(const std::string& uri);

// gst-style quoting for a property value placed in a pipeline description.
std::string quote_value(const std::string& value);

}  // namespace relay::ingest
