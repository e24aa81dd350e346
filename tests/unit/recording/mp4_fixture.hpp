#pragma once
// Fragmented MP4 written the ways muxers write it (every trun and tfhd field
// optional, defaults from trex or tfhd, data offsets from the moof or implicit),
// and a reader of the progressive MP4 the remux makes, down to each sample's bytes.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "recording/bmff.hpp"

namespace mp4fix {

inline void put32(std::string& s, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) s += char((v >> shift) & 0xff);
}
inline void put16(std::string& s, uint16_t v) {
  s += char(v >> 8);
  s += char(v & 0xff);
}
inline void put64(std::string& s, uint64_t v) {
  put32(s, uint32_t(v >> 32));
  put32(s, uint32_t(v));
}
inline std::string box(const std::string& type, const std::string& payload) {
  std::string s;
  put32(s, uint32_t(8 + payload.size()));
  return s + type + payload;
}
inline std::string full(const std::string& type, uint8_t version, uint32_t flags, const std::string& payload) {
  std::string s;
  put32(s, (uint32_t(version) << 24) | flags);
  return box(type, s + payload);
}

inline std::string avc1_entry(uint8_t level = 0x1f, const std::string& extra_children = "") {
  std::string v(6, '\0');
  put16(v, 1);
  v += std::string(16, '\0');
  put16(v, 320);
  put16(v, 180);
  v += std::string(78 - 28, '\0');
  std::string avcc = {1, 0x64, 0, char(level), char(0xff), char(0xe1)};
  std::string sps = {0x67, 0x64, 0, char(level), char(0xac)};
  put16(avcc, uint16_t(sps.size()));
  avcc += sps;
  avcc += char(1);
  std::string pps = {0x68, char(0xee), 0x3c, char(0x80)};
  put16(avcc, uint16_t(pps.size()));
  avcc += pps;
  return box("avc1", v + box("avcC", avcc) + extra_children);
}

inline std::string mp4a_entry() {
  std::string a(6, '\0');
  put16(a, 1);
  a += std::string(8, '\0');
  put16(a, 2);
  put16(a, 16);
  a += std::string(4, '\0');
  put32(a, 48000u << 16);
  std::string esds;
  esds += "\x03\x19\x00\x01\x00";
  esds += std::string("\x04\x11\x40\x15\x00\x00\x00\x00\x02\x00\x00\x00\x01\xf4\x00", 15);
  esds += "\x05\x02\x11\x90";
  esds += "\x06\x01\x02";
  return box("mp4a", a + full("esds", 0, 0, esds));
}

inline std::string btrt(uint32_t bitrate) {
  std::string b;
  put32(b, 0);
  put32(b, bitrate);
  put32(b, bitrate);
  return box("btrt", b);
}

struct TrackSpec {
  uint32_t id = 1;
  std::string handler = "vide";
  uint32_t timescale = 90000;
  std::string entry = avc1_entry();
  uint32_t trex_duration = 0, trex_size = 0, trex_flags = 0;
  bool with_stsd = true;
};

inline TrackSpec video_track(uint32_t id = 1) { return TrackSpec{id, "vide", 90000, avc1_entry(), 3000, 0, 0x00010000}; }
inline TrackSpec audio_track(uint32_t id = 2) { return TrackSpec{id, "soun", 48000, mp4a_entry(), 1024, 0, 0}; }

inline std::string trak(const TrackSpec& t) {
  std::string tkhd;
  put32(tkhd, 0);
  put32(tkhd, 0);
  put32(tkhd, t.id);
  put32(tkhd, 0);
  put32(tkhd, 0);
  tkhd += std::string(8, '\0');
  put16(tkhd, 0);
  put16(tkhd, t.handler == "soun" ? 1 : 0);
  put16(tkhd, t.handler == "soun" ? 0x0100 : 0);
  put16(tkhd, 0);
  for (uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u}) put32(tkhd, v);
  put32(tkhd, t.handler == "vide" ? 320u << 16 : 0);
  put32(tkhd, t.handler == "vide" ? 180u << 16 : 0);
  std::string mdhd;
  put32(mdhd, 0);
  put32(mdhd, 0);
  put32(mdhd, t.timescale);
  put32(mdhd, 0);
  put16(mdhd, 0x55c4);
  put16(mdhd, 0);
  std::string hdlr;
  put32(hdlr, 0);
  hdlr += t.handler;
  hdlr += std::string(12, '\0') + "handler" + '\0';
  std::string stsd;
  put32(stsd, 1);
  stsd += t.entry;
  std::string empty;
  put32(empty, 0);
  std::string stsz;
  put32(stsz, 0);
  put32(stsz, 0);
  std::string stbl = (t.with_stsd ? full("stsd", 0, 0, stsd) : "") + full("stts", 0, 0, empty) +
                     full("stsc", 0, 0, empty) + full("stsz", 0, 0, stsz) + full("stco", 0, 0, empty);
  std::string media_header = t.handler == "vide" ? full("vmhd", 0, 1, std::string(8, '\0'))
                                                 : full("smhd", 0, 0, std::string(4, '\0'));
  std::string dref;
  put32(dref, 1);
  dref += full("url ", 0, 1, "");
  std::string minf = media_header + box("dinf", full("dref", 0, 0, dref)) + box("stbl", stbl);
  return box("trak", full("tkhd", 0, 7, tkhd) +
                         box("mdia", full("mdhd", 0, 0, mdhd) + full("hdlr", 0, 0, hdlr) + box("minf", minf)));
}

