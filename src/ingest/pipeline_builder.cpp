#include "ingest/pipeline_builder.hpp"

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

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

std::string input_channel(const std::string& channel, int index) {
  return fmt::format("{}-{}", channel, index == 0 ? "primary" : "backup");
}

namespace {

std::string trim_newlines(std::string v) {
  while (!v.empty() && v.back() == '\n') v.pop_back();
  return v;
}

std::string v4l2_caps(const config::IngestConfig& in) {
  if (in.v4l2_format.empty() && !in.v4l2_width && !in.v4l2_height && !in.v4l2_framerate) return "";
  std::string caps = in.v4l2_format == "MJPG" ? "image/jpeg" : "video/x-raw";
  if (!in.v4l2_format.empty() && in.v4l2_format != "MJPG") caps += ",format=" + in.v4l2_format;
  if (in.v4l2_width) caps += fmt::format(",width={}", in.v4l2_width);
  if (in.v4l2_height) caps += fmt::format(",height={}", in.v4l2_height);
  if (in.v4l2_framerate) caps += fmt::format(",framerate={}/1", in.v4l2_framerate);
  return caps + " ! ";
}

std::string srt_options(const config::IngestConfig& in, const config::SourceUri& uri) {
  std::vector<std::string> options;
  if (!uri.query.contains("latency")) options.push_back(fmt::format("latency={}", in.srt_latency_ms));
  if (!in.srt_passphrase.empty() && !uri.query.contains("passphrase")) {
    options.push_back("passphrase=" + quote_value(in.srt_passphrase));
    if (!uri.query.contains("pbkeylen")) options.push_back(fmt::format("pbkeylen={}", in.srt_pbkeylen));
  }
  // A listener checks the stream id itself (caller-connecting, only emitted with
  // authentication set: its default is not applied in GStreamer 1.22); a caller sends it.
  if (uri.srt_listener() && !in.srt_streamid.empty()) options.push_back("authentication=true");
  if (!uri.srt_listener() && !in.srt_streamid.empty() && !uri.query.contains("streamid"))
    options.push_back("streamid=" + quote_value(in.srt_streamid));
  std::string out;
  for (const auto& o : options) out += " " + o;
  return out;
}

// "#1d3557" → "0xff1d3557", the ARGB videotestsrc wants.
std::string argb(const std::string& color) { return "0xff" + color.substr(1); }

}  // namespace

std::string build_source_pipeline(const config::Config& cfg, const config::SourceUri& uri,
                                  const std::string& channel) {
  const auto& dir = cfg.ingest.pipelines_dir;
  const auto& top = cfg.encoder.renditions.front();
  std::map<std::string, std::string> common = {
      {"channel", channel},
      {"width", std::to_string(top.width)},
      {"height", std::to_string(top.height)},
      {"framerate", std::to_string(cfg.ingest.framerate)},
      {"audio_rate", std::to_string(cfg.encoder.audio_rate)},
      {"audio_channels", std::to_string(cfg.encoder.audio_channels)},
      {"sync", uri.kind == config::SourceKind::file ? "true" : "false"},
  };
  auto values = common;
  values["video_normalize"] = trim_newlines(fill_template(read_template(dir, "normalize-video"), common, "normalize-video"));
  values["audio_normalize"] = trim_newlines(fill_template(read_template(dir, "normalize-audio"), common, "normalize-audio"));

  const auto& in = cfg.ingest;
  std::string name;
  switch (uri.kind) {
    case config::SourceKind::test:
      name = "source-test";
      values["pattern"] = in.test_pattern;
      values["source_width"] = std::to_string(in.width);
      values["source_height"] = std::to_string(in.height);
      break;
    case config::SourceKind::file:
      name = "source-file";
      values["uri"] = quote_value("file://" + percent_encode_path(uri.path));
      break;
    case config::SourceKind::srt:
      name = "source-srt";
      values["uri"] = quote_value(uri.text);
      values["options"] = srt_options(in, uri);
      break;
    case config::SourceKind::rtsp:
      name = "source-rtsp";
      values["uri"] = quote_value(uri.text);
      values["transport"] = in.rtsp_transport;
      values["latency_ms"] = std::to_string(in.rtsp_latency_ms);
      break;
    case config::SourceKind::rtmp:
      name = "source-rtmp";
      values["uri"] = quote_value(uri.text + " live=1");
      break;
    case config::SourceKind::v4l2:
      name = "source-v4l2";
      values["device"] = quote_value(uri.path);
      values["caps"] = v4l2_caps(in);
      break;
    case config::SourceKind::push:
      // Pushed media is already encoded: no source pipeline runs for it.
      throw PipelineError("push: has no source pipeline; the relay republishes what is pushed to /ingest/");
  }
  return fill_template(read_template(dir, name), values, name);
}

