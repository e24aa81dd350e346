#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "hls/aac_fragments.hpp"
#include "hls/audio_rendition.hpp"
#include "hls/fmp4.hpp"
#include "hls/master.hpp"

using namespace relay::hls;

namespace {

constexpr int64_t kOrigin = 1'767'225'600'000;  // 2026-01-01T00:00:00.000Z
constexpr uint32_t kRate = 48000;

// AAC-LC, 48 kHz, stereo: object type 2, frequency index 3, channel configuration 2.
aac::Format stereo_48k() { return {kRate, 2, std::string("\x11\x90", 2), 64000}; }

// A stand-in for an AAC frame: its size differs per frame, its bytes say which one it is.
std::string frame_bytes(int n) { return std::string(100 + n % 7, static_cast<char>('A' + n % 26)); }

// The video's cuts: segments of `parts` parts of `part_s` seconds, numbered from `first_msn`.
std::vector<PartCut> video_cuts(uint64_t first_msn, int segments, int parts, double part_s) {
  std::vector<PartCut> cuts;
  for (int s = 0; s < segments; ++s)
    for (int p = 0; p < parts; ++p) {
      PartCut cut;
      cut.msn = first_msn + s;
      cut.index = p;
      cut.start_s = (s * parts + p) * part_s;
      cut.end_s = cut.start_s + part_s;
      cut.time_origin_epoch_ms = kOrigin;
      cuts.push_back(cut);
    }
  return cuts;
}

}  // namespace

TEST_CASE("the AAC init section describes one sound track the fMP4 reader understands") {
  const std::string init = aac::init_section(stereo_48k());
  auto boxes = fmp4::read_boxes(init);
  REQUIRE(boxes.size() == 2);
  CHECK(boxes[0].type == "ftyp");
  CHECK(boxes[1].type == "moov");
  auto tracks = fmp4::parse_moov(boxes[1].data);
  REQUIRE(tracks.size() == 1);
  CHECK(tracks[0].handler == "soun");
  CHECK(tracks[0].timescale == kRate);
  CHECK(tracks[0].codec == "mp4a.40.2");
  CHECK(tracks[0].default_sample_duration == aac::kFrameSamples);
  CHECK(aac::codec_string(stereo_48k()) == "mp4a.40.2");
}

TEST_CASE("an AAC fragment carries its frames, decode time and sizes") {
  const std::string init = aac::init_section(stereo_48k());
  auto tracks = fmp4::parse_moov(fmp4::read_boxes(init)[1].data);
  std::vector<std::string> frames = {frame_bytes(0), frame_bytes(1), frame_bytes(2)};
  std::vector<std::string_view> views(frames.begin(), frames.end());
  const std::string fragment = aac::fragment(7, 96000, views);
  auto boxes = fmp4::read_boxes(fragment);
  REQUIRE(boxes.size() == 2);
  CHECK(boxes[0].type == "moof");
  CHECK(boxes[1].type == "mdat");
  CHECK(boxes[1].payload() == frames[0] + frames[1] + frames[2]);
  auto trafs = fmp4::parse_moof(boxes[0].data, tracks);
  REQUIRE(trafs.size() == 1);
  CHECK(trafs[0].base_decode_time == 96000);
  CHECK(trafs[0].sample_count == 3);
  CHECK(trafs[0].duration == 3 * aac::kFrameSamples);
  CHECK(trafs[0].starts_with_sync);
  // The boxes around the media: what a part costs beyond its AAC frames.
  CHECK(fragment.size() - boxes[1].payload().size() == 8 + boxes[0].data.size());
  CHECK(boxes[0].data.size() < 120 + 4 * frames.size());
}

