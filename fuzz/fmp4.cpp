// The packager's fragmented-MP4 path: the top-level box splitter, moov (tracks,
// sample entries, avcC, esds) and moof (tfhd, tfdt, trun) parsing, then segments
// and parts. Input layout: see packager_driver.hpp.
#include "packager_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  relay::fuzz::drive_packager(data, size, false);
  return 0;
}
