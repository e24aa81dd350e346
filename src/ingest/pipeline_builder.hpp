#pragma once
// Builds the GStreamer pipeline descriptions from the templates in pipelines/ and
// the config. Pure text: tested without running anything.
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "config/source_uri.hpp"

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
  std::string primary;  // the primary input's source pipeline, into "<channel>-primary"
  std::string backup;   // the backup's, into "<channel>-backup"; empty without a backup
  std::string ladder;   // the encoder side: selectors, slate, one appsink per rendition
};

// The inter* channel names the pipelines share; `channel` is unique per process.
std::string input_channel(const std::string& channel, int index);

// The source pipeline of one input (index 0 primary, 1 backup).
std::string build_source_pipeline(const config::Config& cfg, const config::SourceUri& uri,
                                  const std::string& channel);
// The encoder side with `inputs` inter* inputs (selector pads sink_0..) and the slate
// on the pad after them.
// The inter channel the `track`th [[audio]] entry (from 0) writes to.
std::string audio_track_channel(const std::string& channel, size_t track);
// The source pipeline of an [[audio]] entry that has one (not channel:N).
std::string build_audio_source_pipeline(const config::Config& cfg, size_t track, const std::string& channel);

std::string build_ladder_pipeline(const config::Config& cfg, const std::string& channel, int inputs);

PipelineTexts build_pipelines(const config::Config& cfg, const std::string& channel);

// gst-style quoting for a property value placed in a pipeline description.
std::string quote_value(const std::string& value);

}  // namespace relay::ingest
