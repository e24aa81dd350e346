#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "programme/icalendar.hpp"

using namespace relay::programme;
using Catch::Matchers::Contains;

namespace {

std::vector<std::string> split_crlf(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find("\r\n", pos);
    REQUIRE(end != std::string::npos);  // every line ends with CRLF, the last one too
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// Whether the text is well-formed UTF-8 (no sequence cut in half).
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

std::string unfold(const std::string& folded) {
  std::string out;
  for (const std::string& line : split_crlf(folded)) out += line.starts_with(' ') ? line.substr(1) : line;
  return out;
}

}  // namespace

TEST_CASE("TEXT values escape backslash, semicolon, comma and newlines") {
  CHECK(ical_escape("a,b;c\\d") == "a\\,b\\;c\\\\d");
  CHECK(ical_escape("one\ntwo\r\nthree\rfour") == "one\\ntwo\\nthree\\nfour");
  CHECK(ical_escape("Grüße: plain") == "Grüße: plain");
}

TEST_CASE("lines fold at 75 octets and never inside a UTF-8 character") {
  CHECK(ical_fold("SUMMARY:short") == "SUMMARY:short\r\n");
  const std::string exact = "SUMMARY:" + std::string(75 - 8, 'x');
  CHECK(ical_fold(exact) == exact + "\r\n");

  const std::string ascii = "DESCRIPTION:" + std::string(200, 'a');
  const auto ascii_lines = split_crlf(ical_fold(ascii));
  REQUIRE(ascii_lines.size() == 3);
  CHECK(ascii_lines[0].size() == 75);
  CHECK(ascii_lines[1].size() == 75);  // the space and 74 octets
  CHECK(ascii_lines[1][0] == ' ');
  CHECK(unfold(ical_fold(ascii)) == ascii);

  // Every offset of a two-byte ü (and a three-byte €) against the fold point.
  for (std::size_t pad = 0; pad < 6; ++pad) {
    std::string line = "SUMMARY:" + std::string(pad, 'x');
    for (int i = 0; i < 40; ++i) line += (i % 3 == 2) ? "€" : "ü";
    const std::string folded = ical_fold(line);
    INFO("pad " << pad);
    for (const std::string& l : split_crlf(folded)) {
      CHECK(l.size() <= 75);
      CHECK(valid_utf8(l.starts_with(' ') ? l.substr(1) : l));
    }
    CHECK(unfold(folded) == line);
  }
}

TEST_CASE("the calendar has one VEVENT per talk with a stable UID and UTC times") {
  const auto config = relay::config::parse_config(R"toml(
[[programme.talks]]
id = "keynote"
title = "Begrüßung; Überblick, Ziele"
speakers = ["Jörg Müller", "Ada Lovelace"]
language = "de"
start = "2027-03-10T09:00:00+01:00"
end = "2027-03-10T10:00:00+01:00"
abstract = """Zwei Zeilen,
mit Komma und einem sehr langen Satz, der über die Grenze von fünfundsiebzig Oktetten hinausgeht."""

[[programme.talks]]
id = "codecs"
title = "Codecs"
start = "2027-03-10T10:15:00Z"
end = "2027-03-10T11:00:00Z"
)toml",
                                                  "relay.toml");
  const Programme programme(config.programme);
  const std::string ics = write_icalendar(programme, "relay.example.org", 1804600000);
  const auto lines = split_crlf(ics);
  CHECK(lines.front() == "BEGIN:VCALENDAR");
  CHECK(lines.back() == "END:VCALENDAR");
  for (const std::string& line : lines) CHECK(line.size() <= 75);
  const std::string text = unfold(ics);
  CHECK_THAT(text, Contains("VERSION:2.0"));
  CHECK_THAT(text, Contains("PRODID:-//seminar-relay//programme//EN"));
  CHECK_THAT(text, Contains("UID:keynote@relay.example.org"));
  CHECK_THAT(text, Contains("UID:codecs@relay.example.org"));
  CHECK_THAT(text, Contains("DTSTAMP:20270309T134640Z"));
  CHECK_THAT(text, Contains("DTSTART:20270310T080000Z"));
  CHECK_THAT(text, Contains("DTEND:20270310T090000Z"));
  CHECK_THAT(text, Contains("DTSTART:20270310T101500Z"));
  CHECK_THAT(text, Contains("SUMMARY;LANGUAGE=de:Begrüßung\\; Überblick\\, Ziele"));
  CHECK_THAT(text, Contains("SUMMARY:Codecs"));
  CHECK_THAT(text, Contains("DESCRIPTION:Speakers: Jörg Müller\\, Ada Lovelace\\n\\nZwei Zeilen\\,\\nmit Komma"));
  std::size_t events = 0;
  for (const std::string& line : lines) events += line == "BEGIN:VEVENT";
  CHECK(events == 2);
}
