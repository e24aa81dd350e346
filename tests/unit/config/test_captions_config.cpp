#include <string>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/reload.hpp"

using namespace relay::config;
using Catch::Matchers::Contains;

namespace {
std::string error_of(const std::string& text) {
  try {
    parse_config(text, "t.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}
}  // namespace

TEST_CASE("captions are off by default; [captions] reads languages, offset and the line limit", "[config]") {
  CHECK(parse_config("", "t.toml").captions.languages.empty());
  const Config c = parse_config(R"(
[qa]
captioner_tokens = ["captioner-0123456789abcdef"]
[captions]
languages = [{code = "de", name = "Deutsch"}, {code = "en-GB", name = "English"}]
offset_s = 1.5
max_chars = 300
)",
                                "t.toml");
  REQUIRE(c.captions.languages.size() == 2);
  CHECK(c.captions.languages[1].code == "en-GB");
  CHECK(c.captions.languages[0].name == "Deutsch");
  CHECK(c.captions.offset_s == 1.5);
  CHECK(c.captions.max_chars == 300);
  CHECK(c.qa.captioner_tokens == std::vector<std::string>{"captioner-0123456789abcdef"});
}

TEST_CASE("bad caption languages fail with where and what", "[config]") {
  CHECK_THAT(error_of("[captions]\nlanguages = [{code = \"d e\", name = \"x\"}]\n"),
             Contains("t.toml:2") && Contains("not a language tag"));
  CHECK_THAT(error_of("[captions]\nlanguages = [{code = \"de\", name = \"a\"}, {code = \"de\", name = \"b\"}]\n"),
             Contains("already the code of captions.languages[0]"));
  CHECK_THAT(error_of("[captions]\nlanguages = [{code = \"de\"}]\n"), Contains("missing key 'name'"));
  CHECK_THAT(error_of("[captions]\nlanguages = [{code = \"de\", name = \"x\", lang = \"y\"}]\n"), Contains("lang"));
  CHECK_THAT(error_of("[captions]\nlanguages = [{code = \"de\", name = \"a\\\"b\"}]\n"), Contains("without quotes"));
  CHECK_THAT(error_of("[captions]\noffset_s = 11\n"), Contains("captions.offset_s"));
  CHECK_THAT(error_of("[qa]\ncaptioner_tokens = [\"short\"]\n"), Contains("16..256 printable"));
}

TEST_CASE("changing [captions] needs a restart; captioner tokens do not", "[config]") {
  const Config running = parse_config("", "t.toml");
  const Config loaded = parse_config(
      "[qa]\ncaptioner_tokens = [\"captioner-0123456789abcdef\"]\n"
      "[captions]\nlanguages = [{code = \"de\", name = \"Deutsch\"}]\n",
      "t.toml");
  CHECK(keys_needing_restart(running, loaded) == std::vector<std::string>{"captions.languages"});
}
