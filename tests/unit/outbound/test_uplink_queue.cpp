#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "fake_rendition.hpp"
#include "hls/object_names.hpp"
#include "hls/playlist.hpp"
#include "outbound/uplink_queue.hpp"

using namespace relay;
using namespace relay::outbound;

namespace {

using relay::test::FakeRendition;

// Sends everything queued, in order, as the sender does; returns what went.
std::vector<UplinkObject> drain(RenditionUplinkQueue& queue) {
  std::vector<UplinkObject> sent;
  while (auto o = queue.begin_send()) {
    sent.push_back(*o);
    queue.finish_send();
  }
  return sent;
}

size_t listed_parts(const UplinkObject& playlist) {
  const std::string& text = *playlist.data;
  return std::stoul(text.substr(text.find("#LISTS:") + 7));
}

}  // namespace

TEST_CASE("the uplink sends the init, then each part once in order, each before the playlist that lists it",
          "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  std::vector<UplinkObject> sent;
  // Parts published one at a time; the sender keeps up some of the time only.
  for (size_t parts = 1; parts <= 30; ++parts) {
    queue.update(rendition.at(parts), 0);
    if (parts % 3 == 0) {
      auto more = drain(queue);
      sent.insert(sent.end(), more.begin(), more.end());
    }
  }
  auto more = drain(queue);
  sent.insert(sent.end(), more.begin(), more.end());

  REQUIRE(!sent.empty());
  CHECK(sent.front().kind == UplinkObjectKind::init);
  CHECK(sent.front().path == "720p/init-42.mp4");
  CHECK(sent.front().content_type == "video/mp4");
  std::vector<std::string> media;
  size_t media_bytes = 0, inits = 0;
  for (const auto& o : sent) {
    if (o.kind == UplinkObjectKind::init) ++inits;
    if (o.kind == UplinkObjectKind::part) {
      media.push_back(o.path);
      media_bytes += o.data->size();
    }
    // Each byte once: parts exist, so no whole segment goes.
    CHECK(o.kind != UplinkObjectKind::segment);
    if (o.kind == UplinkObjectKind::playlist) {
      CHECK(o.path == "720p/index.m3u8");
      CHECK(o.content_type == "application/vnd.apple.mpegurl");
      // Every part the playlist lists went before it.
      CHECK(listed_parts(o) <= media.size());
    }
  }
  CHECK(inits == 1);
  std::vector<std::string> expected;
  for (uint64_t msn = 1; msn <= 7; ++msn)
    for (size_t i = 0; i < 4; ++i) expected.push_back("720p/" + hls::part_uri(relay::test::kInstance, msn, i));
  expected.push_back("720p/" + hls::part_uri(relay::test::kInstance, 8, 0));
  expected.push_back("720p/" + hls::part_uri(relay::test::kInstance, 8, 1));
  CHECK(media == expected);
  CHECK(media_bytes == 30 * 1000);
  // The newest playlist is the last word.
  CHECK(sent.back().kind == UplinkObjectKind::playlist);
  CHECK(listed_parts(sent.back()) == 30);
}

TEST_CASE("before the first playlist nothing is queued; the media published before it follows it", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  queue.update(rendition.at(3), 0);  // parts of segment 1, no playlist yet
  CHECK(queue.empty());
  queue.update(rendition.at(5), 0);
  auto sent = drain(queue);
  REQUIRE(sent.size() == 7);  // init, 5 parts, playlist
  CHECK(sent[0].kind == UplinkObjectKind::init);
  CHECK(sent[1].path == "720p/" + hls::part_uri(relay::test::kInstance, 1, 0));
  CHECK(sent[5].path == "720p/" + hls::part_uri(relay::test::kInstance, 2, 0));
  CHECK(sent[6].kind == UplinkObjectKind::playlist);
}

