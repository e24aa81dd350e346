#include <catch2/catch.hpp>

#include <regex>

#include "fmp4_fixture.hpp"
#include "hls/blocking.hpp"
#include "hls/packager.hpp"
#include "hls/playlist.hpp"
#include "ll_rules.hpp"

using namespace relay::hls;

namespace {

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) s.replace(pos, from.size(), to);
  return s;
}

// Two renditions fed in lock-step, 30 fps, 2 s GOPs cut into 0.5 s parts.
struct LadderRig {
  Store store{{"hi", "lo"}};
  std::vector<std::unique_ptr<Packager>> packagers;
  uint64_t frame = 0;
  explicit LadderRig(double dvr = 0) {
    for (size_t i = 0; i < 2; ++i) {
      PackagerOptions options{i == 0 ? "hi" : "lo", 2.0, 6, dvr, 64u << 20, 0.5};
      options.instance = "t0";
      packagers.push_back(std::make_unique<Packager>(options, i, store, nullptr));
      packagers.back()->set_time_origin(1'767'225'600'000);
      packagers.back()->push(fixture::init_segment());
    }
  }
  // One part (15 frames) into each rendition.
  void part() {
    for (auto& p : packagers) {
      p->push(fixture::audio_part(frame * 1600, 23));
      p->push(fixture::video_part(frame, 15, frame % 60 == 0));
    }
    frame += 15;
  }
  void parts(int n) {
    for (int i = 0; i < n; ++i) part();
  }
  std::string playlist(size_t i = 0) const { return *store.rendition(i)->playlist; }
};

}  // namespace

TEST_CASE("LL: EXT-X-PART-INF carries the configured PART-TARGET") {
  LadderRig rig;
  rig.parts(10);
  CHECK(ll_rules::part_target_present(rig.playlist(), 0.5) == "");
  CHECK(ll_rules::part_target_present(replace_all(rig.playlist(), "#EXT-X-PART-INF", "#X"), 0.5) != "");
}

TEST_CASE("LL: SERVER-CONTROL can block, with hold-backs and skip boundary per the spec") {
  LadderRig rig;
  rig.parts(10);
  auto pl = rig.playlist();
  CHECK(ll_rules::server_control(pl) == "");
  CHECK(pl.find("CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,CAN-SKIP-UNTIL=12.000") != std::string::npos);
  CHECK(ll_rules::server_control(replace_all(pl, "PART-HOLD-BACK=1.500", "PART-HOLD-BACK=1.000")) != "");
  CHECK(ll_rules::server_control(replace_all(pl, ",HOLD-BACK=6.000", ",HOLD-BACK=4.000")) != "");
  CHECK(ll_rules::server_control(replace_all(pl, "CAN-SKIP-UNTIL=12.000", "CAN-SKIP-UNTIL=8.000")) != "");
  CHECK(ll_rules::server_control(replace_all(pl, "CAN-BLOCK-RELOAD=YES", "CAN-BLOCK-RELOAD=NO")) != "");
}

TEST_CASE("LL: parts are listed before their parent segment's URI") {
  LadderRig rig;
  rig.parts(14);
  auto pl = rig.playlist();
  CHECK(ll_rules::parts_before_parent(pl) == "");
  // Moving a segment URI above its last part breaks the rule.
  auto broken = std::regex_replace(pl, std::regex("(#EXT-X-PART:[^\n]*part-t0-2\\.3\\.m4s\"\n)#EXTINF:2.000,\nseg-t0-2.m4s\n"),
                                   "#EXTINF:2.000,\nseg-t0-2.m4s\n$1");
  REQUIRE(broken != pl);
  CHECK(ll_rules::parts_before_parent(broken) != "");
}

TEST_CASE("LL: INDEPENDENT=YES exactly on parts that start with an IDR") {
  LadderRig rig;
  rig.parts(14);
  std::map<std::string, bool> idr;
  auto snap = rig.store.rendition(0);
  for (auto& [msn, seg] : snap->segments)
    for (auto& p : seg->parts) idr[part_uri("t0", p.msn, p.index)] = p.independent;
  for (auto& p : snap->open_parts) idr[part_uri("t0", p.msn, p.index)] = p.independent;
  CHECK(idr["part-t0-2.0.m4s"]);
  CHECK_FALSE(idr["part-t0-2.1.m4s"]);
  auto pl = rig.playlist();
  CHECK(ll_rules::independent_marks(pl, idr) == "");
  CHECK(ll_rules::independent_marks(replace_all(pl, "part-t0-3.0.m4s\",INDEPENDENT=YES", "part-t0-3.0.m4s\""), idr) != "");
}

