#include <catch2/catch.hpp>

#include <random>

#include "hls/aac_fragments.hpp"
#include "mp4_fixture.hpp"
#include "recording/remux.hpp"

using namespace relay::recording;
using mp4fix::Sample;
using mp4fix::Traf;

namespace {

struct Recording {
  mp4fix::TempDir dir;
  std::filesystem::path init;
  std::vector<std::filesystem::path> segments;
  std::vector<Sample> video, audio;  // every sample written, in order

  void write_init(const std::string& bytes, const std::string& name = "init.mp4") {
    init = dir / name;
    mp4fix::write_file(init, bytes);
  }
  void add_segment(const std::string& bytes) {
    segments.push_back(dir / ("seg-" + std::to_string(segments.size()) + ".m4s"));
    mp4fix::write_file(segments.back(), bytes);
  }
  std::filesystem::path out() const { return dir / "out.mp4"; }
};

// Segments laid out as the relay's muxer lays them: parts back to back, each a
// video moof+mdat then an audio moof+mdat. 15 frames (0.5 s) per part.
void add_av_segments(Recording& r, uint32_t segments, uint32_t parts_per_segment, uint64_t video_start = 0,
                     uint64_t audio_start = 0) {
  uint32_t frame = 0, audio_frame = 0;
  uint32_t seq = 1;
  for (uint32_t s = 0; s < segments; ++s) {
    std::string bytes;
    for (uint32_t p = 0; p < parts_per_segment; ++p) {
      Traf v = mp4fix::traf(1, video_start + uint64_t(frame) * 3000, mp4fix::video_frames(frame, 15));
      // Audio frames whose end reaches the part's end: 23 or 24 of 1024 samples.
      const uint64_t part_end = uint64_t(frame + 15) * 48000 / 30;
      uint32_t n = 0;
      while (uint64_t(audio_frame + n) * 1024 < part_end) ++n;
      Traf a = mp4fix::traf(2, audio_start + uint64_t(audio_frame) * 1024, mp4fix::audio_frames(audio_frame, n));
      bytes += mp4fix::moof_mdat({v}, seq);
      bytes += mp4fix::moof_mdat({a}, seq + 1);
      seq += 2;
      r.video.insert(r.video.end(), v.samples.begin(), v.samples.end());
      r.audio.insert(r.audio.end(), a.samples.begin(), a.samples.end());
      frame += 15;
      audio_frame += n;
    }
    r.add_segment(bytes);
  }
}

void check_samples(const mp4fix::OutTrack& t, const std::vector<Sample>& expected) {
  REQUIRE(t.samples.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("sample " << i);
    CHECK(t.samples[i].data == expected[i].data);
    CHECK(t.samples[i].sync == expected[i].sync);
    CHECK(t.samples[i].cto == expected[i].cto);
  }
}

// Every sample starts where the previous ended.
void check_contiguous(const mp4fix::OutTrack& t, uint32_t duration) {
  for (size_t i = 0; i < t.samples.size(); ++i) {
    INFO("sample " << i);
    REQUIRE(t.samples[i].dts == i * duration);
  }
}

}  // namespace