TEST_CASE("without LL-HLS parts whole segments go, each once", "[uplink]") {
  FakeRendition rendition(false);
  RenditionUplinkQueue queue("360p", {});
  for (size_t parts = 4; parts <= 16; parts += 4) queue.update(rendition.at(parts), 0);
  auto sent = drain(queue);
  std::vector<std::string> media;
  for (const auto& o : sent) {
    CHECK(o.kind != UplinkObjectKind::part);
    if (o.kind == UplinkObjectKind::segment) {
      media.push_back(o.path);
      CHECK(o.data->size() == 4000);
      CHECK(o.segment_start);
      CHECK(o.duration_s == 2);
    }
  }
  CHECK(media == std::vector<std::string>{"360p/" + hls::segment_uri(relay::test::kInstance, 1), "360p/" + hls::segment_uri(relay::test::kInstance, 2),
                                          "360p/" + hls::segment_uri(relay::test::kInstance, 3), "360p/" + hls::segment_uri(relay::test::kInstance, 4)});
}

TEST_CASE("MPEG-TS segments go whole as video/mp2t, without an init", "[uplink]") {
  hls::RenditionSnapshot s;
  s.name = "360p";
  s.instance = std::string(relay::test::kInstance);
  s.segment_extension = "ts";
  auto seg = std::make_shared<hls::Segment>();
  seg->msn = 1;
  seg->duration_s = 2;
  seg->data = make_bytes(std::string(188 * 10, 'G'));
  s.segments[1] = seg;
  s.last_msn = 1;
  s.playlist = make_bytes("#EXTM3U\n#EXTINF:2.000,\nseg1.ts\n");
  RenditionUplinkQueue queue("360p", {});
  queue.update(s, 0);
  auto sent = drain(queue);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].path == "360p/" + hls::segment_uri(relay::test::kInstance, 1, "ts"));
  CHECK(sent[0].content_type == "video/mp2t");
  CHECK(sent[1].kind == UplinkObjectKind::playlist);
}

TEST_CASE("a new init section goes again, before the media that needs it", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  queue.update(rendition.at(5), 0);
  drain(queue);
  rendition.init = make_bytes(std::string(710, 'j'));
  rendition.init_name = "init-43.mp4";
  queue.update(rendition.at(6), 0);
  auto sent = drain(queue);
  REQUIRE(sent.size() == 3);
  CHECK(sent[0].kind == UplinkObjectKind::init);
  CHECK(sent[0].path == "720p/init-43.mp4");
  CHECK(sent[0].data->size() == 710);
  CHECK(sent[1].path == "720p/" + hls::part_uri(relay::test::kInstance, 2, 1));
  // The same init again is not sent again.
  queue.update(rendition.at(7), 0);
  for (const auto& o : drain(queue)) CHECK(o.kind != UplinkObjectKind::init);
}

TEST_CASE("unsent playlists are coalesced, leaving one per segment and the newest last", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  for (size_t parts = 4; parts <= 16; ++parts) queue.update(rendition.at(parts), 0);
  std::vector<size_t> playlists;
  for (const auto& o : queue.queued())
    if (o.kind == UplinkObjectKind::playlist) playlists.push_back(listed_parts(o));
  // Each segment keeps the last playlist made while it was the newest (the one
  // that completes it); the others were superseded before they went.
  CHECK(playlists == std::vector<size_t>{4, 8, 12, 16});
  CHECK(queue.queued().back().kind == UplinkObjectKind::playlist);
  // A playlist in flight is not the one replaced.
  auto front = queue.begin_send();
  REQUIRE(front);
  CHECK(front->kind == UplinkObjectKind::init);
}

