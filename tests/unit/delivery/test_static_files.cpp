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
