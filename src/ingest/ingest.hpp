#pragma once
// The ingest: a source pipeline (decode, normalise) and a ladder pipeline (encode,
// mux) joined by intervideo/interaudio, both driven from one GLib main-loop thread.
// Muxed output goes straight from the appsinks' streaming threads into each
// rendition's packager; nothing here touches Asio.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "health/ingest_status.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"
#include "hls/store.hpp"

namespace relay::ingest {

class Ingest {
 public:
  Ingest(const config::Config& cfg, hls::Store& store, hls::MasterPlaylist& master,
         health::IngestStatus& status);
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  // Builds and starts both pipelines; throws std::runtime_error with one clear line
  // when a pipeline cannot be built or the source cannot be opened.
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relay::ingest
