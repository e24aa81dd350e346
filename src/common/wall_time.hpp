#pragma once
// Wall-clock times as the programme states them: an instant plus the UTC offset
// it was written with, so "09:00 in Berlin" can be shown back as written while
// iCalendar and the API compare and export instants in UTC.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::wall_time {

struct WallTime {
  std::int64_t unix_seconds = 0;  // the instant, seconds since 1970-01-01T00:00:00Z
  int offset_minutes = 0;         // the UTC offset it was written with (+60 for "+01:00")
  friend bool operator==(const WallTime&, const WallTime&) = default;
};

// RFC 3339 date-time with a time zone: "2027-03-10T09:00:00+01:00", "...Z",
// fractional seconds ignored, 't'/'z' and a space for 'T' accepted. Times
// without an offset are refused: a programme read in another zone would shift.
std::optional<WallTime> parse_rfc3339(std::string_view text);

// Builds one from calendar fields as written in the given offset; nullopt when a field is out of range.
std::optional<WallTime> from_fields(int year, int month, int day, int hour, int minute, int second,
                                    int offset_minutes);

// "2027-03-10T09:00:00+01:00": the time as written (its own offset).
std::string format_rfc3339(const WallTime& time);
// "2027-03-10T08:00:00Z"
std::string format_rfc3339_utc(std::int64_t unix_seconds);
// iCalendar's UTC form (RFC 5545 3.3.5): "20270310T080000Z"
std::string format_ical_utc(std::int64_t unix_seconds);

}  // namespace relay::wall_time
