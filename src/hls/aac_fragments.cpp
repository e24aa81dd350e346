#include "hls/aac_fragments.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace relay::hls::aac {
namespace {

void u8(std::string& out, uint32_t v) { out += static_cast<char>(v & 0xff); }
void u16(std::string& out, uint32_t v) {
  u8(out, v >> 8);
  u8(out, v);
}
void u24(std::string& out, uint32_t v) {
  u8(out, v >> 16);
  u16(out, v);
}
void u32(std::string& out, uint32_t v) {
  u16(out, v >> 16);
  u16(out, v);
}
void u64(std::string& out, uint64_t v) {
  u32(out, static_cast<uint32_t>(v >> 32));
  u32(out, static_cast<uint32_t>(v));
}
void zeros(std::string& out, size_t n) { out.append(n, '\0'); }

std::string box(std::string_view type, std::string_view payload) {
  std::string out;
  u32(out, static_cast<uint32_t>(payload.size() + 8));
  out += type;
  out += payload;
  return out;
}

std::string full_box(std::string_view type, uint8_t version, uint32_t flags, std::string_view payload) {
  std::string head;
  u8(head, version);
  u24(head, flags);
  return box(type, head + std::string(payload));
}

void unity_matrix(std::string& out) {
  for (uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u}) u32(out, v);
}

// An MPEG-4 descriptor (ISO/IEC 14496-1): tag, one-byte size (all ours are small).
std::string descriptor(uint8_t tag, std::string_view payload) {
  if (payload.size() > 127) throw std::invalid_argument("AAC descriptor too long");
  std::string out;
  u8(out, tag);
  u8(out, static_cast<uint32_t>(payload.size()));
  return out + std::string(payload);
}

std::string esds(const Format& f) {
  std::string decoder_config;
  u8(decoder_config, 0x40);  // objectTypeIndication: MPEG-4 audio
  u8(decoder_config, 0x15);  // streamType 5 (audio) << 2 | reserved 1
  u24(decoder_config, 0);    // bufferSizeDB
  u32(decoder_config, f.bitrate_bps);
  u32(decoder_config, f.bitrate_bps);
  decoder_config += descriptor(0x05, f.config);
  std::string es;
  u16(es, 1);  // ES_ID
  u8(es, 0);   // no stream dependence, URL or OCR
  es += descriptor(0x04, decoder_config);
  es += descriptor(0x06, std::string(1, '\x02'));  // SLConfig: predefined for MP4
  return full_box("esds", 0, 0, descriptor(0x03, es));
}

std::string mp4a(const Format& f) {
  std::string p;
  zeros(p, 6);
  u16(p, 1);  // data_reference_index
  zeros(p, 8);
  u16(p, f.channels);
  u16(p, 16);  // samplesize
  zeros(p, 4);
  u32(p, f.rate << 16);
  return box("mp4a", p + esds(f));
}

}  // namespace

std::string codec_string(const Format& format) {
  if (format.config.empty()) throw std::invalid_argument("AAC format without AudioSpecificConfig");
  const int object_type = static_cast<unsigned char>(format.config[0]) >> 3;
  return fmt::format("mp4a.40.{}", object_type);
}