inline std::string init(const std::vector<TrackSpec>& tracks, uint32_t movie_timescale = 1000) {
  std::string ftyp = box("ftyp", std::string("iso6") + std::string(4, '\0') + "iso6cmfc");
  std::string mvhd;
  put32(mvhd, 0);
  put32(mvhd, 0);
  put32(mvhd, movie_timescale);
  put32(mvhd, 0);
  mvhd += std::string(80, '\0');
  std::string traks, mvex;
  for (const auto& t : tracks) {
    traks += trak(t);
    std::string trex;
    put32(trex, t.id);
    put32(trex, 1);
    put32(trex, t.trex_duration);
    put32(trex, t.trex_size);
    put32(trex, t.trex_flags);
    mvex += full("trex", 0, 0, trex);
  }
  return ftyp + box("moov", full("mvhd", 0, 0, mvhd) + traks + box("mvex", mvex));
}

struct Sample {
  uint32_t duration = 3000;
  std::string data;
  bool sync = true;
  int32_t cto = 0;
};

constexpr uint32_t kNonSync = 0x00010000;

// One traf, and how its fields are written.
struct Traf {
  uint32_t track = 1;
  std::optional<uint64_t> tfdt;
  std::vector<Sample> samples;
  bool per_sample_duration = true, per_sample_size = true, per_sample_flags = true, per_sample_cto = false;
  std::optional<uint32_t> default_duration, default_size, default_flags;  // in tfhd
  bool first_sample_flags = false;  // the first sample's flags in the trun, the rest defaults
  bool data_offset = true;          // else the data follows the previous traf's (or the moof)
  bool base_is_moof = true;
  size_t split = 0;  // > 0: a second trun from this sample on
};

inline Traf traf(uint32_t track, std::optional<uint64_t> tfdt, std::vector<Sample> samples) {
  Traf t;
  t.track = track;
  t.tfdt = tfdt;
  t.samples = std::move(samples);
  return t;
}

inline uint32_t flags_of(const Sample& s) { return s.sync ? 0x02000000 : 0x01010000; }

inline std::string traf_box(const Traf& t, uint64_t data_offset) {
  uint32_t tf = t.base_is_moof ? 0x020000 : 0;
  std::string tfhd;
  if (t.default_duration) tf |= 0x8;
  if (t.default_size) tf |= 0x10;
  if (t.default_flags) tf |= 0x20;
  put32(tfhd, t.track);
  if (t.default_duration) put32(tfhd, *t.default_duration);
  if (t.default_size) put32(tfhd, *t.default_size);
  if (t.default_flags) put32(tfhd, *t.default_flags);
  std::string out = full("tfhd", 0, tf, tfhd);
  if (t.tfdt) {
    std::string d;
    put64(d, *t.tfdt);
    out += full("tfdt", 1, 0, d);
  }
  auto trun = [&](size_t from, size_t to, uint64_t offset) {
    uint32_t rf = 0;
    if (t.data_offset) rf |= 0x1;
    if (t.first_sample_flags) rf |= 0x4;
    if (t.per_sample_duration) rf |= 0x100;
    if (t.per_sample_size) rf |= 0x200;
    if (t.per_sample_flags) rf |= 0x400;
    if (t.per_sample_cto) rf |= 0x800;
    std::string r;
    put32(r, uint32_t(to - from));
    if (t.data_offset) put32(r, uint32_t(offset));
    if (t.first_sample_flags) put32(r, flags_of(t.samples[from]));
    for (size_t i = from; i < to; ++i) {
      const auto& s = t.samples[i];
      if (t.per_sample_duration) put32(r, s.duration);
      if (t.per_sample_size) put32(r, uint32_t(s.data.size()));
      if (t.per_sample_flags) put32(r, flags_of(s));
      if (t.per_sample_cto) put32(r, uint32_t(s.cto));
    }
    return full("trun", 1, rf, r);
  };
  const size_t split = t.split > 0 && t.split < t.samples.size() ? t.split : t.samples.size();
  out += trun(0, split, data_offset);
  if (split < t.samples.size()) {
    uint64_t first_bytes = 0;
    for (size_t i = 0; i < split; ++i) first_bytes += t.samples[i].data.size();
    out += trun(split, t.samples.size(), data_offset + first_bytes);
  }
  return box("traf", out);
}

