#pragma once
// The attendee page and its assets, read into memory once at start so a request
// never touches the disk and every response shares the same bytes.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "hls/media.hpp"

namespace relay::delivery {

struct StaticFile {
  hls::Bytes data;
  std::string content_type;
  std::string etag;
};

class StaticFiles {
 public:
  // Reads every regular file under web_dir (but no hidden or backup file), node_modules_dir/hls.js/dist/hls.min.js
  // and uPlot's script and style sheet (for /tech).
  // Missing pieces are logged and later answered with 404, so a half-installed
  // checkout still serves video.
  static StaticFiles load(const std::filesystem::path& web_dir, const std::filesystem::path& node_modules_dir);

  // web_dir-relative path with '/' separators, e.g. "player.js".
  const StaticFile* find(std::string_view relative_path) const;
  const StaticFile* index() const { return find("index.html"); }
  const StaticFile* hls_js() const { return hls_js_ ? &*hls_js_ : nullptr; }
  const StaticFile* uplot_js() const { return uplot_js_ ? &*uplot_js_ : nullptr; }
  const StaticFile* uplot_css() const { return uplot_css_ ? &*uplot_css_ : nullptr; }
  size_t size() const { return files_.size(); }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
  std::optional<StaticFile> hls_js_;
  std::optional<StaticFile> uplot_js_;
  std::optional<StaticFile> uplot_css_;
};

// Whether a web_dir-relative path names something never served: a dotfile or
// anything under a dot folder (.git, .env, .htpasswd), or an editor's or a
// deploy's leftover (name~, .bak, .swp, .orig, .old), which may hold what the
// live file no longer shows.
bool is_hidden_or_backup(std::string_view relative_path);

// By file extension; application/octet-stream for anything unknown.
std::string_view content_type_for(const std::filesystem::path& file);

}  // namespace relay::delivery
