#pragma once
// `seminar-relay remux-mp4`: a progressive MP4 from recorded fMP4 segments, on
// the command line (recording/remux.hpp does the work), for operators and tests.

namespace relay::app {

// argv without the program name and "remux-mp4"; the process's exit code.
int remux_command(int argc, char** argv);

}  // namespace relay::app