TEST_CASE("video and audio as the relay muxes them become one MP4 with the moov first and every sample's bytes") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  add_av_segments(r, 3, 4);
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  INFO(result.error);
  REQUIRE(result.ok);
  const std::string file = mp4fix::read_file(r.out());
  CHECK(result.bytes == file.size());
  CHECK_FALSE(std::filesystem::exists(r.dir / "out.mp4.tmp"));
  auto movie = mp4fix::read_movie(file);
  CHECK(movie.top_level == std::vector<std::string>{"ftyp", "moov", "mdat"});
  REQUIRE(movie.tracks.size() == 2);
  const auto& video = movie.tracks[0];
  const auto& audio = movie.tracks[1];
  CHECK(video.handler == "vide");
  CHECK(video.timescale == 90000);
  check_samples(video, r.video);
  check_contiguous(video, 3000);
  check_samples(audio, r.audio);
  check_contiguous(audio, 1024);
  // The sample description is the init's, byte for byte.
  CHECK(mp4fix::read_file(r.init).find(video.stsd) != std::string::npos);
  CHECK(video.stbl_boxes == std::vector<std::string>{"stsd", "stts", "stss", "stsz", "stsc", "stco"});
  CHECK(audio.stbl_boxes == std::vector<std::string>{"stsd", "stts", "stsz", "stsc", "stco"});
  CHECK(video.media_duration == 180 * 3000);
  CHECK(video.edits.empty());  // both start at zero
  // The sound's last AAC frame runs past the last picture: the file ends with the picture.
  REQUIRE(r.audio.size() * 1024 > 6 * 48000);
  CHECK(audio.media_duration == r.audio.size() * 1024);
  REQUIRE(audio.edits.size() == 1);
  CHECK(audio.edits[0].media_time == 0);
  CHECK(audio.edits[0].duration == 6000);
  CHECK(result.duration_s == 6.0);
  CHECK(movie.timescale == 1000);
  CHECK(movie.duration == 6000);
}

TEST_CASE("a recording that starts late on the media clock starts at zero, in step") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  // An hour in; the sound starts 0.1 s after the picture.
  add_av_segments(r, 2, 2, 3600ull * 90000, 3600ull * 48000 + 4800);
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  CHECK(movie.tracks[0].edits.empty());
  REQUIRE(movie.tracks[1].edits.size() == 2);
  CHECK(movie.tracks[1].edits[0].media_time == -1);  // empty: nothing for the first 0.1 s
  CHECK(movie.tracks[1].edits[0].duration == 100);
  CHECK(movie.tracks[1].edits[1].media_time == 0);
  CHECK(movie.tracks[0].samples.front().dts == 0);
  CHECK(movie.tracks[1].samples.front().dts == 0);
  CHECK(movie.tracks[1].track_duration == 100 + movie.tracks[1].edits[1].duration);
}

TEST_CASE("defaults from trex and tfhd, first-sample flags, implicit offsets and split truns are read as ISO 14496-12 says") {
  Recording r;
  auto video_track = mp4fix::video_track();  // trex: 3000 per sample, non-sync by default
  auto audio_track = mp4fix::audio_track();
  audio_track.trex_duration = 999;  // tfhd overrides it
  r.write_init(mp4fix::init({video_track, audio_track}));
  uint32_t audio_frame = 0;
  for (uint32_t s = 0; s < 2; ++s) {
    Traf v = mp4fix::traf(1, uint64_t(s) * 30 * 3000, mp4fix::video_frames(s * 30, 30));
    v.per_sample_duration = false;  // trex
    v.per_sample_flags = false;
    v.first_sample_flags = true;    // sync first, the rest trex's non-sync
    v.split = 11;
    Traf a = mp4fix::traf(2, uint64_t(audio_frame) * 1024, {});
    for (uint32_t i = 0; i < 47; ++i)
      a.samples.push_back(Sample{1024, "aac-" + std::to_string(10 + (audio_frame + i) % 90), true, 0});
    a.per_sample_duration = false;
    a.default_duration = 1024;
    a.per_sample_size = false;
    a.default_size = 6;
    a.per_sample_flags = false;
    a.default_flags = 0x02000000;
    // No base-data-offset, not default-base-is-moof, no data offset: the audio
    // follows the video's data in the same mdat.
    a.base_is_moof = false;
    a.data_offset = false;
    audio_frame += 47;
    r.add_segment(mp4fix::moof_mdat({v, a}, s + 1));
    r.video.insert(r.video.end(), v.samples.begin(), v.samples.end());
    r.audio.insert(r.audio.end(), a.samples.begin(), a.samples.end());
  }
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  INFO(result.error);
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  REQUIRE(movie.tracks.size() == 2);
  check_samples(movie.tracks[0], r.video);
  check_contiguous(movie.tracks[0], 3000);
  check_samples(movie.tracks[1], r.audio);
  check_contiguous(movie.tracks[1], 1024);
}

