#include "programme/icalendar.hpp"

#include <fmt/format.h>

namespace relay::programme {

std::string ical_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' || c == ';' || c == ',') {
      out += '\\';
      out += c;
    } else if (c == '\r') {
      // CRLF and a lone CR are one line break, like LF.
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\\n";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string ical_fold(std::string_view line) {
  constexpr std::size_t kMaxOctets = 75;
  std::string out;
  std::size_t pos = 0;
  std::size_t room = kMaxOctets;  // the first line has 75 octets, the following 74 after their space
  while (line.size() - pos > room) {
    std::size_t cut = pos + room;
    // Back up to the start of a UTF-8 sequence (not a 10xxxxxx continuation byte).
    while (cut > pos && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    if (cut == pos) cut = pos + room;  // not UTF-8; cut anyway rather than loop
    out.append(line.substr(pos, cut - pos));
    out += "\r\n ";
    pos = cut;
    room = kMaxOctets - 1;
  }
  out.append(line.substr(pos));
  out += "\r\n";
  return out;
}

namespace {

std::string description(const Talk& talk) {
  std::string text;
  if (!talk.speakers.empty()) {
    text = talk.speakers.size() == 1 ? "Speaker: " : "Speakers: ";
    for (std::size_t i = 0; i < talk.speakers.size(); ++i) text += (i ? ", " : "") + talk.speakers[i];
  }
  if (!talk.abstract.empty()) text += (text.empty() ? "" : "\n\n") + talk.abstract;
  return text;
}

}  // namespace

std::string write_icalendar(const Programme& programme, std::string_view uid_domain, std::int64_t now) {
  std::string out;
  auto line = [&out](std::string_view name, std::string_view value) {
    out += ical_fold(fmt::format("{}:{}", name, value));
  };
  line("BEGIN", "VCALENDAR");
  line("VERSION", "2.0");
  line("PRODID", "-//seminar-relay//programme//EN");
  line("CALSCALE", "GREGORIAN");
  line("METHOD", "PUBLISH");
  const std::string stamp = wall_time::format_ical_utc(now);
  for (const Talk& talk : programme.talks()) {
    line("BEGIN", "VEVENT");
    line("UID", fmt::format("{}@{}", talk.id, uid_domain));
    line("DTSTAMP", stamp);
    line("DTSTART", wall_time::format_ical_utc(talk.planned_start.unix_seconds));
    line("DTEND", wall_time::format_ical_utc(talk.planned_end.unix_seconds));
    // LANGUAGE is a parameter of the text (3.2.10); tags are letters, digits and '-', safe unquoted.
    line(talk.language.empty() ? std::string("SUMMARY") : fmt::format("SUMMARY;LANGUAGE={}", talk.language),
         ical_escape(talk.title));
    if (const std::string text = description(talk); !text.empty()) line("DESCRIPTION", ical_escape(text));
    line("END", "VEVENT");
  }
  line("END", "VCALENDAR");
  return out;
}

}  // namespace relay::programme
