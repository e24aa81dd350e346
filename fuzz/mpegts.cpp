// The packager's MPEG-TS path: the 188-byte packet splitter, PAT/PMT, PES
// timestamps, the SPS and ADTS headers it reads codecs from, and cuts at random
// access points. Input layout: see packager_driver.hpp.
#include "packager_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relay::fuzz::drive_packager(data, size, true);
  return 0;
}
