#include <catch2/catch.hpp>

#include "qa/text_rules.hpp"

using namespace relay::qa;

TEST_CASE("code points are counted on valid UTF-8 only", "[qa][utf8]") {
  CHECK(count_code_points("") == 0u);
  CHECK(count_code_points("abc") == 3u);
  CHECK(count_code_points("Grüße") == 5u);              // 2-byte sequences
  CHECK(count_code_points("\xe2\x82\xac") == 1u);       // € U+20AC
  CHECK(count_code_points("\xf0\x9f\x98\x80!") == 2u);  // 😀 U+1F600
  CHECK(count_code_points("line\nnext\ttab") == 13u);

  CHECK_FALSE(count_code_points("\xff"));                  // never valid
  CHECK_FALSE(count_code_points("\xc3"));                  // truncated
  CHECK_FALSE(count_code_points("\xc3\x28"));              // bad continuation
  CHECK_FALSE(count_code_points("\xc0\xaf"));              // overlong '/'
  CHECK_FALSE(count_code_points("\xe0\x80\xaf"));          // overlong, 3 bytes
  CHECK_FALSE(count_code_points("\xed\xa0\x80"));          // surrogate U+D800
  CHECK_FALSE(count_code_points("\xf4\x90\x80\x80"));      // above U+10FFFF
  CHECK_FALSE(count_code_points(std::string("a\0b", 3)));  // NUL
  CHECK_FALSE(count_code_points("bell\x07"));              // C0 control
  CHECK_FALSE(count_code_points("\xc2\x85"));              // C1 control (NEL)
}

TEST_CASE("text is trimmed and CRLF becomes LF", "[qa][utf8]") {
  CHECK(normalize_text("  hello \r\nworld \n") == "hello \nworld");
  CHECK(normalize_text(" \t\n") == "");
}

TEST_CASE("the word list matches whole words, case-insensitively, with prefixes on *", "[qa][filter]") {
  WordFilter filter({"spam", "Idiot*", "Ärger"});
  CHECK(filter.match("This is SPAM!") == "spam");
  CHECK_FALSE(filter.match("spammers and antispam tools"));  // "spam" inside other words
  CHECK(filter.match("spam-words") == "spam");                 // a hyphen ends a word
  CHECK(filter.match("what an idiotic idea") == "Idiot*");
  CHECK(filter.match("kein ärger bitte") == "Ärger");
  CHECK(filter.match("KEIN ÄRGER") == "Ärger");
  CHECK_FALSE(filter.match("Verärgerung"));
  CHECK_FALSE(WordFilter(std::vector<std::string>{}).match("anything"));
  CHECK(WordFilter({"  ", ""}).empty());
}
