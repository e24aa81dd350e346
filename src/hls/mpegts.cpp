#include "hls/mpegts.hpp"

#include "hls/fmp4.hpp"

namespace relay::hls::mpegts {
namespace {

uint8_t at(std::string_view d, size_t i) { return i < d.size() ? static_cast<uint8_t>(d[i]) : 0; }

// The payload of a packet, after its header and adaptation field.
std::string_view payload_of(std::string_view p) {
  uint8_t afc = (at(p, 3) >> 4) & 0x3;
  size_t start = 4;
  if (afc & 0x2) start += 1 + at(p, 4);
  if (!(afc & 0x1) || start >= p.size()) return {};
  return p.substr(start);
}

// The section of a PSI packet (PAT/PMT) after the pointer field.
std::string_view section_of(std::string_view payload) {
  if (payload.empty()) return {};
  size_t pointer = at(payload, 0);
  if (1 + pointer >= payload.size()) return {};
  return payload.substr(1 + pointer);
}

}  // namespace

std::optional<uint64_t> pes_pts(std::string_view pl) {
  if (pl.size() < 14 || at(pl, 0) != 0 || at(pl, 1) != 0 || at(pl, 2) != 1) return std::nullopt;
  if (!(at(pl, 7) & 0x80)) return std::nullopt;
  uint64_t pts = (uint64_t((at(pl, 9) >> 1) & 0x7) << 30) | (uint64_t(at(pl, 10)) << 22) |
                 (uint64_t(at(pl, 11) >> 1) << 15) | (uint64_t(at(pl, 12)) << 7) | (at(pl, 13) >> 1);
  return pts;
}

Splitter::Output Splitter::push(std::string_view bytes) {
  Output out;
  pending_.append(bytes);
  size_t pos = 0;
  while (pending_.size() - pos >= kPacketSize) {
    if (static_cast<uint8_t>(pending_[pos]) != 0x47) throw fmp4::ParseError("MPEG-TS lost packet sync");
    std::string_view p(pending_.data() + pos, kPacketSize);
    on_packet(p, out.packets.size(), out);
    out.packets.append(p);
    pos += kPacketSize;
  }
  pending_.erase(0, pos);
  return out;
}

void Splitter::on_packet(std::string_view p, size_t offset, Output& out) {
  uint16_t pid = uint16_t(((at(p, 1) & 0x1f) << 8) | at(p, 2));
  bool unit_start = at(p, 1) & 0x40;
  if (pid == 0 && unit_start) {
    pat_ = std::string(p);
    auto s = section_of(payload_of(p));
    // table_id, section_length(2), tsid(2), version(1), section numbers(2), then
    // program entries of 4 bytes; the first non-zero program names the PMT.
    if (s.size() < 12) return;
    for (size_t i = 8; i + 4 <= s.size() - 4; i += 4) {
      uint16_t program = uint16_t((at(s, i) << 8) | at(s, i + 1));
      if (program != 0) {
        pmt_pid_ = uint16_t(((at(s, i + 2) & 0x1f) << 8) | at(s, i + 3));
        break;
      }
    }
    return;
  }
  if (pmt_pid_ && pid == *pmt_pid_ && unit_start) {
    pmt_ = std::string(p);
    auto s = section_of(payload_of(p));
    if (s.size() < 12) return;
    size_t section_end = std::min<size_t>(s.size(), 3 + (((at(s, 1) & 0x0f) << 8) | at(s, 2)) - 4);
    size_t info_len = ((at(s, 10) & 0x0f) << 8) | at(s, 11);
    for (size_t i = 12 + info_len; i + 5 <= section_end;) {
      uint8_t type = at(s, i);
      uint16_t es_pid = uint16_t(((at(s, i + 1) & 0x1f) << 8) | at(s, i + 2));
      size_t es_info = ((at(s, i + 3) & 0x0f) << 8) | at(s, i + 4);
      if (type == 0x1b && !video_pid_) video_pid_ = es_pid;  // H.264
      if (type == 0x0f && !audio_pid_) audio_pid_ = es_pid;  // AAC in ADTS
      i += 5 + es_info;
    }
    return;
  }
  if (audio_pid_ && pid == *audio_pid_ && unit_start && audio_codec_.empty()) {
    auto pl = payload_of(p);
    if (pl.size() > 9) {
      auto es = pl.substr(std::min<size_t>(pl.size(), 9 + at(pl, 8)));
      // ADTS: 12 sync bits, then the profile (object type - 1) in the top of byte 2.
      if (es.size() > 3 && at(es, 0) == 0xff && (at(es, 1) & 0xf0) == 0xf0)
        audio_codec_ = "mp4a.40." + std::to_string(((at(es, 2) >> 6) & 0x3) + 1);
    }
  }
  if (video_pid_ && pid == *video_pid_ && unit_start) {
    uint8_t afc = (at(p, 3) >> 4) & 0x3;
    if (video_codec_.empty()) {
      auto pl = payload_of(p);
      // The SPS follows the PES header in the first access unit; its first bytes
      // give profile, constraints and level.
      for (size_t i = 0; i + 7 < pl.size(); ++i) {
        if (at(pl, i) == 0 && at(pl, i + 1) == 0 && at(pl, i + 2) == 1 && (at(pl, i + 3) & 0x1f) == 7) {
          video_codec_ = fmp4::avc_codec_from_sps(pl.substr(i + 3, 4));
          break;
        }
      }
    }
    bool random_access = (afc & 0x2) && at(p, 4) > 0 && (at(p, 5) & 0x40);
    if (random_access) {
      if (auto pts = pes_pts(payload_of(p))) out.cuts.push_back({offset, *pts});
    }
  }
}

}  // namespace relay::hls::mpegts
