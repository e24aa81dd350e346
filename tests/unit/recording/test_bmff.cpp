#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include "mp4_fixture.hpp"
#include "recording/bmff.hpp"

using namespace relay::recording;

TEST_CASE("children reads 32-bit, 64-bit and to-the-end sizes") {
  std::string bytes = mp4fix::box("free", "abc");
  std::string wide;
  mp4fix::put32(wide, 1);
  wide += "skip";
  mp4fix::put64(wide, 16 + 2);
  wide += "xy";
  bytes += wide;
  bytes += std::string("\0\0\0\0mdat", 8) + "rest of it";
  auto boxes = bmff::children(bytes);
  REQUIRE(boxes.size() == 3);
  CHECK(boxes[0].type == "free");
  CHECK(boxes[0].payload() == "abc");
  CHECK(boxes[1].type == "skip");
  CHECK(boxes[1].header_size == 16);
  CHECK(boxes[1].payload() == "xy");
  CHECK(boxes[2].type == "mdat");
  CHECK(boxes[2].payload() == "rest of it");
  CHECK(bmff::child(bytes, "skip"));
  CHECK_FALSE(bmff::child(bytes, "moov"));
}

TEST_CASE("children refuses sizes that do not fit, with the box's name and place") {
  auto throws = [](const std::string& bytes, const std::string& text) {
    CHECK_THROWS_WITH(bmff::children(bytes), Catch::Contains(text));
  };
  std::string b = mp4fix::box("free", "abc");
  throws(b.substr(0, b.size() - 1), "box 'free' at byte 0 claims 11 bytes, only 10");
  throws(b + "xyz", "3 stray bytes");
  std::string small;
  mp4fix::put32(small, 7);
  throws(small + "moof", "smaller than its header");
  std::string wide_cut;
  mp4fix::put32(wide_cut, 1);
  throws(wide_cut + "mdat" + "1234", "64-bit size cut off");
  std::string huge;
  mp4fix::put32(huge, 1);
  huge += "mdat";
  mp4fix::put64(huge, UINT64_MAX);
  throws(huge, "claims 18446744073709551615");
  std::string garbage;
  mp4fix::put32(garbage, 100);
  throws(garbage + std::string("\x01\xff\0z", 4) + "abcd", "box '\\x01\\xff\\x00z' at byte 0 claims 100");
}

TEST_CASE("scan_file locates top-level boxes without reading them") {
  mp4fix::TempDir dir;
  const std::string moof = mp4fix::box("moof", std::string(100, 'm'));
  std::string mdat;
  mp4fix::put32(mdat, 1);
  mdat += "mdat";
  mp4fix::put64(mdat, 16 + 5000);
  mdat += std::string(5000, 'd');
  mp4fix::write_file(dir / "f", moof + mdat);
  int fd = ::open((dir / "f").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  auto boxes = bmff::scan_file(fd, moof.size() + mdat.size());
  REQUIRE(boxes.size() == 2);
  CHECK(boxes[1].type == "mdat");
  CHECK(boxes[1].offset == 108);
  CHECK(boxes[1].payload_offset() == 124);
  CHECK(boxes[1].end() == 108 + 5016);
  // The file is shorter than the size it was told: the mdat no longer fits.
  CHECK_THROWS_WITH(bmff::scan_file(fd, moof.size() + mdat.size() - 1), Catch::Contains("only 5015 are there"));
  ::close(fd);
}

TEST_CASE("Reader stops at the end of its bytes") {
  bmff::Reader r(std::string_view("\x01\x02\x03\x04\x05", 5), "tfhd");
  CHECK(r.u8() == 1);
  CHECK(r.u16() == 0x0203);
  CHECK(r.remaining() == 2);
  CHECK_THROWS_WITH(r.u32(), "tfhd truncated");
  CHECK_THROWS_WITH(r.skip(3), "tfhd truncated");
  CHECK(r.take(2) == "\x04\x05");
  CHECK_THROWS(r.u8());
}

TEST_CASE("written boxes take a 64-bit size only when they need it") {
  auto b = bmff::box("free", "ab");
  CHECK(b == std::string("\0\0\0\x0a" "free" "ab", 10));
  auto f = bmff::full_box("mvhd", 1, 0x000203, "x");
  CHECK(f == std::string("\0\0\0\x0d" "mvhd" "\x01\x00\x02\x03" "x", 13));
}
