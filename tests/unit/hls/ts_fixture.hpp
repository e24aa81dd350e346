#pragma once
// Synthetic MPEG-TS as mpegtsmux lays it out: PAT, PMT (H.264 on PID 0x41, AAC on
// 0x42), then PES packets; a video access unit that starts a GOP carries the
// random-access flag, a PTS and an SPS.
#include <cstdint>
#include <string>

namespace ts_fixture {

constexpr uint16_t kPmtPid = 0x20, kVideoPid = 0x41, kAudioPid = 0x42;

inline std::string packet(uint16_t pid, bool unit_start, const std::string& payload, bool random_access = false) {
  std::string p;
  p += char(0x47);
  p += char((unit_start ? 0x40 : 0) | ((pid >> 8) & 0x1f));
  p += char(pid & 0xff);
  size_t room = 184;
  std::string adaptation;
  if (random_access || payload.size() < room) {
    size_t stuffing = payload.size() < room - 2 ? room - 2 - payload.size() : 0;
    adaptation += char(1 + stuffing);
    adaptation += char(random_access ? 0x40 : 0x00);
    adaptation += std::string(stuffing, char(0xff));
  }
  p += char(adaptation.empty() ? 0x10 : 0x30);
  p += adaptation;
  p += payload.substr(0, 188 - p.size());
  p.resize(188, char(0xff));
  return p;
}

inline std::string pat() {
  std::string s = {0x00, char(0xb0), 0x0d, 0x00, 0x01, char(0xc1), 0x00, 0x00, 0x00, 0x01,
                   char(0xe0 | (kPmtPid >> 8)), char(kPmtPid & 0xff), 0, 0, 0, 0};
  return packet(0, true, std::string(1, '\0') + s);
}

inline std::string pmt() {
  std::string s = {0x02, char(0xb0), 0x17, 0x00, 0x01, char(0xc1), 0x00, 0x00, char(0xe0 | (kVideoPid >> 8)),
                   char(kVideoPid & 0xff), char(0xf0), 0x00,
                   0x1b, char(0xe0 | (kVideoPid >> 8)), char(kVideoPid & 0xff), char(0xf0), 0x00,
                   0x0f, char(0xe0 | (kAudioPid >> 8)), char(kAudioPid & 0xff), char(0xf0), 0x00,
                   0, 0, 0, 0};
  return packet(kPmtPid, true, std::string(1, '\0') + s);
}

inline std::string pes_header(uint8_t stream_id, uint64_t pts) {
  std::string h = {0, 0, 1, char(stream_id), 0, 0, char(0x80), char(0x80), 5};
  h += char(0x21 | ((pts >> 29) & 0x0e));
  h += char(pts >> 22);
  h += char(0x01 | ((pts >> 14) & 0xfe));
  h += char(pts >> 7);
  h += char(0x01 | ((pts << 1) & 0xfe));
  return h;
}

// A video frame in two packets; IDR frames carry an SPS (High, level 3.1) first.
inline std::string video_frame(uint64_t pts, bool idr) {
  std::string es = {0, 0, 0, 1, 0x09, char(0xf0)};
  if (idr) es += std::string{0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, char(0xac)} + std::string{0, 0, 0, 1, 0x65};
  else es += std::string{0, 0, 0, 1, 0x41};
  return packet(kVideoPid, true, pes_header(0xe0, pts) + es, idr) + packet(kVideoPid, false, std::string(184, 'v'));
}

inline std::string audio_frame(uint64_t pts) {
  std::string adts = {char(0xff), char(0xf1), char(0x50), char(0x80), 0x02, 0x1f, char(0xfc)};  // AAC-LC
  return packet(kAudioPid, true, pes_header(0xc0, pts) + adts);
}

// `gops` GOPs of `frames` frames at 30 fps, starting at PTS `start`, with PSI
// before every GOP and one audio frame per video frame.
inline std::string stream(int gops, int frames = 60, uint64_t start = 900000) {
  std::string out;
  for (int g = 0; g < gops; ++g) {
    out += pat() + pmt();
    for (int f = 0; f < frames; ++f) {
      uint64_t pts = start + uint64_t(g * frames + f) * 3000;
      out += video_frame(pts, f == 0) + audio_frame(pts);
    }
  }
  return out;
}

}  // namespace ts_fixture
