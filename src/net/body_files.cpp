#include "net/body_files.hpp"

#include <cerrno>

#include <sys/mman.h>
#include <unistd.h>

namespace relay::net {

namespace {

// An anonymous in-memory file holding `bytes`, or -1.
int make_file(const std::string& bytes) {
  const int fd = memfd_create("relay-body", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    written += static_cast<size_t>(n);
  }
  return fd;
}

}  // namespace

BodyFile::~BodyFile() { ::close(fd_); }

std::shared_ptr<const BodyFile> BodyFiles::get(const Bytes& data) {
  if (!data || data->size() < kMinBytes || data->size() > budget_) return nullptr;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(data.get());
  if (it != entries_.end()) {
    // The same address may now hold other bytes: the entry counts only while its owner lives.
    if (it->second.data.lock() == data) {
      it->second.last_use = ++uses_;
      return it->second.file;
    }
    bytes_ -= it->second.file->size();
    entries_.erase(it);
  }
  make_room(data->size());
  const int fd = make_file(*data);
  if (fd < 0) return nullptr;
  auto file = std::make_shared<const BodyFile>(fd, data->size());
  entries_.emplace(data.get(), Entry{data, file, ++uses_});
  bytes_ += data->size();
  return file;
}

void BodyFiles::make_room(size_t incoming) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.data.expired()) {
      bytes_ -= it->second.file->size();
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  while (!entries_.empty() && bytes_ + incoming > budget_) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (it->second.last_use < oldest->second.last_use) oldest = it;
    bytes_ -= oldest->second.file->size();
    entries_.erase(oldest);
  }
}

size_t BodyFiles::files() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

size_t BodyFiles::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace relay::net