TEST_CASE("ffprobe reads the writer's output as AAC at the written times", "[ffprobe]") {
  // ffmpeg is a build prerequisite here (scripts/setup.sh), as for the integration tests.
  REQUIRE(std::system("ffprobe -version >/dev/null 2>&1") == 0);
  // Real AAC frames: silence from ffmpeg's encoder would need a pipeline; the
  // container is what is checked, so ffprobe is asked for packets, not decoding.
  std::vector<std::string> frames;
  for (int i = 0; i < 10; ++i) frames.push_back(frame_bytes(i));
  std::vector<std::string_view> views(frames.begin(), frames.end());
  auto path = std::filesystem::temp_directory_path() / "relay-aac-writer-test.mp4";
  {
    std::ofstream out(path, std::ios::binary);
    out << aac::init_section(stereo_48k()) << aac::fragment(1, 48000, views);
  }
  std::string cmd = "ffprobe -v error -show_entries packet=pts,size -of csv=p=0 " + path.string();
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string text;
  char buf[256];
  while (fgets(buf, sizeof buf, pipe)) text += buf;
  pclose(pipe);
  std::filesystem::remove(path);
  INFO(text);
  // Each frame at its decode time (in the track's 48 kHz timescale) with its size.
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += std::to_string(48000 + i * 1024) + "," + std::to_string(frames[i].size()) + "\n";
  CHECK(text == expected);
}

TEST_CASE("audio parts follow the video's parts: same msn, aligned within an AAC frame") {
  Store store{{"360p", "audio-1"}};
  PackagerOptions options{"audio-1", 1.0, 6, 0, 16u << 20};
  options.instance = "t0";
  options.part_target_s = AudioRendition::part_target_for(0.2, kRate);
  CHECK(options.part_target_s == Approx(10 * 1024.0 / kRate));
  AudioRendition audio(options, 1, store);
  audio.set_format(stereo_48k());

  // The video's first frame is at running time 5 s; the sound started 60 ms before.
  const int64_t origin_ns = 5'000'000'000;
  const int64_t first_ns = origin_ns - 60'000'000;
  const int frames = static_cast<int>(3.5 * kRate / aac::kFrameSamples);
  auto cuts = video_cuts(4, 3, 5, 0.2);  // the video numbers its segments from 4 here
  size_t next_cut = 0;
  for (int n = 0; n < frames; ++n) {
    const int64_t at = first_ns + static_cast<int64_t>(std::llround(n * 1e9 * aac::kFrameSamples / kRate));
    if (n == 3) audio.set_origin(origin_ns);  // the video's first frame arrives a little later
    audio.push_frame(at, frame_bytes(n));
    // Cuts come from the video thread, roughly in time with the sound.
    const double media_s = double(at - origin_ns) / 1e9;
    while (next_cut < cuts.size() && cuts[next_cut].end_s < media_s - 0.1) audio.on_video_part(cuts[next_cut++]);
  }
  while (next_cut < cuts.size()) audio.on_video_part(cuts[next_cut++]);

  auto snap = store.rendition(1);
  REQUIRE(snap);
  // Segments 4 and 5 are complete; 6 is open with all its parts.
  REQUIRE(snap->segments.count(4) == 1);
  REQUIRE(snap->segments.count(5) == 1);
  CHECK(snap->segments.count(3) == 0);
  CHECK(snap->open_msn == 6);
  CHECK(snap->open_parts.size() == 5);
  auto init_tracks = fmp4::parse_moov(fmp4::read_boxes(*snap->init)[1].data);
  for (uint64_t msn : {4, 5}) {
    const Segment& seg = *snap->segments.at(msn);
    CHECK(seg.parts.size() == 5);
    const double start_s = (msn - 4) * 1.0;
    auto first = fmp4::parse_moof(fmp4::read_boxes(*seg.parts[0].data)[0].data, init_tracks);
    CHECK(std::abs(double(first[0].base_decode_time) / kRate - start_s) <= 0.5 * aac::kFrameSamples / kRate);
    CHECK(seg.pdt_epoch_ms == Approx(kOrigin + start_s * 1000).margin(11));
    for (const Part& p : seg.parts) {
      CHECK(p.duration_s <= options.part_target_s + 1e-9);
      CHECK(p.duration_s >= 0.85 * options.part_target_s);
      CHECK(p.independent);
    }
    CHECK(seg.duration_s == Approx(1.0).margin(double(aac::kFrameSamples) / kRate));
  }
  // The parts are back to back: each starts where the one before ended.
  uint64_t expected = 0;
  bool first_part = true;
  for (uint64_t msn : {4, 5}) {
    for (const Part& p : snap->segments.at(msn)->parts) {
      auto traf = fmp4::parse_moof(fmp4::read_boxes(*p.data)[0].data, init_tracks)[0];
      if (!first_part) CHECK(traf.base_decode_time == expected);
      first_part = false;
      expected = traf.base_decode_time + traf.duration;
    }
  }
  REQUIRE(snap->playlist);
  CHECK(snap->playlist->find("#EXT-X-MEDIA-SEQUENCE:4") != std::string::npos);
  CHECK(audio.fragment_bytes() > audio.media_bytes());
}

