#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

#include "net/body_files.hpp"

using relay::net::BodyFiles;

namespace {

relay::Bytes bytes_of(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(seed + i % 97);
  return std::make_shared<const std::string>(std::move(s));
}

std::string file_text(int fd) {
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  REQUIRE(pread(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  return out;
}

}  // namespace

TEST_CASE("BodyFiles holds a segment's bytes in a file made once", "[body_files]") {
  BodyFiles files(10 * 1024 * 1024);
  auto segment = bytes_of(1000 * 1000, 'a');
  auto file = files.get(segment);
  REQUIRE(file);
  CHECK(file->size() == segment->size());
  CHECK(file_text(file->fd()) == *segment);
  CHECK(files.get(segment) == file);  // the second viewer gets the same file
  CHECK(files.files() == 1);
  CHECK(files.bytes() == segment->size());

  // Small bodies are written from memory.
  CHECK_FALSE(files.get(bytes_of(BodyFiles::kMinBytes - 1, 'b')));
  CHECK_FALSE(files.get(nullptr));
  // A body bigger than the whole budget gets no file.
  CHECK_FALSE(files.get(bytes_of(11 * 1024 * 1024, 'c')));
}

TEST_CASE("BodyFiles drops a file once its segment is gone", "[body_files]") {
  BodyFiles files(10 * 1024 * 1024);
  auto segment = bytes_of(200 * 1000, 'a');
  auto file = files.get(segment);
  REQUIRE(file);
  segment.reset();  // the store evicted it
  // A response still sending keeps its file open.
  CHECK(file_text(file->fd()).size() == 200 * 1000);
  auto other = bytes_of(300 * 1000, 'x');
  REQUIRE(files.get(other));
  CHECK(files.files() == 1);
  CHECK(files.bytes() == 300 * 1000);
}

TEST_CASE("BodyFiles stays within its budget, least recently used first", "[body_files]") {
  BodyFiles files(1000 * 1000);
  auto a = bytes_of(400 * 1000, 'a');
  auto b = bytes_of(400 * 1000, 'b');
  auto c = bytes_of(400 * 1000, 'c');
  auto file_a = files.get(a);
  REQUIRE(file_a);
  REQUIRE(files.get(b));
  REQUIRE(files.get(a) == file_a);  // a was used last: b goes for c
  auto file_c = files.get(c);
  REQUIRE(file_c);
  CHECK(files.files() == 2);
  CHECK(files.bytes() == 800 * 1000);
  CHECK(files.get(a) == file_a);
  CHECK(file_text(file_c->fd()) == *c);
  // b comes back as a new file with its own bytes.
  auto file_b = files.get(b);
  REQUIRE(file_b);
  CHECK(file_text(file_b->fd()) == *b);
  CHECK(files.bytes() <= 1000 * 1000);
}