// One moof with these trafs, then one mdat with all their samples in order.
inline std::string moof_mdat(const std::vector<Traf>& trafs, uint32_t sequence = 1) {
  auto build = [&](uint64_t moof_size) {
    std::string mfhd;
    put32(mfhd, sequence);
    std::string body = full("mfhd", 0, 0, mfhd);
    uint64_t position = moof_size + 8;  // the first sample's offset from the moof
    uint64_t previous_end = moof_size + 8;
    for (const auto& t : trafs) {
      // Relative to the moof, or to where the previous traf's data ended.
      const uint64_t base = t.base_is_moof || &t == &trafs.front() ? 0 : previous_end;
      body += traf_box(t, position - base);
      for (const auto& s : t.samples) position += s.data.size();
      previous_end = position;
    }
    return box("moof", body);
  };
  const std::string moof = build(build(0).size());
  std::string data;
  for (const auto& t : trafs)
    for (const auto& s : t.samples) data += s.data;
  return moof + box("mdat", data);
}

// Video samples of 30 fps at 90 kHz: GOPs of `gop` frames, each frame's bytes distinct.
inline std::vector<Sample> video_frames(uint32_t first, uint32_t count, uint32_t gop = 30) {
  std::vector<Sample> out;
  for (uint32_t i = first; i < first + count; ++i) {
    std::string data = "frame" + std::to_string(i) + ":";
    data += std::string(50 + (i * 37) % 200, char('a' + i % 26));
    out.push_back(Sample{3000, data, i % gop == 0, 0});
  }
  return out;
}