std::string audio_track_channel(const std::string& channel, size_t track) {
  return fmt::format("{}-audio-{}", channel, track + 1);
}

std::string build_audio_source_pipeline(const config::Config& cfg, size_t track, const std::string& channel) {
  const auto& dir = cfg.ingest.pipelines_dir;
  const config::AudioSource source = config::parse_audio_source(cfg.audio.at(track).source);
  std::map<std::string, std::string> common = {
      {"channel", audio_track_channel(channel, track)},
      {"audio_rate", std::to_string(cfg.encoder.audio_rate)},
      {"audio_channels", std::to_string(cfg.encoder.audio_channels)},
      {"sync", "false"},
  };
  auto values = common;
  values["audio_normalize"] =
      trim_newlines(fill_template(read_template(dir, "normalize-audio"), common, "normalize-audio"));
  std::string name;
  switch (source.kind) {
    case config::AudioSourceKind::test:
      name = "interpreter-test";
      // A different pitch per track, so each can be told apart by ear (and by test).
      values["freq"] = std::to_string(source.tone_hz ? source.tone_hz : 660 + 220 * static_cast<int>(track));
      break;
    case config::AudioSourceKind::srt:
      name = "interpreter-srt";
      values["uri"] = quote_value(source.uri.text);
      values["options"] = srt_options(cfg.ingest, source.uri);
      break;
    case config::AudioSourceKind::rtsp:
      name = "interpreter-rtsp";
      values["uri"] = quote_value(source.uri.text);
      values["transport"] = cfg.ingest.rtsp_transport;
      values["latency_ms"] = std::to_string(cfg.ingest.rtsp_latency_ms);
      break;
    case config::AudioSourceKind::alsa:
      name = "interpreter-alsa";
      values["device"] = quote_value(source.device);
      break;
    case config::AudioSourceKind::channel:
      throw PipelineError("channel: tracks take the main input's sound inside the ladder; they have no source pipeline");
  }
  return fill_template(read_template(dir, name), values, name);
}

namespace {

// The [[audio]] tracks' branches of the ladder (pipelines/ladder-audio.pipeline).
std::string audio_track_branches(const config::Config& cfg, const std::string& channel,
                                 const std::map<std::string, std::string>& common) {
  if (cfg.audio.empty()) return "";
  auto text = read_template(cfg.ingest.pipelines_dir, "ladder-audio");
  std::string out = fill_template(read_template(cfg.ingest.pipelines_dir, "ladder-floor"), common, "ladder-floor");
  for (size_t i = 0; i < cfg.audio.size(); ++i) {
    const auto& track = cfg.audio[i];
    const config::AudioSource source = config::parse_audio_source(track.source);
    auto v = common;
    v["index"] = std::to_string(i);
    v["bitrate_bps"] = std::to_string((track.bitrate_kbps ? track.bitrate_kbps : cfg.encoder.audio_bitrate_kbps) * 1000);
    if (source.kind == config::AudioSourceKind::channel) {
      // The chosen channel of the floor sound on every output channel.
      std::vector<std::string> rows;
      for (int out_channel = 0; out_channel < cfg.encoder.audio_channels; ++out_channel) {
        std::vector<std::string> row;
        for (int in = 1; in <= cfg.encoder.audio_channels; ++in)
          row.push_back(in == source.channel ? "(float)1.0" : "(float)0.0");
        rows.push_back("<" + fmt::format("{}", fmt::join(row, ",")) + ">");
      }
      v["input"] = fmt::format("floor_raw. ! queue ! audioconvert mix-matrix=\"<{}>\"", fmt::join(rows, ","));
    } else {
      v["input"] = fmt::format("interaudiosrc channel={}", audio_track_channel(channel, i));
    }
    out += fill_template(text, v, "ladder-audio");
  }
  return out;
}

}  // namespace