TEST_CASE("an overflowing backlog drops whole segments from the oldest and resumes at a segment start", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {5, 1 << 30});  // 5 media seconds: two and a half segments
  queue.update(rendition.at(5), 0);
  // The sender is stuck on part 1.1: it stays in flight, whatever overflows.
  drain(queue);
  queue.update(rendition.at(6), 0);
  auto stuck = queue.begin_send();
  REQUIRE(stuck);
  CHECK(stuck->path == "720p/" + hls::part_uri(relay::test::kInstance, 2, 1));
  for (size_t parts = 7; parts <= 40; ++parts) queue.update(rendition.at(parts), 0);

  CHECK(queue.segments_dropped() > 0);
  CHECK(queue.backlog_s() <= 5 + 2);  // the limit, or the newest segment alone
  const auto& q = queue.queued();
  CHECK(q.front().path == stuck->path);  // in flight, never dropped
  // After it, media resumes at a segment start, and every segment queued is
  // whole from its first part.
  std::map<std::string, std::pair<uint64_t, size_t>> part_of;
  for (uint64_t msn = 1; msn <= 10; ++msn)
    for (size_t k = 0; k < 4; ++k) part_of["720p/" + hls::part_uri(relay::test::kInstance, msn, k)] = {msn, k};
  std::map<uint64_t, std::vector<size_t>> parts_by_msn;
  bool first_media = true;
  for (size_t i = 1; i < q.size(); ++i) {
    if (q[i].kind != UplinkObjectKind::part) continue;
    if (first_media) CHECK(q[i].segment_start);
    first_media = false;
    const auto [msn, index] = part_of.at(q[i].path);
    parts_by_msn[msn].push_back(index);
  }
  REQUIRE(!parts_by_msn.empty());
  for (const auto& [msn, indexes] : parts_by_msn) {
    for (size_t k = 0; k < indexes.size(); ++k) CHECK(indexes[k] == k);
  }
  // The newest media is kept.
  CHECK(parts_by_msn.rbegin()->first == 10);
  queue.finish_send();
  auto sent = drain(queue);
  CHECK(sent.back().kind == UplinkObjectKind::playlist);
  CHECK(listed_parts(sent.back()) == 40);
  CHECK(queue.empty());
  CHECK(queue.backlog_s() == 0);
  CHECK(queue.backlog_bytes() == 0);
}

TEST_CASE("the backlog is bounded in bytes too, and an init is never dropped", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {600, 10000});  // about two segments of 4 x 1000 bytes
  for (size_t parts = 4; parts <= 40; ++parts) queue.update(rendition.at(parts), 0);
  CHECK(queue.segments_dropped() > 0);
  CHECK(queue.backlog_bytes() <= 10000);
  CHECK(queue.queued().front().kind == UplinkObjectKind::init);
  size_t inits = 0;
  for (const auto& o : queue.queued()) inits += o.kind == UplinkObjectKind::init;
  CHECK(inits == 1);
}

TEST_CASE("a failed object is tried again first, unless an overflow dropped it meanwhile", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  queue.update(rendition.at(6), 0);
  auto first = queue.begin_send();
  REQUIRE(first);
  CHECK(!queue.begin_send());  // one at a time
  queue.retry_later();
  auto again = queue.begin_send();
  REQUIRE(again);
  CHECK(again->path == first->path);
  CHECK(again->data == first->data);
}

TEST_CASE("the lag counts from the oldest object waiting", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  CHECK(!queue.oldest_queued_ms());
  queue.update(rendition.at(5), 1000);
  queue.update(rendition.at(6), 3000);
  CHECK(queue.oldest_queued_ms() == 1000);
  drain(queue);
  CHECK(!queue.oldest_queued_ms());
}

TEST_CASE("a stream that starts over is followed from its oldest segment", "[uplink]") {
  FakeRendition rendition;
  RenditionUplinkQueue queue("720p", {});
  queue.update(rendition.at(20), 0);
  drain(queue);
  FakeRendition restarted;
  queue.update(restarted.at(5), 0);
  std::vector<std::string> media;
  for (const auto& o : drain(queue))
    if (o.kind == UplinkObjectKind::part) media.push_back(o.path);
  REQUIRE(!media.empty());
  CHECK(media.front() == "720p/" + hls::part_uri(relay::test::kInstance, 1, 0));
}