TEST_CASE("LL: one PRELOAD-HINT naming the next part, part 0 of the next segment when the open one is full") {
  LadderRig rig;
  rig.parts(9);  // segments 1, 2 done; segment 3 has one part
  auto pl = rig.playlist();
  CHECK(ll_rules::one_preload_hint(pl) == "");
  CHECK(pl.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t0-3.1.m4s\"") != std::string::npos);
  rig.parts(3);  // segment 3 has all four parts: the next part opens segment 4
  CHECK(rig.playlist().find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t0-4.0.m4s\"") != std::string::npos);
  CHECK(ll_rules::one_preload_hint(pl + "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"x\"\n") != "");
}

TEST_CASE("LL: PDT on every segment, including the one being built") {
  LadderRig rig;
  rig.parts(13);
  auto pl = rig.playlist();
  CHECK(ll_rules::pdt_on_every_segment(pl) == "");
  auto broken = std::regex_replace(pl, std::regex("#EXT-X-PROGRAM-DATE-TIME:[^\n]*\n(#EXT-X-PART:[^\n]*part-t0-4\\.0)"), "$1");
  REQUIRE(broken != pl);
  CHECK(ll_rules::pdt_on_every_segment(broken) != "");
}

TEST_CASE("LL: every part is at most PART-TARGET and at least 85 % of it, but the exempt ones") {
  LadderRig rig;
  rig.parts(14);
  auto pl = rig.playlist();
  CHECK(ll_rules::part_durations(pl) == "");
  CHECK(ll_rules::part_durations(replace_all(pl, "DURATION=0.500,URI=\"part-t0-3.1", "DURATION=0.520,URI=\"part-t0-3.1")) != "");
  CHECK(ll_rules::part_durations(replace_all(pl, "DURATION=0.500,URI=\"part-t0-3.1", "DURATION=0.400,URI=\"part-t0-3.1")) != "");
  // A short last part of a complete segment is allowed.
  CHECK(ll_rules::part_durations(replace_all(pl, "DURATION=0.500,URI=\"part-t0-3.3", "DURATION=0.100,URI=\"part-t0-3.3")) == "");
}

TEST_CASE("LL: parts are listed only for the last three target durations") {
  LadderRig rig;
  rig.parts(40);
  auto pl = rig.playlist();
  CHECK(ll_rules::parts_only_recent(pl) == "");
  CHECK(pl.find("part-t0-6.0.m4s") == std::string::npos);  // 10 segments in: old parts are gone from the playlist
  // ... but still downloadable for a while.
  CHECK(rig.store.rendition(0)->find_part(7, 1) != nullptr);
  // A playlist listing parts all the way back breaks the rule.
  LadderRig wide;
  wide.parts(14);
  std::string all_parts = wide.playlist();
  CHECK(ll_rules::parts_only_recent(all_parts) == "");
  auto broken = replace_all(pl, "#EXTINF:2.000,\nseg-t0-5.m4s", "#EXT-X-PART:DURATION=0.500,URI=\"part-t0-5.0.m4s\",INDEPENDENT=YES\n#EXTINF:2.000,\nseg-t0-5.m4s");
  REQUIRE(broken != pl);
  CHECK(ll_rules::parts_only_recent(broken) != "");
}

