#pragma once
// `seminar-relay remux-mp4`: a progressive MP4 from recorded fMP4 segments, on
// the command line (recording/remux.hpp does the work), for operators and tests.

namespace relay::app {

// Its paragraph of `seminar-relay --help`.
inline constexpr const char* kRemuxHelp =
    "  remux-mp4          one MP4 with its index first from recorded fMP4 segments and their\n"
    "                     init section, samples copied; each further --init starts a run\n"
    "                     (a relay restart) that follows the previous one; --large-offsets\n"
    "                     writes 64-bit offsets even for a small file\n";

// argv without the program name and "remux-mp4"; the process's exit code.
int remux_command(int argc, char** argv);

}  // namespace relay::app
