#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/text.hpp"

using namespace relay;

TEST_CASE("hex_encode", "[text]") {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  CHECK(text::hex_encode(bytes, sizeof bytes) == "000fa0ff");
  CHECK(text::hex_encode(bytes, 0).empty());
}

TEST_CASE("percent_decode", "[text]") {
  CHECK(text::percent_decode("a%20b%2fc", false) == "a b/c");
  CHECK(text::percent_decode("a+b", false) == "a+b");
  CHECK(text::percent_decode("a+b", true) == "a b");
  CHECK(text::percent_decode("%41%4a%4A", false) == "AJJ");
  CHECK_FALSE(text::percent_decode("%", false));
  CHECK_FALSE(text::percent_decode("%4", false));
  CHECK_FALSE(text::percent_decode("%zz", false));
  CHECK_FALSE(text::percent_decode("ok%4g", true));
  CHECK(text::percent_decode("%00", false) == std::string(1, '\0'));
}

TEST_CASE("query strings: pairs in order, first value decoded", "[text]") {
  std::vector<std::pair<std::string, std::string>> seen;
  text::for_each_query_param("a=1&b&c=x%20y&&d=", [&](std::string_view k, std::string_view v) {
    seen.emplace_back(k, v);
    return true;
  });
  REQUIRE(seen.size() == 5);
  CHECK(seen[0] == std::pair<std::string, std::string>{"a", "1"});
  CHECK(seen[1] == std::pair<std::string, std::string>{"b", ""});
  CHECK(seen[2] == std::pair<std::string, std::string>{"c", "x%20y"});
  CHECK(seen[3] == std::pair<std::string, std::string>{"", ""});
  CHECK(seen[4] == std::pair<std::string, std::string>{"d", ""});

  int visited = 0;
  text::for_each_query_param("a=1&b=2&c=3", [&](std::string_view, std::string_view) { return ++visited < 2; });
  CHECK(visited == 2);

  CHECK(text::query_param("room=1&token=ab%2Dc+d&room=2", "token") == "ab-c d");
  CHECK(text::query_param("room=1&room=2", "room") == "1");
  CHECK_FALSE(text::query_param("room=1", "token"));
  CHECK_FALSE(text::query_param("token=%zz", "token"));
  CHECK(text::query_param("token=", "token") == "");
  CHECK_FALSE(text::query_param("", "token"));
}

TEST_CASE("bearer tokens", "[text]") {
  CHECK(text::bearer_token("Bearer abc") == "abc");
  CHECK(text::bearer_token("bearer  abc ") == "abc");
  CHECK(text::bearer_token("  BEARER abc") == "abc");
  CHECK(text::bearer_token("Basic abc").empty());
  CHECK(text::bearer_token("Bearer").empty());
  CHECK(text::bearer_token("Bearer ").empty());
  CHECK(text::bearer_token("").empty());
}

TEST_CASE("header helpers", "[text]") {
  CHECK(text::trim(" \tx y\t ") == "x y");
  CHECK(text::iequals("Keep-Alive", "keep-alive"));
  CHECK_FALSE(text::iequals("keep", "keep-alive"));
  CHECK(text::parse_digits("42") == 42u);
  CHECK_FALSE(text::parse_digits("-1"));
  CHECK_FALSE(text::parse_digits("1 "));
  CHECK_FALSE(text::parse_digits("99999999999999999999999"));
}