TEST_CASE("composition offsets give a ctts and an edit from the first presented frame") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track()}));
  // I P B B as a B-frame encoder emits them: decode order, presentation offsets.
  const int32_t pattern[] = {6000, 15000, 3000, 3000};
  for (uint32_t s = 0; s < 2; ++s) {
    Traf v = mp4fix::traf(1, uint64_t(s) * 8 * 3000, mp4fix::video_frames(s * 8, 8, 8));
    for (size_t i = 0; i < v.samples.size(); ++i) v.samples[i].cto = pattern[i % 4];
    v.per_sample_cto = true;
    r.add_segment(mp4fix::moof_mdat({v}, s + 1));
    r.video.insert(r.video.end(), v.samples.begin(), v.samples.end());
  }
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  const auto& v = movie.tracks[0];
  check_samples(v, r.video);
  CHECK(std::find(v.stbl_boxes.begin(), v.stbl_boxes.end(), "ctts") != v.stbl_boxes.end());
  REQUIRE(v.edits.size() == 1);
  CHECK(v.edits[0].media_time == 6000);  // the first frame is presented at 6000
  CHECK(v.edits[0].duration == (16 * 3000 - 6000 + 89) / 90);  // rounded up
}

TEST_CASE("a small gap inside a run is kept, a jump or a step back in time continues the timeline") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track()}));
  auto part = [&](uint32_t first, uint64_t tfdt) {
    Traf v = mp4fix::traf(1, tfdt, mp4fix::video_frames(first, 30));
    r.add_segment(mp4fix::moof_mdat({v}));
    r.video.insert(r.video.end(), v.samples.begin(), v.samples.end());
  };
  part(0, 0);
  part(30, 31 * 3000);              // one frame missing: kept as a longer frame
  part(60, 61 * 3000 + 500 * 90000);  // 500 s later: closed
  part(90, 0);                      // back to zero (an encoder restart): continues
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  const auto& v = movie.tracks[0];
  check_samples(v, r.video);
  CHECK(v.samples[29].dts == 29 * 3000);
  CHECK(v.samples[30].dts == 31 * 3000);
  CHECK(v.samples[60].dts == 61 * 3000);
  CHECK(v.samples[90].dts == 91 * 3000);
  CHECK(v.samples[119].dts == 120 * 3000);
  CHECK(result.duration_s == Approx(121.0 / 30).margin(0.001));
}

TEST_CASE("after a jump the picture goes on where it ended and the sound in step with it") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  add_av_segments(r, 1, 2);
  Recording later;  // 100 s on; the sound starts 10 ms after the picture there
  add_av_segments(later, 1, 2, 101ull * 90000, 101ull * 48000 + 480);
  r.segments.push_back(later.segments[0]);
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  INFO(result.error);
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  const auto& v = movie.tracks[0];
  const auto& a = movie.tracks[1];
  // The picture ended at 1 s; the sound, in whole AAC frames, a little later.
  REQUIRE(r.audio.size() * 1024 < 48000 + 480);
  CHECK(v.samples[30].dts == 90000);
  CHECK(a.samples[r.audio.size()].dts == 48000 + 480);

  // Sound that would overlap its own end goes on from there, never back in time.
  Recording overlapping;
  overlapping.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  add_av_segments(overlapping, 1, 2);
  Recording at_once;
  add_av_segments(at_once, 1, 2, 101ull * 90000, 101ull * 48000);
  overlapping.segments.push_back(at_once.segments[0]);
  REQUIRE(remux_to_mp4(overlapping.init, overlapping.segments, overlapping.out()).ok);
  auto m = mp4fix::read_movie(mp4fix::read_file(overlapping.out()));
  CHECK(m.tracks[0].samples[30].dts == 90000);
  CHECK(m.tracks[1].samples[overlapping.audio.size()].dts == overlapping.audio.size() * 1024);
}

