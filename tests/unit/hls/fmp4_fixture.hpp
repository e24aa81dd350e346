#pragma once
// Builds small fragmented-MP4 byte streams the way mp4mux lays them out (ftyp,
// moov with avc1+mp4a and trex, then per-track moof+mdat), so packager and parser
// tests control every flag and duration.
#include <cstdint>
#include <string>
#include <vector>

namespace fixture {

inline void put32(std::string& s, uint32_t v) {
  s += char(v >> 24);
  s += char(v >> 16);
  s += char(v >> 8);
  s += char(v);
}
inline void put16(std::string& s, uint16_t v) {
  s += char(v >> 8);
  s += char(v);
}
inline void put64(std::string& s, uint64_t v) {
  put32(s, uint32_t(v >> 32));
  put32(s, uint32_t(v));
}

inline std::string box(const std::string& type, const std::string& payload) {
  std::string s;
  put32(s, uint32_t(8 + payload.size()));
  s += type;
  return s + payload;
}

inline std::string full(uint8_t version, uint32_t flags) {
  std::string s;
  put32(s, (uint32_t(version) << 24) | flags);
  return s;
}

constexpr uint32_t kVideoTrack = 1, kAudioTrack = 2;
constexpr uint32_t kVideoTimescale = 90000, kAudioTimescale = 48000;

inline std::string trak(uint32_t id, const std::string& handler, uint32_t timescale, const std::string& entry) {
  std::string tkhd = full(0, 7);
  put32(tkhd, 0);
  put32(tkhd, 0);
  put32(tkhd, id);
  tkhd += std::string(80 - 12, '\0');
  std::string mdhd = full(0, 0);
  put32(mdhd, 0);
  put32(mdhd, 0);
  put32(mdhd, timescale);
  put32(mdhd, 0);
  put32(mdhd, 0);
  std::string hdlr = full(0, 0);
  put32(hdlr, 0);
  hdlr += handler;
  hdlr += std::string(12, '\0') + "h" + '\0';
  std::string stsd = full(0, 0);
  put32(stsd, 1);
  stsd += entry;
  std::string stbl = box("stbl", box("stsd", stsd));
  return box("trak", box("tkhd", tkhd) + box("mdia", box("mdhd", mdhd) + box("hdlr", hdlr) +
                                                       box("minf", stbl)));
}

// An SPS whose profile/constraint/level bytes are given.
inline std::string avc1_entry(uint16_t width, uint16_t height, uint8_t profile, uint8_t compat, uint8_t level) {
  std::string v(6, '\0');
  put16(v, 1);
  v += std::string(16, '\0');
  put16(v, width);
  put16(v, height);
  v += std::string(78 - 28, '\0');
  std::string sps = {char(0x67), char(profile), char(compat), char(level), char(0xac)};
  std::string avcc = {1, char(profile), char(compat), char(level), char(0xff), char(0xe1)};
  put16(avcc, uint16_t(sps.size()));
  avcc += sps;
  avcc += char(0);  // no PPS: not needed by the parser
  return box("avc1", v + box("avcC", avcc));
}

inline std::string mp4a_entry() {
  std::string a(28, '\0');
  // esds: ES_Descriptor(3) > DecoderConfig(4) > DecoderSpecificInfo(5) = AAC-LC 48 kHz stereo.
  std::string esds = full(0, 0);
  esds += "\x03\x19\x00\x02\x00";
  esds += "\x04\x11\x40\x15\x00\x00\x00\x00\x02\x00\x00\x00\x01\xf4\x00";
  esds += "\x05\x02\x11\x90";
  esds += "\x06\x01\x02";
  return box("mp4a", a + box("esds", esds));
}

inline std::string init_segment(uint16_t width = 1280, uint16_t height = 720, bool with_audio = true) {
  std::string ftyp = box("ftyp", std::string("iso6") + std::string(4, '\0') + "iso6cmfc");
  std::string mvhd = full(0, 0) + std::string(96, '\0');
  std::string moov = box("mvhd", mvhd) + trak(kVideoTrack, "vide", kVideoTimescale, avc1_entry(width, height, 0x64, 0x00, 0x1f));
  std::string mvex;
  auto trex = [](uint32_t id, uint32_t dur) {
    std::string t = full(0, 0);
    put32(t, id);
    put32(t, 1);
    put32(t, dur);
    put32(t, 0);
    put32(t, 0x00010000);  // default: non-sync
    return box("trex", t);
  };
  mvex += trex(kVideoTrack, 3000);
  if (with_audio) {
    moov += trak(kAudioTrack, "soun", kAudioTimescale, mp4a_entry());
    mvex += trex(kAudioTrack, 1024);
  }
  return ftyp + box("moov", moov + box("mvex", mvex));
}

// One track fragment of `samples` samples of `sample_duration` each; the first is a
// sync sample when `sync`. Sample data is `bytes_per_sample` filler bytes.
inline std::string fragment(uint32_t track, uint64_t decode_time, uint32_t samples, uint32_t sample_duration,
                            bool sync, uint32_t bytes_per_sample = 100) {
  std::string tfhd = full(0, 0x20000);
  put32(tfhd, track);
  std::string tfdt = full(1, 0);
  put64(tfdt, decode_time);
  std::string trun = full(0, 0x701);
  put32(trun, samples);
  put32(trun, 0);  // data offset: not needed by the parser
  for (uint32_t i = 0; i < samples; ++i) {
    put32(trun, sample_duration);
    put32(trun, bytes_per_sample);
    put32(trun, (i == 0 && sync) ? 0x02000000 : 0x01010000);
  }
  std::string moof = box("moof", box("mfhd", full(0, 0) + std::string(4, '\0')) +
                                     box("traf", box("tfhd", tfhd) + box("tfdt", tfdt) + box("trun", trun)));
  return moof + box("mdat", std::string(size_t(samples) * bytes_per_sample, 'x'));
}

// Video at 30 fps in a 90 kHz timescale: a part of `frames` frames.
inline std::string video_part(uint64_t first_frame, uint32_t frames, bool idr, uint32_t bytes_per_frame = 100) {
  return fragment(kVideoTrack, first_frame * 3000, frames, 3000, idr, bytes_per_frame);
}

inline std::string audio_part(uint64_t first_sample, uint32_t frames) {
  return fragment(kAudioTrack, first_sample, frames, 1024, true, 20);
}

}  // namespace fixture
