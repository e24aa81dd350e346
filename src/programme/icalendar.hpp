#pragma once
// The programme as an iCalendar file (RFC 5545) for attendees' calendars: one
// VEVENT per talk, times in UTC, lines folded at 75 octets.

#include <cstdint>
#include <string>
#include <string_view>

#include "programme/programme.hpp"

namespace relay::programme {

// TEXT value escaping (RFC 5545 3.3.11): backslash, ';', ',' and newlines.
std::string ical_escape(std::string_view text);

// One content line, folded (3.1): at most 75 octets a line, continuation lines
// starting with a space, never splitting a UTF-8 sequence; ends with CRLF.
std::string ical_fold(std::string_view line);

// The whole VCALENDAR. `uid_domain` makes UIDs globally unique and stable per
// talk ("<talk id>@<uid_domain>"); `now` is the DTSTAMP.
std::string write_icalendar(const Programme& programme, std::string_view uid_domain, std::int64_t now);

}  // namespace relay::programme
