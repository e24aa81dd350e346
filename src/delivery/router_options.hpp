#pragma once
// Router settings that come from the HLS spec rather than the config file, kept
// free of Boost so that server.hpp stays so.

namespace relay::delivery {

struct RouterOptions {
  // 503 once a held request has waited this many target durations (rfc8216bis
  // 6.2.5.2 says three). Tests shorten it.
  double hold_timeout_targets = 3.0;
};

}  // namespace relay::delivery