// AAC-sized frames: 1024 samples at 48 kHz.
inline std::vector<Sample> audio_frames(uint32_t first, uint32_t count) {
  std::vector<Sample> out;
  for (uint32_t i = first; i < first + count; ++i)
    out.push_back(Sample{1024, "aac" + std::to_string(i) + std::string(20 + i % 7, 'z'), true, 0});
  return out;
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A fresh folder under the system's temporary folder, removed with the object.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::filesystem::path& base = std::filesystem::temp_directory_path()) {
    std::random_device rd;
    path = base / ("remux-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

// ---- Reading the progressive MP4 back -----------------------------------------

inline uint32_t be32(std::string_view d, size_t off) {
  auto u = reinterpret_cast<const unsigned char*>(d.data() + off);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | u[3];
}
inline uint64_t be64(std::string_view d, size_t off) { return (uint64_t(be32(d, off)) << 32) | be32(d, off + 4); }

struct OutSample {
  std::string data;
  uint64_t offset = 0;  // in the file
  uint64_t dts = 0;
  int32_t cto = 0;
  bool sync = true;
};

struct Edit {
  uint64_t duration = 0;
  int64_t media_time = 0;
};

struct OutTrack {
  uint32_t id = 0;
  std::string handler;
  uint32_t timescale = 0;
  uint64_t media_duration = 0;  // mdhd
  uint64_t track_duration = 0;  // tkhd
  std::vector<OutSample> samples;
  std::vector<Edit> edits;
  std::vector<std::string> stbl_boxes;  // their types, in order
  std::string stsd;                     // whole box
  bool wide_offsets = false;
};

struct OutMovie {
  std::vector<std::string> top_level;  // types in order
  uint32_t timescale = 0;
  uint64_t duration = 0;
  std::vector<OutTrack> tracks;
  bool wide_mdat = false;
  uint64_t mdat_size = 0;
};

inline std::optional<relay::recording::bmff::Box> find(std::string_view payload, const std::string& type) {
  return relay::recording::bmff::child(payload, type);
}

inline OutMovie read_movie(const std::string& file) {
  namespace bmff = relay::recording::bmff;
  OutMovie m;
  std::string_view moov;
  for (auto& b : bmff::children(file)) {
    m.top_level.push_back(b.type);
    if (b.type == "moov") moov = b.payload();
    if (b.type == "mdat") {
      m.wide_mdat = b.header_size == 16;
      m.mdat_size = b.data.size();
    }
  }
  auto mvhd = find(moov, "mvhd")->payload();
  const bool v1 = mvhd[0] == 1;
  m.timescale = be32(mvhd, v1 ? 20 : 12);
  m.duration = v1 ? be64(mvhd, 24) : be32(mvhd, 16);
  for (auto& trak : bmff::children(moov)) {
    if (trak.type != "trak") continue;
    OutTrack t;
    auto tkhd = find(trak.payload(), "tkhd")->payload();
    t.id = be32(tkhd, tkhd[0] == 1 ? 20 : 12);
    t.track_duration = tkhd[0] == 1 ? be64(tkhd, 28) : be32(tkhd, 20);
    if (auto edts = find(trak.payload(), "edts")) {
      auto elst = find(edts->payload(), "elst")->payload();
      const bool wide = elst[0] == 1;
      const uint32_t n = be32(elst, 4);
      for (uint32_t i = 0; i < n; ++i) {
        const size_t at = 8 + i * (wide ? 20 : 12);
        Edit e;
        e.duration = wide ? be64(elst, at) : be32(elst, at);
        e.media_time = wide ? int64_t(be64(elst, at + 8)) : int32_t(be32(elst, at + 4));
        t.edits.push_back(e);
      }
    }
    auto mdia = find(trak.payload(), "mdia")->payload();
    auto mdhd = find(mdia, "mdhd")->payload();
    t.timescale = be32(mdhd, mdhd[0] == 1 ? 20 : 12);
    t.media_duration = mdhd[0] == 1 ? be64(mdhd, 24) : be32(mdhd, 16);
    t.handler = std::string(find(mdia, "hdlr")->payload().substr(8, 4));
    auto stbl_payload = find(find(mdia, "minf")->payload(), "stbl")->payload();
    std::vector<uint32_t> sizes, deltas;
    std::vector<int32_t> ctos;
    std::vector<uint64_t> offsets;
    std::vector<std::pair<uint32_t, uint32_t>> stsc;  // first chunk, samples per chunk
    std::optional<std::vector<uint32_t>> sync;
    for (auto& b : bmff::children(stbl_payload)) {
      t.stbl_boxes.push_back(b.type);
      auto p = b.payload();
      if (b.type == "stsd") t.stsd = std::string(b.data);
      if (b.type == "stts")
        for (uint32_t i = 0, n = be32(p, 4); i < n; ++i)
          deltas.insert(deltas.end(), be32(p, 8 + 8 * i), be32(p, 12 + 8 * i));
      if (b.type == "ctts")
        for (uint32_t i = 0, n = be32(p, 4); i < n; ++i)
          ctos.insert(ctos.end(), be32(p, 8 + 8 * i), int32_t(be32(p, 12 + 8 * i)));
      if (b.type == "stss") {
        sync.emplace();
        for (uint32_t i = 0, n = be32(p, 4); i < n; ++i) sync->push_back(be32(p, 8 + 4 * i));
      }
      if (b.type == "stsz") {
        const uint32_t fixed = be32(p, 4), n = be32(p, 8);
        for (uint32_t i = 0; i < n; ++i) sizes.push_back(fixed ? fixed : be32(p, 12 + 4 * i));
      }
      if (b.type == "stsc")
        for (uint32_t i = 0, n = be32(p, 4); i < n; ++i) stsc.emplace_back(be32(p, 8 + 12 * i), be32(p, 12 + 12 * i));
      if (b.type == "stco")
        for (uint32_t i = 0, n = be32(p, 4); i < n; ++i) offsets.push_back(be32(p, 8 + 4 * i));
      if (b.type == "co64") {
        t.wide_offsets = true;
        for (uint32_t i = 0, n = be32(p, 4); i < n; ++i) offsets.push_back(be64(p, 8 + 8 * i));
      }
    }
    size_t sample = 0;
    uint64_t dts = 0;
    for (size_t chunk = 0; chunk < offsets.size(); ++chunk) {
      uint32_t per_chunk = 0;
      for (auto& [first, n] : stsc)
        if (first <= chunk + 1) per_chunk = n;
      uint64_t at = offsets[chunk];
      for (uint32_t k = 0; k < per_chunk && sample < sizes.size(); ++k, ++sample) {
        OutSample s;
        s.data = file.substr(at, sizes[sample]);
        s.offset = at;
        at += sizes[sample];
        s.dts = dts;
        dts += sample < deltas.size() ? deltas[sample] : 0;
        s.cto = sample < ctos.size() ? ctos[sample] : 0;
        s.sync = !sync || std::find(sync->begin(), sync->end(), uint32_t(sample + 1)) != sync->end();
        t.samples.push_back(s);
      }
    }
    m.tracks.push_back(std::move(t));
  }
  return m;
}

}  // namespace mp4fix
