#pragma once
// Large bodies (media segments) as in-memory files, so the plain HTTP/1.1 edge
// can send them with sendfile(2): the kernel then hands the file's pages to TCP
// by reference instead of copying each response's bytes from user space, as
// nginx does with a file on tmpfs. A segment is copied into its file once, on
// its first request, and every later viewer's response costs no copy at all.
//
// A file lives while its segment does (the store still holds the bytes) and the
// files together stay within a byte budget; the least recently used go first.
// A response in flight keeps its file open through its shared_ptr. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/bytes.hpp"

namespace relay::net {

class BodyFile {
 public:
  BodyFile(int fd, size_t size) : fd_(fd), size_(size) {}
  ~BodyFile();
  BodyFile(const BodyFile&) = delete;
  BodyFile& operator=(const BodyFile&) = delete;
  int fd() const { return fd_; }
  size_t size() const { return size_; }

 private:
  int fd_;
  size_t size_;
};

class BodyFiles {
 public:
  // Bodies smaller than this are written from memory; one write costs less than a sendfile.
  static constexpr size_t kMinBytes = 64 * 1024;

  explicit BodyFiles(size_t budget_bytes) : budget_(budget_bytes) {}

  // The file holding `data`'s bytes, made now if there is none; null when the
  // body is too small or too big for the budget, or no file can be made.
  std::shared_ptr<const BodyFile> get(const Bytes& data);

  size_t files() const;
  size_t bytes() const;

 private:
  struct Entry {
    std::weak_ptr<const std::string> data;
    std::shared_ptr<const BodyFile> file;
    uint64_t last_use = 0;
  };
  // Drops files whose segment is gone, then the least recently used until `incoming` fits.
  void make_room(size_t incoming);

  const size_t budget_;
  mutable std::mutex mutex_;
  std::unordered_map<const std::string*, Entry> entries_;
  size_t bytes_ = 0;
  uint64_t uses_ = 0;
};

}  // namespace relay::net
