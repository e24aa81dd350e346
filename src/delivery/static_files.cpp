#include "delivery/static_files.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "common/log.hpp"
#include "net/etag.hpp"

namespace relay::delivery {
namespace fs = std::filesystem;
namespace {

std::optional<std::string> read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(content).str();
}

std::optional<StaticFile> load_file(const fs::path& file) {
  auto content = read_file(file);
  if (!content) return std::nullopt;
  StaticFile f;
  f.etag = net::make_etag(fmt::format("s-{:016x}", net::content_hash(*content)));
  f.content_type = std::string(content_type_for(file));
  f.data = hls::make_bytes(std::move(*content));
  return f;
}

}  // namespace

bool is_hidden_or_backup(std::string_view relative_path) {
  std::string_view rest = relative_path;
  while (true) {
    const size_t slash = rest.find('/');
    if (rest.starts_with('.')) return true;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  const std::string_view name = rest;
  if (name.ends_with('~')) return true;
  for (std::string_view suffix : {".bak", ".swp", ".swo", ".orig", ".old", ".tmp"}) {
    if (name.size() >= suffix.size() &&
        std::equal(suffix.begin(), suffix.end(), name.end() - static_cast<std::ptrdiff_t>(suffix.size()),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
      return true;
  }
  return false;
}

std::string_view content_type_for(const fs::path& file) {
  std::string ext = file.extension().string();
  for (char& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (ext == ".html" || ext == ".htm") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".json") return "application/json";
  if (ext == ".woff2") return "font/woff2";
  return "application/octet-stream";
}

StaticFiles StaticFiles::load(const fs::path& web_dir, const fs::path& node_modules_dir) {
  auto log = relay::log::get("edge");
  StaticFiles files;

  std::error_code ec;
  fs::recursive_directory_iterator it(web_dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    log->warn("web_dir {}: {}; the attendee page will answer 404", web_dir.string(), ec.message());
  } else {
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) {
        log->warn("web_dir {}: {}", web_dir.string(), ec.message());
        break;
      }
      fs::path relative = it->path().lexically_relative(web_dir);
      if (is_hidden_or_backup(relative.generic_string())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      auto file = load_file(it->path());
      if (!file) {
        log->warn("cannot read {}", it->path().string());
        continue;
      }
      files.files_.emplace(relative.generic_string(), std::move(*file));
    }
    if (!files.index()) log->warn("{} has no index.html; / will answer 404", web_dir.string());
  }

  fs::path hls_js = node_modules_dir / "hls.js" / "dist" / "hls.min.js";
  files.hls_js_ = load_file(hls_js);
  if (!files.hls_js_)
    log->warn("{} not found (run `npm ci`); /vendor/hls.min.js will answer 404 and only native HLS players work",
              hls_js.string());

  fs::path uplot = node_modules_dir / "uplot" / "dist";
  files.uplot_js_ = load_file(uplot / "uPlot.iife.min.js");
  files.uplot_css_ = load_file(uplot / "uPlot.min.css");
  if (!files.uplot_js_ || !files.uplot_css_)
    log->warn("{} not found (run `npm ci`); the charts on /tech will not draw", uplot.string());

  log->debug("loaded {} static files from {}", files.files_.size(), web_dir.string());
  return files;
}

const StaticFile* StaticFiles::find(std::string_view relative_path) const {
  if (is_hidden_or_backup(relative_path)) return nullptr;
  auto it = files_.find(relative_path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace relay::delivery