TEST_CASE("LL: renditions share SERVER-CONTROL and target duration, and report each other") {
  LadderRig rig;
  rig.parts(13);
  auto a = rig.playlist(0), b = rig.playlist(1);
  CHECK(ll_rules::find_line(a, "#EXT-X-SERVER-CONTROL") == ll_rules::find_line(b, "#EXT-X-SERVER-CONTROL"));
  CHECK(ll_rules::find_line(a, "#EXT-X-TARGETDURATION") == ll_rules::find_line(b, "#EXT-X-TARGETDURATION"));
  auto reports = rendition_reports(rig.store, 0);
  CHECK(reports == "#EXT-X-RENDITION-REPORT:URI=\"../lo/index.m3u8\",LAST-MSN=4,LAST-PART=0\n");
  auto lo = rig.store.rendition(1);
  CHECK(lo->find_part(4, 0) != nullptr);  // the reported part exists
  CHECK(lo->find_part(4, 1) == nullptr);
}

TEST_CASE("LL: a delta update replaces segments beyond CAN-SKIP-UNTIL with EXT-X-SKIP") {
  LadderRig rig(60);
  rig.parts(4 * 12 + 1);  // 12 complete segments (24 s) and one part
  auto full = rig.playlist();
  auto snap = rig.store.rendition(0);
  REQUIRE(snap->playlist_delta);
  auto delta = *snap->playlist_delta;
  std::smatch m;
  REQUIRE(std::regex_search(delta, m, std::regex("#EXT-X-SKIP:SKIPPED-SEGMENTS=([0-9]+)")));
  int skipped = std::stoi(m[1]);
  // 24.5 s listed: segments 1..6 end at least 12 s before the end.
  CHECK(skipped == 6);
  auto count = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') - 0; };
  CHECK(full.find("seg-t0-1.m4s") != std::string::npos);
  CHECK(delta.find("seg-t0-6.m4s") == std::string::npos);
  CHECK(delta.find("seg-t0-7.m4s") != std::string::npos);
  CHECK(count(delta) < count(full));
  // The live window alone (12 s) leaves nothing to skip.
  LadderRig live;
  live.parts(4 * 12 + 1);
  CHECK_FALSE(live.store.rendition(0)->playlist_delta);
}

TEST_CASE("LL: blocking reload verdicts") {
  LadderRig rig;
  rig.parts(9);  // segments 1-2 complete, segment 3 has part 0
  auto s = *rig.store.rendition(0);
  REQUIRE(s.last_msn == 2);
  using V = BlockVerdict;
  CHECK(check_block(s, {2, std::nullopt}) == V::ready);
  CHECK(check_block(s, {3, std::nullopt}) == V::wait);
  CHECK(check_block(s, {4, std::nullopt}) == V::wait);
  CHECK(check_block(s, {5, std::nullopt}) == V::bad_request);  // beyond last + 2
  CHECK(check_block(s, {3, 0}) == V::ready);
  CHECK(check_block(s, {3, 1}) == V::wait);
  CHECK(check_block(s, {2, 3}) == V::ready);
  CHECK(check_block(s, {2, 4}) == V::ready);   // past the end of 2 = part 0 of 3, which exists
  CHECK(check_block(s, {4, 1}) == V::wait);         // 5 parts ahead of part 3.0
  CHECK(check_block(s, {4, 2}) == V::wait);         // 6 ahead: the limit is 3 / 0.5 = 6
  CHECK(check_block(s, {4, 3}) == V::bad_request);  // 7 ahead
  CHECK(part_advance_limit(0.5) == 6);
  CHECK(part_advance_limit(0.333) == 10);
  CHECK(part_advance_limit(1.0) == 3);
}

TEST_CASE("LL: a third-of-a-second part is advertised rounded up so no part exceeds PART-TARGET") {
  Store store{{"a"}};
  Packager p({"a", 2.0, 6, 0, 16u << 20, 2.0 / 6}, 0, store, nullptr);
  p.set_time_origin(1);
  p.push(fixture::init_segment());
  for (int i = 0; i < 14; ++i) p.push(fixture::video_part(uint64_t(i) * 10, 10, i % 6 == 0));
  auto pl = *store.rendition(0)->playlist;
  CHECK(pl.find("#EXT-X-PART-INF:PART-TARGET=0.334\n") != std::string::npos);
  CHECK(pl.find("PART-HOLD-BACK=1.002") != std::string::npos);
  CHECK(pl.find("#EXT-X-PART:DURATION=0.333,") != std::string::npos);
  CHECK(ll_rules::part_durations(pl) == "");
  CHECK(ll_rules::server_control(pl) == "");
}