TEST_CASE("sound that starts before the picture is cut by the edit list: the file starts with the picture") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  // As the relay's muxer cuts them: the sound's fragment begins 19 ms before the picture's.
  add_av_segments(r, 2, 2, 90000, 48000 - 912);
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  CHECK(movie.tracks[0].edits.empty());
  REQUIRE(movie.tracks[1].edits.size() == 1);
  CHECK(movie.tracks[1].edits[0].media_time == 912);
  CHECK(movie.tracks[1].samples.front().dts == 0);
  const uint64_t audio_ticks = r.audio.size() * 1024 - 912;
  CHECK(movie.tracks[1].edits[0].duration == (audio_ticks * 1000 + 47999) / 48000);
  CHECK(result.duration_s == Approx(std::max(2.0, audio_ticks / 48000.0)).margin(0.001));
}

TEST_CASE("runs follow each other when their inits carry the same codecs") {
  Recording first, second;
  auto v1 = mp4fix::video_track();
  v1.entry = mp4fix::avc1_entry(0x1f, mp4fix::btrt(800000));
  auto v2 = mp4fix::video_track(7);  // another track id, another bitrate box: the same codec
  v2.entry = mp4fix::avc1_entry(0x1f, mp4fix::btrt(650000));
  auto a2 = mp4fix::audio_track(8);
  first.write_init(mp4fix::init({v1, mp4fix::audio_track()}));
  second.write_init(mp4fix::init({v2, a2}), "init-2.mp4");
  add_av_segments(first, 2, 2, 5000ull * 90000, 5000ull * 48000);
  // The second run's muxer counts from zero again, with its own track ids.
  uint32_t seq = 1;
  for (uint32_t s = 0; s < 2; ++s) {
    Traf v = mp4fix::traf(7, uint64_t(s) * 30 * 3000, mp4fix::video_frames(s * 30, 30));
    Traf a = mp4fix::traf(8, uint64_t(s) * 47 * 1024, mp4fix::audio_frames(s * 47, 47));
    second.add_segment(mp4fix::moof_mdat({v}, seq) + mp4fix::moof_mdat({a}, seq + 1));
    seq += 2;
    second.video.insert(second.video.end(), v.samples.begin(), v.samples.end());
    second.audio.insert(second.audio.end(), a.samples.begin(), a.samples.end());
  }
  auto result = remux_runs_to_mp4({{first.init, first.segments}, {second.init, second.segments}}, first.out());
  INFO(result.error);
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(first.out()));
  REQUIRE(movie.tracks.size() == 2);
  auto all_video = first.video;
  all_video.insert(all_video.end(), second.video.begin(), second.video.end());
  auto all_audio = first.audio;
  all_audio.insert(all_audio.end(), second.audio.begin(), second.audio.end());
  check_samples(movie.tracks[0], all_video);
  check_samples(movie.tracks[1], all_audio);
  // Run 2's picture starts where run 1's ended; its sound too, but run 1's
  // sound ran 5 ms longer: it goes on from there.
  CHECK(movie.tracks[0].samples[60].dts == 2 * 90000);
  CHECK(movie.tracks[1].samples[first.audio.size()].dts == first.audio.size() * 1024);
  CHECK(result.duration_s == 4.0);  // the pictures' 2 + 2 s
}