TEST_CASE("an audio track joins at the start of a video segment, never mid-segment") {
  Store store{{"360p", "audio-1"}};
  PackagerOptions options{"audio-1", 1.0, 6, 0, 16u << 20};
  options.part_target_s = AudioRendition::part_target_for(0.2, kRate);
  AudioRendition audio(options, 1, store);
  audio.set_format(stereo_48k());
  audio.set_origin(0);
  for (int n = 0; n < 150; ++n)
    audio.push_frame(static_cast<int64_t>(std::llround(n * 1e9 * aac::kFrameSamples / kRate)), frame_bytes(n));
  auto cuts = video_cuts(1, 3, 5, 0.2);
  // The first cuts it sees are the middle of segment 1.
  for (size_t i = 2; i < cuts.size(); ++i) audio.on_video_part(cuts[i]);
  auto snap = store.rendition(1);
  REQUIRE(snap);
  CHECK(snap->segments.count(1) == 0);
  CHECK(snap->segments.count(2) == 1);
  CHECK(snap->open_msn == 3);
}

TEST_CASE("the master lists the floor as the default audio and the interpreter tracks with URIs") {
  const std::string master =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS=\"avc1.64001e,mp4a.40.2\"\n240p/index.m3u8\n";
  AudioGroup group;
  group.tracks = {{"Deutsch (Saal)", "de", "", 0}, {"English (interpretation)", "en", "audio-1/index.m3u8", 80000}};
  const std::string out = add_audio_group(master, group);
  CHECK(out ==
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"de\",NAME=\"Deutsch (Saal)\",AUTOSELECT=YES,DEFAULT=YES\n"
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"en\",NAME=\"English (interpretation)\",AUTOSELECT=YES,"
        "DEFAULT=NO,URI=\"audio-1/index.m3u8\"\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud\"\n360p/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud\"\n240p/index.m3u8\n");
}

TEST_CASE("the master's BANDWIDTH makes room for the largest interpreter track, CODECS for the sound") {
  Store store{{"360p", "audio-0", "audio-1"}};
  MasterPlaylist master({{"360p", 600, 128, 0.5, 2.0, 30}}, store);
  // With [[audio]] the video renditions carry no sound of their own.
  master.set_stream_info(0, 640, 360, "avc1.64001e");
  const std::string plain = *store.master();
  AudioGroup group;
  group.tracks = {{"Floor", "", "audio-0/index.m3u8", 0}, {"English", "en", "audio-1/index.m3u8", 90000}};
  master.set_audio_group(group);
  const std::string with_audio = *store.master();
  auto bandwidth = [](const std::string& text) {
    auto at = text.find("BANDWIDTH=") + 10;
    return std::stoull(text.substr(at));
  };
  CHECK(bandwidth(with_audio) == bandwidth(plain) + 90000);
  CHECK(with_audio.find("AUDIO=\"aud\"") != std::string::npos);
  CHECK(plain.find("CODECS=\"avc1.64001e\"") != std::string::npos);
  CHECK(with_audio.find("CODECS=\"avc1.64001e,mp4a.40.2\"") != std::string::npos);
  CHECK(with_audio.find("NAME=\"Floor\",AUTOSELECT=YES,DEFAULT=YES,URI=\"audio-0/index.m3u8\"\n") != std::string::npos);
}
