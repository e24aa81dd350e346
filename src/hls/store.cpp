#include "hls/store.hpp"

#include "hls/object_names.hpp"

namespace relay::hls {

const Part* RenditionSnapshot::find_part(uint64_t msn, size_t index) const {
  if (msn == open_msn) return index < open_parts.size() ? &open_parts[index] : nullptr;
  auto it = segments.find(msn);
  if (it == segments.end() || index >= it->second->parts.size()) return nullptr;
  return &it->second->parts[index];
}

Bytes RenditionSnapshot::find_init(std::string_view uri) const {
  // Every segment and part request asks here first: those names skip the scan.
  if (!is_init_uri(uri)) return nullptr;
  if (uri == init_uri) return init;
  for (const auto& [msn, segment] : segments)
    if (segment->init_uri == uri) return segment->init;
  return nullptr;
}

Store::Store(std::vector<std::string> rendition_names)
    : names_(std::move(rendition_names)), snapshots_(names_.size()) {
  for (size_t i = 0; i < names_.size(); ++i) {
    auto empty = std::make_shared<RenditionSnapshot>();
    empty->name = names_[i];
    snapshots_[i] = std::move(empty);
  }
}

void Store::publish(size_t rendition, std::shared_ptr<const RenditionSnapshot> snapshot) {
  std::vector<std::shared_ptr<const Listener>> to_call;
  uint64_t version = snapshot->version;
  {
    std::lock_guard lock(mutex_);
    snapshots_.at(rendition) = std::move(snapshot);
    generation_.fetch_add(1, std::memory_order_release);
    to_call.reserve(listeners_.size());
    for (auto& [id, l] : listeners_) to_call.push_back(l);
  }
  for (auto& l : to_call) (*l)(rendition, version);
}

void Store::set_master(Bytes master_playlist) {
  std::lock_guard lock(mutex_);
  master_ = std::move(master_playlist);
}

Bytes Store::master() const {
  std::lock_guard lock(mutex_);
  return master_;
}

std::shared_ptr<const RenditionSnapshot> Store::rendition(size_t index) const {
  std::lock_guard lock(mutex_);
  if (index >= snapshots_.size()) return nullptr;
  return snapshots_[index];
}

std::optional<size_t> Store::find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return i;
  return std::nullopt;
}

uint64_t Store::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  uint64_t id = next_listener_id_++;
  listeners_[id] = std::make_shared<const Listener>(std::move(listener));
  return id;
}

void Store::unsubscribe(uint64_t id) {
  std::lock_guard lock(mutex_);
  listeners_.erase(id);
}

}  // namespace relay::hls