TEST_CASE("inits with another codec configuration or other tracks are not joined") {
  Recording first, second;
  first.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  add_av_segments(first, 1, 2);
  auto other_level = mp4fix::video_track();
  other_level.entry = mp4fix::avc1_entry(0x28);
  second.write_init(mp4fix::init({other_level, mp4fix::audio_track()}));
  add_av_segments(second, 1, 2);
  auto result = remux_runs_to_mp4({{first.init, first.segments}, {second.init, second.segments}}, first.out());
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("run 2") && Catch::Contains("codec configuration"));
  CHECK_FALSE(std::filesystem::exists(first.out()));

  Recording video_only;
  video_only.write_init(mp4fix::init({mp4fix::video_track()}));
  video_only.add_segment(mp4fix::moof_mdat({mp4fix::traf(1, 0, mp4fix::video_frames(0, 30))}));
  result = remux_runs_to_mp4({{first.init, first.segments}, {video_only.init, video_only.segments}}, first.out());
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.error, Catch::Contains("1 tracks"));
}

TEST_CASE("64-bit chunk offsets and mdat size above the offset limit, 32-bit up to it") {
  Recording r;
  r.write_init(mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()}));
  add_av_segments(r, 2, 2);
  REQUIRE(remux_to_mp4(r.init, r.segments, r.out()).ok);
  const std::string narrow_file = mp4fix::read_file(r.out());
  auto narrow = mp4fix::read_movie(narrow_file);
  CHECK_FALSE(narrow.tracks[0].wide_offsets);
  CHECK_FALSE(narrow.wide_mdat);

  // The largest offset of all, and the mdat's size: at the limit, 32 bits still do.
  uint64_t last_offset = 0;
  for (const auto& t : narrow.tracks)
    for (const auto& s : t.samples) last_offset = std::max(last_offset, s.offset);
  RemuxOptions at_limit{std::max(last_offset, narrow.mdat_size)};
  REQUIRE(remux_runs_to_mp4({{r.init, r.segments}}, r.out(), at_limit).ok);
  CHECK(mp4fix::read_file(r.out()) == narrow_file);

  RemuxOptions tiny{64};
  auto result = remux_runs_to_mp4({{r.init, r.segments}}, r.out(), tiny);
  REQUIRE(result.ok);
  auto wide = mp4fix::read_movie(mp4fix::read_file(r.out()));
  CHECK(wide.wide_mdat);
  for (const auto& t : wide.tracks) {
    CHECK(t.wide_offsets);
    CHECK(std::find(t.stbl_boxes.begin(), t.stbl_boxes.end(), "co64") != t.stbl_boxes.end());
  }
  check_samples(wide.tracks[0], r.video);
  check_samples(wide.tracks[1], r.audio);
}

TEST_CASE("the relay's own AAC fragments (audio-only renditions) remux") {
  Recording r;
  relay::hls::aac::Format format{48000, 2, std::string("\x11\x90", 2), 128000};
  r.write_init(relay::hls::aac::init_section(format));
  std::vector<std::string> frames;
  uint64_t decode = 0;
  for (uint32_t s = 0; s < 3; ++s) {
    std::string bytes;
    for (uint32_t p = 0; p < 4; ++p) {
      std::vector<std::string_view> views;
      const size_t first = frames.size();
      for (uint32_t i = 0; i < 24; ++i) frames.push_back("aac frame " + std::to_string(frames.size()));
      for (size_t i = first; i < frames.size(); ++i) views.push_back(frames[i]);
      bytes += relay::hls::aac::fragment(s * 4 + p + 1, decode, views);
      decode += 24 * relay::hls::aac::kFrameSamples;
    }
    r.add_segment(bytes);
  }
  auto result = remux_to_mp4(r.init, r.segments, r.out());
  INFO(result.error);
  REQUIRE(result.ok);
  auto movie = mp4fix::read_movie(mp4fix::read_file(r.out()));
  REQUIRE(movie.tracks.size() == 1);
  const auto& a = movie.tracks[0];
  CHECK(a.handler == "soun");
  REQUIRE(a.samples.size() == frames.size());
  for (size_t i = 0; i < frames.size(); ++i) CHECK(a.samples[i].data == frames[i]);
  check_contiguous(a, 1024);
  CHECK(result.duration_s == Approx(frames.size() * 1024 / 48000.0).margin(0.001));
}