std::string build_ladder_pipeline(const config::Config& cfg, const std::string& channel, int inputs) {
  const auto& dir = cfg.ingest.pipelines_dir;
  const auto& enc = cfg.encoder;
  if (enc.renditions.empty()) throw PipelineError("the ladder has no renditions");
  const auto& top = enc.renditions.front();
  std::map<std::string, std::string> common = {
      {"width", std::to_string(top.width)},
      {"height", std::to_string(top.height)},
      {"framerate", std::to_string(cfg.ingest.framerate)},
      {"audio_rate", std::to_string(enc.audio_rate)},
      {"audio_channels", std::to_string(enc.audio_channels)},
  };

  // A lost input repeats its last picture; the slate takes over after slate_after_s.
  // Past this the inter source would turn black, which the slate must come before.
  auto timeout_ns = static_cast<uint64_t>((cfg.ingest.input_timeout_s + cfg.ingest.slate_after_s + 2.0) * 1e9);
  std::string input_text;
  auto input_template = read_template(dir, "ladder-input");
  for (int i = 0; i < inputs; ++i) {
    auto v = common;
    v["channel"] = input_channel(channel, i);
    v["index"] = std::to_string(i);
    v["video_timeout_ns"] = std::to_string(timeout_ns);
    input_text += fill_template(input_template, v, "ladder-input");
  }

  auto slate = common;
  slate["index"] = std::to_string(inputs);
  slate["text"] = quote_value(cfg.ingest.slate_text);
  slate["font_size"] = std::to_string(std::max(8, top.height / 24));
  std::string frame = fmt::format("video/x-raw,format=I420,width={},height={},framerate={}/1,pixel-aspect-ratio=1/1",
                                  top.width, top.height, cfg.ingest.framerate);
  if (cfg.ingest.slate_image.empty()) {
    slate["picture"] = fmt::format("videotestsrc pattern=solid-color foreground-color={} num-buffers=1 ! {}",
                                   argb(cfg.ingest.slate_color), frame);
  } else {
    // Borders in the slate colour would need a compositor; black ones are fine.
    slate["picture"] = fmt::format(
        "filesrc location={} ! decodebin ! videoconvert ! videoscale add-borders=true ! "
        "video/x-raw,format=I420,width={},height={},pixel-aspect-ratio=1/1",
        quote_value(cfg.ingest.slate_image.string()), top.width, top.height);
  }
  std::string slate_text = fill_template(read_template(dir, "slate"), slate, "slate");

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
        {"audio_link", cfg.audio.empty() ? fmt::format("audio. ! queue ! mux_{}.audio_0", r.name) : ""},
        {"scale", (r.width == top.width && r.height == top.height)
                      ? ""
                      : fmt::format("videoscale ! video/x-raw,width={},height={} !", r.width, r.height)},
    };
    renditions += fill_template(rendition_template, v, rendition_name);
  }
  auto ladder_values = common;
  ladder_values["inputs"] = trim_newlines(input_text);
  ladder_values["slate"] = trim_newlines(slate_text);
  ladder_values["renditions"] = renditions + audio_track_branches(cfg, channel, common);
  ladder_values["audio_bitrate_bps"] = std::to_string(enc.audio_bitrate_kbps * 1000);
  return fill_template(read_template(dir, "ladder"), ladder_values, "ladder");
}

PipelineTexts build_pipelines(const config::Config& cfg, const std::string& channel) {
  if (cfg.encoder.renditions.empty()) throw PipelineError("the ladder has no renditions");
  PipelineTexts out;
  out.primary = build_source_pipeline(cfg, config::parse_source_uri(cfg.ingest.source), input_channel(channel, 0));
  int inputs = 1;
  if (!cfg.ingest.backup_source.empty()) {
    out.backup = build_source_pipeline(cfg, config::parse_source_uri(cfg.ingest.backup_source),
                                       input_channel(channel, 1));
    inputs = 2;
  }
  out.ladder = build_ladder_pipeline(cfg, channel, inputs);
  return out;
}

}  // namespace relay::ingest
