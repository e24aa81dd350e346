#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "fake_rendition.hpp"
#include "hls/object_names.hpp"
#include "hls/playlist.hpp"
#include "hls/store.hpp"
#include "http_receiver.hpp"
#include "outbound/uplink.hpp"

using namespace relay;
using namespace relay::outbound;
using relay::test::FakeRendition;
using relay::test::Receiver;

namespace {

template <class Predicate>
bool wait_until(Predicate done, int ms = 8000) {
  for (int i = 0; i < ms / 10 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

UplinkOptions options_for(const Receiver& receiver) {
  UplinkOptions options;
  options.url = receiver.url("/ingest/");
  options.token = "uplink-token-123";
  options.timeout_s = 2;
  options.first_backoff_s = 0.05;
  options.max_backoff_s = 0.2;
  return options;
}

void publish(hls::Store& store, size_t index, const hls::RenditionSnapshot& snapshot) {
  store.publish(index, std::make_shared<const hls::RenditionSnapshot>(snapshot));
}

std::vector<std::string> targets_for(const std::vector<Receiver::Request>& requests, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& r : requests)
    if (r.target.starts_with(prefix)) out.push_back(r.target.substr(prefix.size()));
  return out;
}

}  // namespace

TEST_CASE("the uplink PUTs each rendition's init, parts and playlist, and the master, with the token", "[uplink]") {
  Receiver receiver(201);
  hls::Store store({"720p", "360p"});
  FakeRendition high, low;
  UplinkSender sender(options_for(receiver), store);
  store.set_master(make_bytes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n"));
  for (size_t parts = 1; parts <= 9; ++parts) {
    publish(store, 0, high.at(parts));
    publish(store, 1, low.at(parts));
  }
  // 9 parts, one init and at least one playlist per rendition, and the master.
  REQUIRE(wait_until([&] {
    auto s = sender.status();
    return s.requests_ok >= 2 * 11 + 1 && s.backlog_bytes == 0;
  }));
  const auto requests = receiver.requests();
  for (const auto& r : requests) {
    CHECK(r.method == "PUT");
    CHECK(r.headers.at("authorization") == "Bearer uplink-token-123");
  }
  for (const std::string rendition : {"720p", "360p"}) {
    auto files = targets_for(requests, "/ingest/" + rendition + "/");
    REQUIRE(files.size() >= 11);
    CHECK(files.front() == "init-42.mp4");
    std::vector<std::string> parts;
    for (const auto& f : files)
      if (f != "init-42.mp4" && f != "index.m3u8") parts.push_back(f);
    std::vector<std::string> expected;
    for (size_t n = 0; n < 9; ++n) expected.push_back(hls::part_uri(relay::test::kInstance, 1 + n / 4, n % 4));
    CHECK(parts == expected);
    CHECK(files.back() == "index.m3u8");
  }
  CHECK(targets_for(requests, "/ingest/master.m3u8").size() == 1);
  size_t media_bytes = 0, all_bytes = 0;
  for (const auto& r : requests) {
    all_bytes += r.body.size();
    if (!r.target.ends_with(".m3u8")) media_bytes += r.body.size();
    if (r.target.ends_with(".m3u8")) {
      CHECK(r.headers.at("content-type") == "application/vnd.apple.mpegurl");
    } else {
      CHECK(r.headers.at("content-type") == "video/mp4");
    }
  }
  const auto status = sender.status();
  CHECK(media_bytes == 2 * (9 * 1000 + 700));
  CHECK(status.media_bytes_pushed == media_bytes);
  CHECK(status.bytes_pushed == all_bytes);
  CHECK(status.state == "pushing");
  CHECK(status.retries == 0);
  CHECK(status.lag_s == 0);
}

TEST_CASE("a failing cloud relay is retried with backoff, and nothing is lost or repeated", "[uplink]") {
  std::atomic<int> failures{4};
  Receiver receiver([&](const Receiver::Request&) { return failures.fetch_sub(1) > 0 ? 503 : 200; });
  hls::Store store({"720p"});
  FakeRendition rendition;
  UplinkSender sender(options_for(receiver), store);
  publish(store, 0, rendition.at(5));
  REQUIRE(wait_until([&] { return sender.status().retries >= 1; }));
  for (size_t parts = 6; parts <= 12; ++parts) publish(store, 0, rendition.at(parts));
  REQUIRE(wait_until([&] {
    auto s = sender.status();
    return s.state == "pushing" && s.backlog_bytes == 0 && s.requests_ok > 0;
  }));
  const auto status = sender.status();
  CHECK(status.retries == 4);
  CHECK(status.requests_failed == 4);
  CHECK(status.last_error.find("503") != std::string::npos);
  CHECK(status.last_error.find("uplink-token-123") == std::string::npos);
  // The four failures were the init's first attempts; every part went once, in order.
  std::vector<std::string> parts, expected;
  for (const auto& f : targets_for(receiver.requests(), "/ingest/720p/"))
    if (f != "init-42.mp4" && f != "index.m3u8") parts.push_back(f);
  for (size_t n = 0; n < 12; ++n) expected.push_back(hls::part_uri(relay::test::kInstance, 1 + n / 4, n % 4));
  CHECK(parts == expected);
}

TEST_CASE("a playlist the cloud relay refuses (400) is not sent again", "[uplink]") {
  Receiver receiver([](const Receiver::Request& r) { return r.target.ends_with("index.m3u8") ? 400 : 204; });
  hls::Store store({"720p"});
  FakeRendition rendition;
  UplinkSender sender(options_for(receiver), store);
  publish(store, 0, rendition.at(4));
  REQUIRE(wait_until([&] { return sender.status().requests_refused == 1 && sender.status().backlog_bytes == 0; }));
  const auto status = sender.status();
  CHECK(status.retries == 0);
  CHECK(status.state == "pushing");
  CHECK(targets_for(receiver.requests(), "/ingest/720p/index.m3u8").size() == 1);
}

TEST_CASE("an unreachable cloud relay leaves the uplink retrying with a bounded backlog", "[uplink]") {
  // A port nothing listens on: every attempt fails at once.
  int port = 0;
  {
    Receiver closed(200);
    port = std::stoi(closed.url("").substr(std::string("http://127.0.0.1:").size()));
  }
  hls::Store store({"720p"});
  FakeRendition rendition;
  UplinkOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port) + "/ingest";
  options.token = "t";
  options.backlog_s = 4;
  options.first_backoff_s = 0.05;
  options.max_backoff_s = 0.1;
  UplinkSender sender(options, store);
  for (size_t parts = 4; parts <= 40; ++parts) publish(store, 0, rendition.at(parts));
  REQUIRE(wait_until([&] { return sender.status().state == "retrying" && sender.status().segments_dropped > 0; }));
  const auto status = sender.status();
  CHECK(status.backlog_s <= 4 + 2);
  CHECK(status.backlog_bytes > 0);
  CHECK(status.bytes_pushed == 0);
  CHECK(!status.last_error.empty());
}