TEST_CASE("bad input gives a clear error and leaves no file") {
  Recording r;
  const std::string good_init = mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()});
  r.write_init(good_init);
  add_av_segments(r, 1, 2);
  const std::string good_segment = mp4fix::read_file(r.segments[0]);
  auto remux_with = [&](const std::string& init, const std::string& segment) {
    mp4fix::write_file(r.dir / "bad-init.mp4", init);
    mp4fix::write_file(r.dir / "bad.m4s", segment);
    auto result = remux_to_mp4(r.dir / "bad-init.mp4", {r.dir / "bad.m4s"}, r.out());
    CHECK_FALSE(std::filesystem::exists(r.out()));
    CHECK_FALSE(std::filesystem::exists(r.dir / "out.mp4.tmp"));
    CHECK_FALSE(result.ok);
    return result.error;
  };
  auto set32 = [](std::string s, size_t at, uint32_t v) {
    std::string b;
    mp4fix::put32(b, v);
    return s.replace(at, 4, b);
  };
  const size_t moof_at = 0, mdat_at = good_segment.find("mdat") - 4;

  SECTION("files that are not there or not MP4") {
    auto result = remux_to_mp4(r.dir / "missing.mp4", r.segments, r.out());
    CHECK_THAT(result.error, Catch::Contains("missing.mp4") && Catch::Contains("cannot open"));
    CHECK_THAT(remux_with(mp4fix::box("ftyp", "isom"), good_segment), Catch::Contains("no moov"));
    CHECK_THAT(remux_with(good_init, mp4fix::box("free", "")), Catch::Contains("no moof"));
    CHECK_THAT(remux_to_mp4(r.init, {}, r.out()).error, Catch::Contains("no segment"));
    CHECK_THAT(remux_runs_to_mp4({}, r.out()).error, Catch::Contains("no run"));
  }
  SECTION("a track without a sample description") {
    auto no_stsd = mp4fix::video_track();
    no_stsd.with_stsd = false;
    CHECK_THAT(remux_with(mp4fix::init({no_stsd}), good_segment), Catch::Contains("track 1 has no stsd"));
  }
  SECTION("a segment cut short, by a crash or a copy") {
    CHECK_THAT(remux_with(good_init, good_segment.substr(0, good_segment.size() - 10)),
               Catch::Contains("bad.m4s") && Catch::Contains("truncated"));
    CHECK_THAT(remux_with(good_init, good_segment.substr(0, 5)), Catch::Contains("stray bytes"));
  }
  SECTION("sizes that cannot be") {
    CHECK_THAT(remux_with(good_init, set32(good_segment, moof_at, 0xfffffff0)), Catch::Contains("claims"));
    CHECK_THAT(remux_with(good_init, set32(good_segment, moof_at, 4)), Catch::Contains("smaller than its header"));
    // A 64-bit size of 2^63.
    std::string huge = set32(good_segment, mdat_at, 1);
    huge.insert(mdat_at + 8, std::string("\x80\0\0\0\0\0\0\0", 8));
    CHECK_THAT(remux_with(good_init, huge), Catch::Contains("claims"));
    // A first box of size 0 swallows the file: nothing but it.
    CHECK_THAT(remux_with(good_init, mp4fix::box("free", "") + std::string("\0\0\0\0free", 8) + good_segment),
               Catch::Contains("no moof"));
  }
  SECTION("a moof without trun, or with more samples than it holds") {
    Traf empty = mp4fix::traf(1, 0, {});
    CHECK_THAT(remux_with(good_init, mp4fix::moof_mdat({empty})), Catch::Contains("no samples"));
    std::string tfhd;
    mp4fix::put32(tfhd, 1);
    const std::string no_trun = mp4fix::box("moof", mp4fix::box("traf", mp4fix::full("tfhd", 0, 0x020000, tfhd))) +
                                mp4fix::box("mdat", "data");
    CHECK_THAT(remux_with(good_init, no_trun), Catch::Contains("no samples"));
    std::string many = mp4fix::moof_mdat({mp4fix::traf(1, 0, mp4fix::video_frames(0, 3))});
    const size_t count_at = many.find("trun") + 8;
    CHECK_THAT(remux_with(good_init, set32(many, count_at, 0x7fffffff)), Catch::Contains("announces"));
    Traf defaults = mp4fix::traf(1, 0, mp4fix::video_frames(0, 3));
    defaults.per_sample_duration = defaults.per_sample_size = defaults.per_sample_flags = false;
    defaults.default_size = 1;
    std::string no_fields = mp4fix::moof_mdat({defaults});
    CHECK_THAT(remux_with(good_init, set32(no_fields, no_fields.find("trun") + 8, 0xffffffff)),
               Catch::Contains("announces"));
  }
  SECTION("a decode time no clock reaches") {
    CHECK_THAT(remux_with(good_init, mp4fix::moof_mdat({mp4fix::traf(1, uint64_t{1} << 63, mp4fix::video_frames(0, 3))})),
               Catch::Contains("out of range"));
  }
  SECTION("samples outside the mdat, or of a track the init does not have") {
    std::string shifted = good_segment;
    const size_t offset_at = shifted.find("trun") + 12;
    CHECK_THAT(remux_with(good_init, set32(shifted, offset_at, 0x10000)), Catch::Contains("not inside an mdat"));
    CHECK_THAT(remux_with(good_init, mp4fix::moof_mdat({mp4fix::traf(9, 0, mp4fix::video_frames(0, 3))})),
               Catch::Contains("track 9"));
  }
  SECTION("an output folder that is not there") {
    auto result = remux_to_mp4(r.init, r.segments, r.dir / "no-such-folder" / "out.mp4");
    CHECK_FALSE(result.ok);
    CHECK_THAT(result.error, Catch::Contains("cannot create"));
  }
}

