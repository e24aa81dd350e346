#include "hls/fmp4.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace relay::hls::fmp4 {
namespace {

uint32_t be32(std::string_view d, size_t off) {
  if (off + 4 > d.size()) throw ParseError("box truncated");
  auto u = reinterpret_cast<const unsigned char*>(d.data() + off);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | u[3];
}

uint16_t be16(std::string_view d, size_t off) {
  if (off + 2 > d.size()) throw ParseError("box truncated");
  auto u = reinterpret_cast<const unsigned char*>(d.data() + off);
  return uint16_t((u[0] << 8) | u[1]);
}

uint64_t be64(std::string_view d, size_t off) { return (uint64_t(be32(d, off)) << 32) | be32(d, off + 4); }

uint8_t byte_at(std::string_view d, size_t off) {
  if (off >= d.size()) throw ParseError("box truncated");
  return static_cast<uint8_t>(d[off]);
}

// Size and header length of the box starting at `off`, or nullopt if its header is
// not all there yet.
std::optional<std::pair<uint64_t, size_t>> box_size_at(std::string_view d, size_t off) {
  if (d.size() - off < 8) return std::nullopt;
  uint64_t size = be32(d, off);
  size_t header = 8;
  if (size == 1) {
    if (d.size() - off < 16) return std::nullopt;
    size = be64(d, off + 8);
    header = 16;
  } else if (size == 0) {
    throw ParseError("box of unbounded size in a live stream");
  }
  if (size < header) throw ParseError(fmt::format("box size {} smaller than its header", size));
  return std::pair{size, header};
}

bool is_sync(uint32_t sample_flags) { return (sample_flags & 0x00010000u) == 0; }

void parse_sample_entry(std::string_view stsd_payload, Track& track) {
  // stsd: version/flags(4), entry_count(4), then sample entries (boxes).
  if (stsd_payload.size() < 8) throw ParseError("stsd truncated");
  auto entries = read_boxes(stsd_payload.substr(8));
  if (entries.empty()) throw ParseError("stsd has no sample entry");
  const Box& entry = entries.front();
  auto p = entry.payload();
  if (entry.type == "avc1" || entry.type == "avc3") {
    // VisualSampleEntry: 6 reserved + 2 dref index + 16 predefined + width/height ...,
    // 78 bytes before the child boxes.
    track.width = be16(p, 24);
    track.height = be16(p, 26);
    auto avcc = find_box(p.substr(78), "avcC");
    if (!avcc) throw ParseError("avc1 sample entry without avcC");
    auto c = avcc->payload();
    // AVCDecoderConfigurationRecord: version, profile, compat, level, lengthSize,
    // numSPS(low 5 bits), then 16-bit length + SPS.
    if ((byte_at(c, 5) & 0x1f) == 0) throw ParseError("avcC without SPS");
    uint16_t sps_len = be16(c, 6);
    if (8u + sps_len > c.size()) throw ParseError("avcC SPS truncated");
    track.codec = avc_codec_from_sps(c.substr(8, sps_len));
  } else if (entry.type == "mp4a") {
    // AudioSampleEntry is 28 bytes before its child boxes.
    auto esds = find_box(p.substr(28), "esds");
    int object_type = 2;
    if (esds) {
      // Find DecoderSpecificInfo (tag 5); its first 5 bits are the audio object type.
      auto e = esds->payload();
      for (size_t i = 4; i + 2 < e.size(); ++i) {
        if (byte_at(e, i) == 0x05) {
          size_t j = i + 1;
          while (j < e.size() && (byte_at(e, j) & 0x80)) ++j;  // variable-length size
          if (j + 1 < e.size()) object_type = byte_at(e, j + 1) >> 3;
          break;
        }
      }
    }
    track.codec = fmt::format("mp4a.40.{}", object_type);
  } else {
    track.codec = entry.type;
  }
}

}  // namespace

std::vector<Box> read_boxes(std::string_view bytes) {
  std::vector<Box> boxes;
  size_t off = 0;
  while (off < bytes.size()) {
    auto sh = box_size_at(bytes, off);
    if (!sh || sh->first > bytes.size() - off) throw ParseError("box runs past its parent");
    Box b;
    b.type = std::string(bytes.substr(off + 4, 4));
    b.data = bytes.substr(off, sh->first);
    b.header_size = sh->second;
    boxes.push_back(b);
    off += sh->first;
  }
  return boxes;
}

std::optional<Box> find_box(std::string_view bytes, std::string_view type) {
  for (auto& b : read_boxes(bytes))
    if (b.type == type) return b;
  return std::nullopt;
}