std::string init_section(const Format& f) {
  if (f.config.empty() || f.rate == 0 || f.channels == 0) throw std::invalid_argument("incomplete AAC format");
  std::string ftyp;
  ftyp += "iso6";
  u32(ftyp, 0);
  ftyp += "iso6cmfcmp41";

  std::string mvhd;
  zeros(mvhd, 8);  // creation, modification
  u32(mvhd, 1000);
  u32(mvhd, 0);  // duration: unknown (fragmented)
  u32(mvhd, 0x00010000);
  u16(mvhd, 0x0100);
  zeros(mvhd, 10);
  unity_matrix(mvhd);
  zeros(mvhd, 24);
  u32(mvhd, 2);  // next_track_ID

  std::string tkhd;
  zeros(tkhd, 8);
  u32(tkhd, 1);  // track_ID
  zeros(tkhd, 4);
  u32(tkhd, 0);  // duration
  zeros(tkhd, 8);
  u16(tkhd, 0);       // layer
  u16(tkhd, 0);       // alternate_group
  u16(tkhd, 0x0100);  // volume
  zeros(tkhd, 2);
  unity_matrix(tkhd);
  u32(tkhd, 0);
  u32(tkhd, 0);

  std::string mdhd;
  zeros(mdhd, 8);
  u32(mdhd, f.rate);
  u32(mdhd, 0);
  u16(mdhd, 0x55c4);  // "und": the playlist's LANGUAGE is what players show
  u16(mdhd, 0);

  std::string hdlr;
  u32(hdlr, 0);
  hdlr += "soun";
  zeros(hdlr, 12);
  hdlr += std::string("SoundHandler") + '\0';

  std::string smhd;
  zeros(smhd, 4);
  std::string dref;
  u32(dref, 1);
  dref += full_box("url ", 0, 1, "");
  std::string stsd;
  u32(stsd, 1);
  stsd += mp4a(f);
  std::string empty_table;
  u32(empty_table, 0);
  std::string stsz;
  u32(stsz, 0);
  u32(stsz, 0);
  std::string stbl = full_box("stsd", 0, 0, stsd) + full_box("stts", 0, 0, empty_table) +
                     full_box("stsc", 0, 0, empty_table) + full_box("stsz", 0, 0, stsz) +
                     full_box("stco", 0, 0, empty_table);
  std::string minf = full_box("smhd", 0, 0, smhd) + box("dinf", full_box("dref", 0, 0, dref)) + box("stbl", stbl);
  std::string mdia = full_box("mdhd", 0, 0, mdhd) + full_box("hdlr", 0, 0, hdlr) + box("minf", minf);
  std::string trak = full_box("tkhd", 0, 3, tkhd) + box("mdia", mdia);

  std::string trex;
  u32(trex, 1);  // track_ID
  u32(trex, 1);  // sample description
  u32(trex, kFrameSamples);
  u32(trex, 0);
  u32(trex, 0);
  std::string moov = full_box("mvhd", 0, 0, mvhd) + box("trak", trak) + box("mvex", full_box("trex", 0, 0, trex));
  return box("ftyp", ftyp) + box("moov", moov);
}

std::string fragment(uint32_t sequence, uint64_t base_decode_time, const std::vector<std::string_view>& frames) {
  std::string mfhd;
  u32(mfhd, sequence);
  std::string tfhd;
  u32(tfhd, 1);  // track_ID
  u32(tfhd, kFrameSamples);
  u32(tfhd, 0x02000000);  // every AAC frame is a sync sample
  std::string tfdt;
  u64(tfdt, base_decode_time);
  std::string trun;
  u32(trun, static_cast<uint32_t>(frames.size()));
  const size_t offset_at = trun.size();
  u32(trun, 0);  // data_offset, filled below
  size_t media = 0;
  for (auto f : frames) {
    u32(trun, static_cast<uint32_t>(f.size()));
    media += f.size();
  }
  // tfhd: default-base-is-moof | default-sample-duration | default-sample-flags;
  // trun: data-offset | sample-size.
  auto make_moof = [&] {
    std::string traf = full_box("tfhd", 0, 0x020028, tfhd) + full_box("tfdt", 1, 0, tfdt) +
                       full_box("trun", 0, 0x000201, trun);
    return box("moof", full_box("mfhd", 0, 0, mfhd) + box("traf", traf));
  };
  const size_t moof_size = make_moof().size();
  std::string offset;
  u32(offset, static_cast<uint32_t>(moof_size + 8));
  trun.replace(offset_at, 4, offset);
  std::string out = make_moof();
  out.reserve(out.size() + 8 + media);
  u32(out, static_cast<uint32_t>(media + 8));
  out += "mdat";
  for (auto f : frames) out += f;
  return out;
}

}  // namespace relay::hls::aac