TEST_CASE("cut and garbled inputs never crash the remux") {
  // On tmpfs when there is one: each attempt writes and syncs an output.
  const auto shm = std::filesystem::path("/dev/shm");
  mp4fix::TempDir dir(std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path());
  const std::string init = mp4fix::init({mp4fix::video_track(), mp4fix::audio_track()});
  Recording r;
  add_av_segments(r, 1, 2);
  const std::string segment = mp4fix::read_file(r.segments[0]);
  const auto init_path = dir / "init.mp4", segment_path = dir / "seg.m4s", out = dir / "out.mp4";
  auto attempt = [&](const std::string& i, const std::string& s) {
    mp4fix::write_file(init_path, i);
    mp4fix::write_file(segment_path, s);
    auto result = remux_to_mp4(init_path, {segment_path}, out);
    CHECK((result.ok || !result.error.empty()));
    return result.ok;
  };
  REQUIRE(attempt(init, segment));
  // Every cut of the segment's boxes and the init (media bytes in steps).
  const size_t media_from = segment.find("mdat") + 4;
  for (size_t n = 0; n < segment.size(); n += n < media_from ? 1 : 97) attempt(init, segment.substr(0, n));
  for (size_t n = 0; n < init.size(); ++n) attempt(init.substr(0, n), segment);
  std::mt19937 rng(20);
  for (int i = 0; i < 400; ++i) {
    std::string s = segment, in = init;
    std::string& target = i % 2 ? s : in;
    const size_t limit = &target == &s ? media_from : target.size();
    std::uniform_int_distribution<size_t> where(0, limit - 1);
    for (int k = 0; k < 1 + i % 4; ++k) {
      const size_t at = where(rng);
      // Garble toward the values that break readers: 0, 1, 0xff.., or random.
      const int kind = int(rng() % 4);
      target[at] = kind == 0 ? '\0' : kind == 1 ? '\1' : kind == 2 ? '\xff' : char(rng());
    }
    attempt(in, s);
  }
}
