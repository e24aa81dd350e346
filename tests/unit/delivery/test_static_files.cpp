#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

#include "delivery/static_files.hpp"

using relay::delivery::content_type_for;
using relay::delivery::StaticFiles;

TEST_CASE("content types by extension", "[static]") {
  CHECK(content_type_for("index.html") == "text/html; charset=utf-8");
  CHECK(content_type_for("a.js") == "text/javascript; charset=utf-8");
  CHECK(content_type_for("a.mjs") == "text/javascript; charset=utf-8");
  CHECK(content_type_for("a.CSS") == "text/css; charset=utf-8");
  CHECK(content_type_for("a.svg") == "image/svg+xml");
  CHECK(content_type_for("a.png") == "image/png");
  CHECK(content_type_for("favicon.ico") == "image/x-icon");
  CHECK(content_type_for("a.json") == "application/json");
  CHECK(content_type_for("a.woff2") == "font/woff2");
  CHECK(content_type_for("Makefile") == "application/octet-stream");
}

TEST_CASE("the shipped attendee page loads", "[static]") {
  auto files = StaticFiles::load(std::string(RELAY_SOURCE_DIR) + "/web", "/nonexistent");
  REQUIRE(files.index());
  CHECK(files.find("player.js"));
  CHECK(files.find("style.css"));
  CHECK_FALSE(files.hls_js());
  // The page must not pull anything from another host.
  for (const char* name : {"index.html", "player.js", "style.css"}) {
    INFO(name);
    std::string_view text(*files.find(name)->data);
    CHECK(text.find("http://") == std::string_view::npos);
    CHECK(text.find("https://") == std::string_view::npos);
  }
}

TEST_CASE("a missing web_dir is not fatal", "[static]") {
  auto files = StaticFiles::load("/nonexistent/web", "/nonexistent");
  CHECK(files.size() == 0);
  CHECK_FALSE(files.index());
}

TEST_CASE("hidden and backup files are never served", "[static]") {
  using relay::delivery::is_hidden_or_backup;
  for (const char* path : {".env", ".htpasswd", ".git/config", "css/.DS_Store", "a/.b/c.js", "player.js~",
                           "player.js.bak", "player.js.BAK", ".player.js.swp", "style.css.orig", "index.html.old"}) {
    INFO(path);
    CHECK(is_hidden_or_backup(path));
  }
  for (const char* path : {"index.html", "player.js", "css/style.css", "a.b/c.js", "old.js", "backup/x.js"}) {
    INFO(path);
    CHECK_FALSE(is_hidden_or_backup(path));
  }

  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("relay-static-" + std::to_string(::getpid()));
  fs::create_directories(dir / ".git");
  fs::create_directories(dir / "sub");
  for (const char* name : {"index.html", ".env", ".git/config", "index.html~", "player.js.bak", "sub/ok.js",
                           "sub/.secret"}) {
    std::ofstream(dir / name) << "content of " << name;
  }
  auto files = StaticFiles::load(dir, "/nonexistent");
  fs::remove_all(dir);
  CHECK(files.size() == 2);
  CHECK(files.index());
  CHECK(files.find("sub/ok.js"));
  for (const char* name : {".env", ".git/config", "index.html~", "player.js.bak", "sub/.secret"}) {
    INFO(name);
    CHECK_FALSE(files.find(name));
  }
}

// The pages are sent with a Content-Security-Policy without 'unsafe-inline':
// an inline script, style block, style attribute or event handler would be
// refused by the browser.
TEST_CASE("the shipped pages have no inline script or style", "[static]") {
  namespace fs = std::filesystem;
  int pages = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(RELAY_SOURCE_DIR) / "web")) {
    if (entry.path().extension() != ".html") continue;
    ++pages;
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(entry.path().filename().string());
    CHECK(text.find("<style") == std::string::npos);
    CHECK(text.find(" style=") == std::string::npos);
    CHECK(text.find("<script>") == std::string::npos);
    CHECK(text.find("javascript:") == std::string::npos);
    std::regex handler(R"(\son[a-z]+\s*=)");
    CHECK_FALSE(std::regex_search(text, handler));
    // Every script comes from a file.
    std::regex script(R"(<script(?![^>]*\ssrc=)[^>]*>)");
    CHECK_FALSE(std::regex_search(text, script));
  }
  CHECK(pages >= 4);
}
