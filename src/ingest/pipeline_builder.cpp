#include "ingest/pipeline_builder.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace relay::ingest {
namespace {

std::string read_template(const std::filesystem::path& dir, const std::string& name) {
  auto path = dir / (name + ".pipeline");
  std::ifstream in(path);
  if (!in) throw PipelineError(fmt::format("cannot read pipeline template '{}'", path.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string percent_encode_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::string_view("/-._~").find(c) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

std::string quote_value(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string fill_template(const std::string& text, const std::map<std::string, std::string>& values,
                          const std::string& template_name) {
  std::string out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    size_t pos = 0;
    while (pos < line.size()) {
      auto open = line.find('{', pos);
      if (open == std::string::npos) {
        out.append(line, pos);
        break;
      }
      auto close = line.find('}', open);
      if (close == std::string::npos)
        throw PipelineError(fmt::format("{}: unclosed '{{' in \"{}\"", template_name, line));
      out.append(line, pos, open - pos);
      auto key = line.substr(open + 1, close - open - 1);
      auto it = values.find(key);
      if (it == values.end())
        throw PipelineError(fmt::format("{}: unknown placeholder {{{}}}", template_name, key));
      out += it->second;
      pos = close + 1;
    }
    out += '\n';
  }
  return out;
}

std::string source_kind(const std::string& uri) {
  if (uri == "test:") return "test";
  if (uri.rfind("file://", 0) == 0) return "file";
  throw PipelineError(fmt::format("unsupported ingest.source '{}': expected test: or file:///path", uri));
}

PipelineTexts build_pipelines(const config::Config& cfg, const std::string& channel) {
  const auto& dir = cfg.ingest.pipelines_dir;
  const auto& enc = cfg.encoder;
  if (enc.renditions.empty()) throw PipelineError("the ladder has no renditions");
  const auto& top = enc.renditions.front();

  std::map<std::string, std::string> common = {
      {"channel", channel},
      {"width", std::to_string(top.width)},
      {"height", std::to_string(top.height)},
      {"framerate", std::to_string(cfg.ingest.framerate)},
      {"audio_rate", std::to_string(enc.audio_rate)},
      {"audio_channels", std::to_string(enc.audio_channels)},
  };

  PipelineTexts out;
  auto source_values = common;
  source_values["video_normalize"] = fill_template(read_template(dir, "normalize-video"), common, "normalize-video");
  source_values["audio_normalize"] = fill_template(read_template(dir, "normalize-audio"), common, "normalize-audio");
  for (auto* key : {"video_normalize", "audio_normalize"}) {
    auto& v = source_values[key];
    while (!v.empty() && v.back() == '\n') v.pop_back();
  }
  auto kind = source_kind(cfg.ingest.source);
  if (kind == "test") {
    source_values["pattern"] = cfg.ingest.test_pattern;
    source_values["source_width"] = std::to_string(cfg.ingest.width);
    source_values["source_height"] = std::to_string(cfg.ingest.height);
    out.source = fill_template(read_template(dir, "source-test"), source_values, "source-test");
  } else {
    auto path = cfg.ingest.source.substr(std::string("file://").size());
    source_values["uri"] = quote_value("file://" + percent_encode_path(path));
    out.source = fill_template(read_template(dir, "source-file"), source_values, "source-file");
  }

  int gop_frames = static_cast<int>(std::lround(cfg.hls.segment_duration_s * cfg.ingest.framerate));
  std::string renditions;
  const char* rendition_name = cfg.hls.container == "mpegts" ? "rendition-mpegts" : "rendition";
  auto rendition_template = read_template(dir, rendition_name);
  for (const auto& r : enc.renditions) {
    std::map<std::string, std::string> v = {
        {"name", r.name},
        {"bitrate_kbps", std::to_string(r.bitrate_kbps)},
        {"vbv_ms", std::to_string(static_cast<int>(std::lround(enc.vbv_buffer_s * 1000)))},
        {"gop_frames", std::to_string(gop_frames)},
        {"preset", enc.preset},
        {"tune", enc.tune.empty() ? "" : "tune=" + enc.tune},
        {"profile", r.profile},
        {"part_ms", std::to_string(static_cast<int>(std::lround(cfg.hls.part_duration_s * 1000)))},
        {"scale", (r.width == top.width && r.height == top.height)
                      ? ""
                      : fmt::format("videoscale ! video/x-raw,width={},height={} !", r.width, r.height)},
    };
    renditions += fill_template(rendition_template, v, rendition_name);
  }
  auto ladder_values = common;
  ladder_values["renditions"] = renditions;
  ladder_values["audio_bitrate_bps"] = std::to_string(enc.audio_bitrate_kbps * 1000);
  // After this long without source frames the encoder side shows black rather
  // than freezing on the last picture.
  ladder_values["video_timeout_ns"] = std::to_string(2'000'000'000ull);
  out.ladder = fill_template(read_template(dir, "ladder"), ladder_values, "ladder");
  return out;
}

}  // namespace relay::ingest