void BoxSplitter::push(std::string_view bytes) {
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<std::pair<std::string, std::string>> BoxSplitter::next() {
  std::string_view rest(buffer_.data() + offset_, buffer_.size() - offset_);
  auto sh = box_size_at(rest, 0);
  if (!sh || sh->first > rest.size()) {
    if (offset_ > (1u << 20)) {  // compact once the consumed prefix grows
      buffer_.erase(0, offset_);
      offset_ = 0;
    }
    return std::nullopt;
  }
  std::pair<std::string, std::string> out{std::string(rest.substr(4, 4)), std::string(rest.substr(0, sh->first))};
  offset_ += sh->first;
  return out;
}

std::vector<Track> parse_moov(std::string_view moov) {
  auto moov_box = read_boxes(moov);
  if (moov_box.size() != 1 || moov_box[0].type != "moov") throw ParseError("not a moov box");
  std::vector<Track> tracks;
  for (auto& trak : read_boxes(moov_box[0].payload())) {
    if (trak.type != "trak") continue;
    Track t;
    auto tkhd = find_box(trak.payload(), "tkhd");
    if (!tkhd) throw ParseError("trak without tkhd");
    auto th = tkhd->payload();
    t.id = be32(th, byte_at(th, 0) == 1 ? 20 : 12);
    auto mdia = find_box(trak.payload(), "mdia");
    if (!mdia) throw ParseError("trak without mdia");
    auto mdhd = find_box(mdia->payload(), "mdhd");
    auto hdlr = find_box(mdia->payload(), "hdlr");
    if (!mdhd || !hdlr) throw ParseError("mdia without mdhd/hdlr");
    auto mh = mdhd->payload();
    t.timescale = be32(mh, byte_at(mh, 0) == 1 ? 20 : 12);
    t.handler = std::string(hdlr->payload().substr(8, 4));
    auto minf = find_box(mdia->payload(), "minf");
    if (minf) {
      auto stbl = find_box(minf->payload(), "stbl");
      if (stbl) {
        auto stsd = find_box(stbl->payload(), "stsd");
        if (stsd) parse_sample_entry(stsd->payload(), t);
      }
    }
    tracks.push_back(t);
  }
  if (auto mvex = find_box(moov_box[0].payload(), "mvex")) {
    for (auto& trex : read_boxes(mvex->payload())) {
      if (trex.type != "trex") continue;
      auto p = trex.payload();
      uint32_t id = be32(p, 4);
      for (auto& t : tracks) {
        if (t.id != id) continue;
        t.default_sample_duration = be32(p, 12);
        t.default_sample_flags = be32(p, 20);
      }
    }
  }
  return tracks;
}

std::vector<TrackFragment> parse_moof(std::string_view moof, const std::vector<Track>& tracks) {
  auto moof_box = read_boxes(moof);
  if (moof_box.size() != 1 || moof_box[0].type != "moof") throw ParseError("not a moof box");
  std::vector<TrackFragment> out;
  for (auto& traf : read_boxes(moof_box[0].payload())) {
    if (traf.type != "traf") continue;
    TrackFragment f;
    auto tfhd = find_box(traf.payload(), "tfhd");
    if (!tfhd) throw ParseError("traf without tfhd");
    auto h = tfhd->payload();
    uint32_t hflags = be32(h, 0) & 0xffffff;
    f.track_id = be32(h, 4);
    const Track* track = nullptr;
    for (auto& t : tracks)
      if (t.id == f.track_id) track = &t;
    if (!track) throw ParseError(fmt::format("moof names unknown track {}", f.track_id));
    uint32_t default_duration = track->default_sample_duration;
    uint32_t default_flags = track->default_sample_flags;
    size_t pos = 8;
    if (hflags & 0x1) pos += 8;
    if (hflags & 0x2) pos += 4;
    if (hflags & 0x8) { default_duration = be32(h, pos); pos += 4; }
    if (hflags & 0x10) pos += 4;
    if (hflags & 0x20) { default_flags = be32(h, pos); pos += 4; }

    if (auto tfdt = find_box(traf.payload(), "tfdt")) {
      auto p = tfdt->payload();
      f.base_decode_time = byte_at(p, 0) == 1 ? be64(p, 4) : be32(p, 4);
    }
    bool first = true;
    for (auto& trun : read_boxes(traf.payload())) {
      if (trun.type != "trun") continue;
      auto r = trun.payload();
      uint32_t rflags = be32(r, 0) & 0xffffff;
      uint32_t count = be32(r, 4);
      size_t at = 8;
      if (rflags & 0x1) at += 4;
      std::optional<uint32_t> first_flags;
      if (rflags & 0x4) { first_flags = be32(r, at); at += 4; }
      size_t per_sample = 4 * (((rflags & 0x100) != 0) + ((rflags & 0x200) != 0) + ((rflags & 0x400) != 0) +
                               ((rflags & 0x800) != 0));
      if (at + per_sample * count > r.size()) throw ParseError("trun truncated");
      // Without per-sample fields the count is bounded by nothing in the box, and
      // every sample after the first has the defaults: count them, do not visit them.
      const uint32_t visited = per_sample > 0 ? count : std::min<uint32_t>(count, 1);
      for (uint32_t i = 0; i < visited; ++i) {
        size_t s = at + per_sample * i;
        uint32_t duration = default_duration, flags = default_flags;
        if (rflags & 0x100) { duration = be32(r, s); s += 4; }
        if (rflags & 0x200) s += 4;
        if (rflags & 0x400) { flags = be32(r, s); s += 4; }
        if (i == 0 && first_flags) flags = *first_flags;
        if (first && i == 0) f.starts_with_sync = is_sync(flags);
        f.duration += duration;
      }
      f.duration += uint64_t{default_duration} * (count - visited);
      f.sample_count += count;
      if (count > 0) first = false;
    }
    out.push_back(f);
  }
  return out;
}

std::string avc_codec_from_sps(std::string_view sps) {
  if (sps.size() < 4 || (byte_at(sps, 0) & 0x1f) != 7) throw ParseError("not an SPS NAL unit");
  return fmt::format("avc1.{:02x}{:02x}{:02x}", byte_at(sps, 1), byte_at(sps, 2), byte_at(sps, 3));
}

}  // namespace relay::hls::fmp4
