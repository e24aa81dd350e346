#include "recording/remux.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "recording/bmff.hpp"

namespace relay::recording {
namespace {

using bmff::FormatError;

constexpr uint32_t kSampleIsNonSync = 0x00010000;
// A jump of a track's decode time between fragments by more than this, or
// backwards, is a discontinuity: the track continues where it ended. Smaller
// gaps are kept (the sample before them lasts longer), so the tracks stay in step.
constexpr double kGapToleranceS = 1.0;
// Inits and moofs are read whole; anything bigger is not a box the relay wrote.
constexpr uint64_t kMaxInitBytes = 16u << 20;
constexpr uint64_t kMaxMoofBytes = 16u << 20;
// A trun without per-sample fields says its sample count in four bytes and
// nothing else bounds it; past this (hours of audio in one fragment) it is
// garbage, refused before its samples take memory.
constexpr uint32_t kMaxDefaultRunSamples = 1u << 20;
constexpr size_t kCopyBuffer = 1u << 20;

std::string errno_text() { return std::strerror(errno); }

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct OpenFile {
  Fd fd;
  uint64_t size = 0;
};

OpenFile open_for_reading(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw FormatError(fmt::format("cannot open: {}", errno_text()));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw FormatError(fmt::format("cannot stat: {}", errno_text()));
  if (!S_ISREG(st.st_mode)) throw FormatError("not a regular file");
  return OpenFile{std::move(fd), static_cast<uint64_t>(st.st_size)};
}

std::string read_range(int fd, uint64_t offset, uint64_t size) {
  std::string out(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    ssize_t got = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw FormatError(fmt::format("cannot read: {}", errno_text()));
    if (got == 0) throw FormatError(fmt::format("file ended at byte {} while reading", offset + done));
    done += static_cast<uint64_t>(got);
  }
  return out;
}

// ---- The init section -------------------------------------------------------

struct TrackSetup {
  uint32_t id = 0;
  std::string handler;  // "vide", "soun", "subt", ...
  uint32_t timescale = 0;
  std::string tkhd;          // whole boxes, copied or patched into the output
  std::string mdhd;
  std::string hdlr;
  std::string media_header;  // vmhd, smhd, sthd or nmhd
  std::string stsd;
  uint32_t descriptions = 0;  // sample entries in the stsd
  std::string codec_key;     // what must match across runs
  int64_t source_media_time = -1;  // the init's edit list, -1 without one
  // trex
  uint32_t default_description = 1;
  uint32_t default_duration = 0;
  uint32_t default_size = 0;
  uint32_t default_flags = 0;
};

struct InitSetup {
  uint32_t movie_timescale = 1000;
  std::vector<TrackSetup> tracks;
};

const bmff::Box& need_child(std::optional<bmff::Box>& box, std::string_view what) {
  if (!box) throw FormatError(std::string(what));
  return *box;
}

// The sample entries without their 'btrt' (bitrate) boxes, which a muxer fills
// from the encoder's figures of the moment: two runs of the same encoder
// settings differ there and nowhere else.
std::string codec_key_of(const TrackSetup& t, std::string_view stsd_payload) {
  std::string key = fmt::format("{}/{}/", t.handler, t.timescale);
  bmff::Reader r(stsd_payload, "stsd");
  r.skip(8);  // version, flags, entry count
  for (auto& entry : bmff::children(stsd_payload.substr(r.position()))) {
    size_t fixed = t.handler == "vide" ? 78 : t.handler == "soun" ? 28 : entry.payload().size();
    auto p = entry.payload();
    if (t.handler == "soun" && p.size() >= 10) {
      // QuickTime sound description versions 1 and 2 are longer.
      const uint16_t version = static_cast<uint16_t>((uint8_t(p[8]) << 8) | uint8_t(p[9]));
      fixed += version == 1 ? 16 : version == 2 ? 36 : 0;
    }
    key += entry.type;
    if (fixed > p.size()) {
      key += p;
      continue;
    }
    key += p.substr(0, fixed);
    try {
      for (auto& c : bmff::children(p.substr(fixed)))
        if (c.type != "btrt") key += c.data;
    } catch (const FormatError&) {
      key += p.substr(fixed);
    }
  }
  return key;
}

TrackSetup parse_trak(std::string_view trak, size_t index) {
  TrackSetup t;
  const std::string which = fmt::format("track {}", index + 1);
  auto tkhd = bmff::child(trak, "tkhd");
  auto mdia = bmff::child(trak, "mdia");
  need_child(tkhd, which + " has no tkhd");
  need_child(mdia, which + " has no mdia");
  t.tkhd = std::string(tkhd->data);
  {
    bmff::Reader r(tkhd->payload(), "tkhd");
    const uint8_t version = r.u8();
    r.skip(3 + (version == 1 ? 16 : 8));
    t.id = r.u32();
  }
  auto mdhd = bmff::child(mdia->payload(), "mdhd");
  auto hdlr = bmff::child(mdia->payload(), "hdlr");
  auto minf = bmff::child(mdia->payload(), "minf");
  need_child(mdhd, which + " has no mdhd");
  need_child(hdlr, which + " has no hdlr");
  need_child(minf, which + " has no minf");
  t.mdhd = std::string(mdhd->data);
  t.hdlr = std::string(hdlr->data);
  {
    bmff::Reader r(mdhd->payload(), "mdhd");
    const uint8_t version = r.u8();
    r.skip(3 + (version == 1 ? 16 : 8));
    t.timescale = r.u32();
    if (t.timescale == 0) throw FormatError(which + " has a timescale of 0");
  }
  {
    bmff::Reader r(hdlr->payload(), "hdlr");
    r.skip(8);
    t.handler = std::string(r.take(4));
  }
  for (auto& c : bmff::children(minf->payload()))
    if (c.type == "vmhd" || c.type == "smhd" || c.type == "sthd" || c.type == "nmhd" || c.type == "hmhd")
      t.media_header = std::string(c.data);
  auto stbl = bmff::child(minf->payload(), "stbl");
  need_child(stbl, which + " has no stbl (sample table)");
  auto stsd = bmff::child(stbl->payload(), "stsd");
  need_child(stsd, which + " has no stsd (sample description)");
  {
    bmff::Reader r(stsd->payload(), "stsd");
    r.skip(4);
    t.descriptions = static_cast<uint32_t>(bmff::children(stsd->payload().substr(8)).size());
    if (r.u32() == 0 || t.descriptions == 0) throw FormatError(which + " has an empty stsd (no sample description)");
  }
  t.stsd = std::string(stsd->data);
  t.codec_key = codec_key_of(t, stsd->payload());
  if (auto edts = bmff::child(trak, "edts")) {
    if (auto elst = bmff::child(edts->payload(), "elst")) {
      bmff::Reader r(elst->payload(), "elst");
      const uint8_t version = r.u8();
      r.skip(3);
      const uint32_t count = r.u32();
      for (uint32_t i = 0; i < count; ++i) {
        int64_t media_time;
        if (version == 1) {
          r.skip(8);
          media_time = static_cast<int64_t>(r.u64());
        } else {
          r.skip(4);
          media_time = static_cast<int32_t>(r.u32());
        }
        r.skip(4);
        if (media_time >= 0) {
          t.source_media_time = media_time;
          break;
        }
      }
    }
  }
  return t;
}

InitSetup parse_init(const std::filesystem::path& path) {
  OpenFile file = open_for_reading(path);
  if (file.size > kMaxInitBytes)
    throw FormatError(fmt::format("{} bytes is too big for an init section", file.size));
  const std::string bytes = read_range(file.fd.get(), 0, file.size);
  auto moov = bmff::child(bytes, "moov");
  if (!moov) throw FormatError("no moov box (not an init section)");
  InitSetup init;
  auto mvhd = bmff::child(moov->payload(), "mvhd");
  if (mvhd) {
    bmff::Reader r(mvhd->payload(), "mvhd");
    const uint8_t version = r.u8();
    r.skip(3 + (version == 1 ? 16 : 8));
    if (uint32_t ts = r.u32(); ts != 0) init.movie_timescale = ts;
  }
  std::optional<bmff::Box> mvex;
  for (auto& c : bmff::children(moov->payload())) {
    if (c.type == "trak") init.tracks.push_back(parse_trak(c.payload(), init.tracks.size()));
    if (c.type == "mvex") mvex = c;
  }
  if (init.tracks.empty()) throw FormatError("moov has no track");
  for (size_t i = 0; i < init.tracks.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (init.tracks[i].id == init.tracks[j].id)
        throw FormatError(fmt::format("two tracks with the id {}", init.tracks[i].id));
  if (mvex) {
    for (auto& trex : bmff::children(mvex->payload())) {
      if (trex.type != "trex") continue;
      bmff::Reader r(trex.payload(), "trex");
      r.skip(4);
      const uint32_t id = r.u32();
      for (auto& t : init.tracks) {
        if (t.id != id) continue;
        t.default_description = r.u32();
        t.default_duration = r.u32();
        t.default_size = r.u32();
        t.default_flags = r.u32();
        break;
      }
    }
  }
  return init;
}

// ---- The media segments -----------------------------------------------------

struct RawSample {
  uint32_t duration = 0;
  uint32_t size = 0;
  int32_t cto = 0;
  bool sync = true;
};

// One trun's samples: they lie back to back in the segment file.
struct RawRun {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  uint32_t first_sample = 0;  // in the fragment's samples
  uint32_t count = 0;
  uint32_t description = 1;
};

struct Fragment {
  size_t track = 0;  // index in the init's tracks
  std::optional<uint64_t> decode_time;  // tfdt
  std::vector<RawSample> samples;
  std::vector<RawRun> runs;
};

struct ByteRange {
  uint64_t begin = 0, end = 0;
};

void parse_traf(std::string_view traf, uint64_t moof_offset, bool first_traf, uint64_t& data_end,
                const InitSetup& init, std::vector<Fragment>& out) {
  auto tfhd_box = bmff::child(traf, "tfhd");
  if (!tfhd_box) throw FormatError("traf without tfhd");
  bmff::Reader h(tfhd_box->payload(), "tfhd");
  const uint32_t flags = h.u32() & 0xffffff;
  const uint32_t track_id = h.u32();
  size_t track = init.tracks.size();
  for (size_t i = 0; i < init.tracks.size(); ++i)
    if (init.tracks[i].id == track_id) track = i;
  if (track == init.tracks.size())
    throw FormatError(fmt::format("moof at byte {} names track {}, which the init does not describe", moof_offset,
                                  track_id));
  const TrackSetup& setup = init.tracks[track];
  // ISO/IEC 14496-12 8.8.7: without base-data-offset the base is the moof for the
  // first traf (or with default-base-is-moof), else where the previous traf's data ended.
  uint64_t base = (flags & 0x020000) || first_traf ? moof_offset : data_end;
  if (flags & 0x1) base = h.u64();
  const uint32_t description = (flags & 0x2) ? h.u32() : setup.default_description;
  const uint32_t default_duration = (flags & 0x8) ? h.u32() : setup.default_duration;
  const uint32_t default_size = (flags & 0x10) ? h.u32() : setup.default_size;
  const uint32_t default_flags = (flags & 0x20) ? h.u32() : setup.default_flags;
  if (description == 0 || description > setup.descriptions)
    throw FormatError(fmt::format("moof at byte {} names sample description {}, the init has {}", moof_offset,
                                  description, setup.descriptions));
  data_end = base;
  if (flags & 0x010000) return;  // duration-is-empty: no samples

  Fragment f;
  f.track = track;
  if (auto tfdt = bmff::child(traf, "tfdt")) {
    bmff::Reader r(tfdt->payload(), "tfdt");
    const uint8_t version = r.u8();
    r.skip(3);
    f.decode_time = version == 1 ? r.u64() : r.u32();
    // Far beyond any real clock (2^62 ticks is 1.6 million years at 90 kHz); keeps the
    // timeline's arithmetic clear of overflow.
    if (*f.decode_time >= (uint64_t{1} << 62))
      throw FormatError(fmt::format("moof at byte {}: decode time {} out of range", moof_offset, *f.decode_time));
  }
  uint64_t data_pos = base;
  for (auto& trun : bmff::children(traf)) {
    if (trun.type != "trun") continue;
    bmff::Reader r(trun.payload(), "trun");
    const uint32_t version_flags = r.u32();
    const uint8_t version = static_cast<uint8_t>(version_flags >> 24);
    const uint32_t tr = version_flags & 0xffffff;
    const uint32_t count = r.u32();
    if (tr & 0x1) {
      const int64_t offset = static_cast<int32_t>(r.u32());
      if (offset < 0 && static_cast<uint64_t>(-offset) > base)
        throw FormatError(fmt::format("trun data offset {} points before the file", offset));
      data_pos = base + static_cast<uint64_t>(offset);
    }
    std::optional<uint32_t> first_flags;
    if (tr & 0x4) first_flags = r.u32();
    const size_t per_sample = 4 * (((tr & 0x100) != 0) + ((tr & 0x200) != 0) + ((tr & 0x400) != 0) +
                                   ((tr & 0x800) != 0));
    if (per_sample > 0 ? count > r.remaining() / per_sample : count > kMaxDefaultRunSamples)
      throw FormatError(fmt::format("trun announces {} samples, more than the box holds", count));
    RawRun run;
    run.offset = data_pos;
    run.first_sample = static_cast<uint32_t>(f.samples.size());
    run.count = count;
    run.description = description;
    for (uint32_t i = 0; i < count; ++i) {
      RawSample s;
      s.duration = (tr & 0x100) ? r.u32() : default_duration;
      s.size = (tr & 0x200) ? r.u32() : default_size;
      uint32_t sample_flags = (tr & 0x400) ? r.u32() : default_flags;
      if (i == 0 && first_flags) sample_flags = *first_flags;
      if (tr & 0x800) {
        const uint32_t v = r.u32();
        // Version 0 offsets are unsigned; past INT32_MAX they mean nothing playable.
        if (version == 0 && v > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()))
          throw FormatError(fmt::format("composition offset {} out of range", v));
        s.cto = static_cast<int32_t>(v);
      }
      s.sync = (sample_flags & kSampleIsNonSync) == 0;
      run.bytes += s.size;
      f.samples.push_back(s);
    }
    data_pos += run.bytes;
    if (count > 0) f.runs.push_back(run);
  }
  data_end = data_pos;
  if (!f.samples.empty()) out.push_back(std::move(f));
}

std::vector<Fragment> parse_segment(int fd, uint64_t file_size, const InitSetup& init) {
  std::vector<Fragment> fragments;
  std::vector<ByteRange> mdats;
  bool any_moof = false;
  for (const auto& loc : bmff::scan_file(fd, file_size)) {
    if (loc.type == "mdat") {
      mdats.push_back({loc.payload_offset(), loc.end()});
    } else if (loc.type == "moof") {
      any_moof = true;
      if (loc.size > kMaxMoofBytes) throw FormatError(fmt::format("moof of {} bytes at byte {}", loc.size, loc.offset));
      const std::string moof = read_range(fd, loc.offset, loc.size);
      uint64_t data_end = loc.offset;
      bool first_traf = true;
      for (auto& traf : bmff::children(std::string_view(moof).substr(loc.header_size))) {
        if (traf.type != "traf") continue;
        parse_traf(traf.payload(), loc.offset, first_traf, data_end, init, fragments);
        first_traf = false;
      }
    }
  }
  if (!any_moof) throw FormatError("no moof box (not an fMP4 media segment)");
  if (fragments.empty()) throw FormatError("no samples (its moofs have no trun)");
  // Every sample must be in an mdat of this file: that is all that will be copied.
  for (const auto& f : fragments) {
    for (const auto& run : f.runs) {
      if (run.bytes == 0) continue;
      bool inside = false;
      for (const auto& m : mdats)
        if (run.offset >= m.begin && run.offset <= m.end && run.bytes <= m.end - run.offset) inside = true;
      if (!inside)
        throw FormatError(fmt::format("{} bytes of samples at byte {} are not inside an mdat", run.bytes, run.offset));
    }
  }
  return fragments;
}

// ---- The output's tables -----------------------------------------------------

struct Sample {
  uint32_t size = 0;
  uint32_t delta = 0;  // to the next sample's decode time (the last: its duration)
  int32_t cto = 0;
  bool sync = true;
};

// One trun's samples as they go into the output's mdat, in order.
struct Chunk {
  uint32_t track = 0;
  uint32_t file = 0;  // index in the list of segment files
  uint64_t source_offset = 0;
  uint64_t bytes = 0;
  uint32_t samples = 0;
  uint32_t description = 1;
};

struct TrackOut {
  TrackSetup setup;
  std::vector<Sample> samples;
  bool started = false;
  int64_t first_dts = 0;  // on the output's timeline, in the track's timescale
  int64_t end = 0;        // where the next sample would start
  int64_t offset = 0;     // the current run's decode times + offset = the output's
};

double seconds(int64_t ticks, uint32_t timescale) { return static_cast<double>(ticks) / timescale; }
int64_t ticks(double s, uint32_t timescale) { return std::llround(s * timescale); }

class Remuxer {
 public:
  explicit Remuxer(RemuxOptions options) : options_(options) {}

  void add_run(const InitSetup& init, const std::vector<std::filesystem::path>& segments, size_t run_index) {
    if (tracks_.empty()) {
      movie_timescale_ = init.movie_timescale;
      for (const auto& t : init.tracks) tracks_.push_back(TrackOut{t, {}, false, 0, 0, 0});
      for (size_t i = tracks_.size(); i-- > 0;)
        if (tracks_[i].setup.handler == "vide") anchor_ = i;
    } else {
      check_same_codecs(init, run_index);
    }
    bool first = true;
    for (const auto& path : segments) {
      std::vector<Fragment> fragments;
      try {
        OpenFile file = open_for_reading(path);
        fragments = parse_segment(file.fd.get(), file.size, init);
      } catch (const FormatError& e) {
        throw FormatError(fmt::format("segment {}: {}", path.string(), e.what()));
      }
      files_.push_back(path);
      add_segment(fragments, first);
      first = false;
    }
  }

  // Writes the MP4; returns its duration in seconds.
  double write(const std::filesystem::path& out, uint64_t& bytes_written);

 private:
  void check_same_codecs(const InitSetup& init, size_t run_index) const {
    if (init.tracks.size() != tracks_.size())
      throw FormatError(fmt::format("run {} has {} tracks, run 1 has {}: not one MP4", run_index + 1,
                                    init.tracks.size(), tracks_.size()));
    for (size_t i = 0; i < tracks_.size(); ++i) {
      if (init.tracks[i].codec_key != tracks_[i].setup.codec_key)
        throw FormatError(fmt::format("run {}: track {} ({}) has another codec configuration than in run 1 "
                                      "(make one MP4 per run)",
                                      run_index + 1, i + 1, init.tracks[i].handler));
    }
  }

  // Places this segment's tracks after what came before when it starts a run or
  // jumps in time: every track moves by the same time, so they stay in step, and
  // the picture (the anchor) goes on exactly where it ended: the file lasts as
  // long as its segments. A track that would then overlap its own end (sound that
  // ran on past the picture) goes on from there instead (add_segment).
  void join(const std::vector<Fragment>& fragments) {
    const TrackOut& anchor = tracks_[anchor_];
    double end_s = 0;
    if (anchor.started) {
      end_s = seconds(anchor.end, anchor.setup.timescale);
    } else {
      for (const auto& t : tracks_)
        if (t.started) end_s = std::max(end_s, seconds(t.end, t.setup.timescale));
    }
    std::optional<double> start_s, anchor_start_s;
    for (const auto& f : fragments) {
      const double s = seconds(static_cast<int64_t>(f.decode_time.value_or(0)), tracks_[f.track].setup.timescale);
      start_s = start_s ? std::min(*start_s, s) : s;
      if (f.track == anchor_ && !anchor_start_s) anchor_start_s = s;
    }
    if (anchor_start_s) start_s = anchor_start_s;
    for (auto& t : tracks_) {
      const uint32_t ts = t.setup.timescale;
      t.offset = ticks(end_s, ts) - ticks(start_s.value_or(0), ts);
    }
  }

  int64_t tolerance(const TrackOut& t) const { return ticks(kGapToleranceS, t.setup.timescale); }

  void add_segment(const std::vector<Fragment>& fragments, bool starts_run) {
    bool jump = starts_run;
    std::vector<bool> seen(tracks_.size(), false);
    for (const auto& f : fragments) {
      TrackOut& t = tracks_[f.track];
      if (seen[f.track] || !t.started || !f.decode_time) continue;
      seen[f.track] = true;
      const int64_t gap = static_cast<int64_t>(*f.decode_time) + t.offset - t.end;
      if (gap < 0 || gap > tolerance(t)) jump = true;
    }
    // After a join a track may start any time after its end (another track ended
    // later): that gap is kept, as it keeps the tracks in step.
    std::vector<bool> joined(tracks_.size(), false);
    if (jump) {
      join(fragments);
      joined.assign(tracks_.size(), true);
    }

    for (const auto& f : fragments) {
      TrackOut& t = tracks_[f.track];
      int64_t start = f.decode_time ? static_cast<int64_t>(*f.decode_time) + t.offset : t.end;
      const bool after_join = joined[f.track];
      joined[f.track] = false;
      if (t.started) {
        const int64_t gap = start - t.end;
        if (gap < 0 || (gap > tolerance(t) && !after_join)) {
          // This track alone jumps inside a segment: it goes on where it ended.
          t.offset -= gap;
          start = t.end;
        } else if (gap > 0) {
          if (gap > std::numeric_limits<uint32_t>::max() - t.samples.back().delta)
            throw FormatError("a gap too long for the sample table");
          t.samples.back().delta += static_cast<uint32_t>(gap);
        }
      } else {
        // Before zero (sound that began before the picture): cut by the edit list.
        t.started = true;
        t.first_dts = start;
      }
      int64_t dts = start;
      for (const auto& s : f.samples) {
        t.samples.push_back(Sample{s.size, s.duration, s.cto, s.sync});
        dts += s.duration;
      }
      t.end = dts;
      for (const auto& run : f.runs)
        chunks_.push_back(Chunk{static_cast<uint32_t>(f.track), static_cast<uint32_t>(files_.size() - 1),
                                run.offset, run.bytes, run.count, run.description});
    }
  }

  std::string build_moov(uint64_t data_start, bool wide_offsets, double& duration_s) const;
  std::string build_trak(size_t index, uint64_t data_start, bool wide_offsets, std::optional<uint64_t> end_limit,
                         uint64_t& track_duration) const;

  RemuxOptions options_;
  uint32_t movie_timescale_ = 1000;
  std::vector<TrackOut> tracks_;
  size_t anchor_ = 0;  // the first video track, else the first track
  std::vector<Chunk> chunks_;
  std::vector<std::filesystem::path> files_;
};

uint64_t to_movie(uint64_t value, uint32_t from, uint32_t to) {
  // Rounded up, so an edit never cuts the last sample short.
  const unsigned __int128 scaled = static_cast<unsigned __int128>(value) * to + (from - 1);
  return static_cast<uint64_t>(scaled / from);
}

// Creation and modification times: none, so the same recording always gives the
// same file (the journal has the wall clock).
void put_times(std::string& out, bool wide) {
  if (wide)
    bmff::put_u64(out, 0), bmff::put_u64(out, 0);
  else
    bmff::put_u32(out, 0), bmff::put_u32(out, 0);
}

void put_duration(std::string& out, uint64_t duration, bool wide) {
  if (wide)
    bmff::put_u64(out, duration);
  else
    bmff::put_u32(out, static_cast<uint32_t>(duration));
}

// tkhd or mdhd with its duration (and, for mdhd, timescale) replaced; version 1 when
// the duration needs 64 bits. The fields after the duration are kept as they are.
std::string patch_header(const std::string& whole_box, std::string_view type, uint64_t duration,
                         std::optional<uint32_t> timescale) {
  auto box = bmff::children(whole_box).front();
  bmff::Reader r(box.payload(), type);
  const uint8_t version = r.u8();
  const uint32_t flags = r.u24();
  r.skip(version == 1 ? 16 : 8);  // creation, modification
  const uint32_t id_or_timescale = r.u32();
  std::string payload;
  const bool wide = duration > std::numeric_limits<uint32_t>::max();
  if (type == "tkhd") {
    r.skip(4);  // reserved
    r.skip(version == 1 ? 8 : 4);
    if (r.remaining() < 60) throw FormatError("tkhd truncated");
    std::string_view rest = r.take(r.remaining());
    put_times(payload, wide);
    bmff::put_u32(payload, id_or_timescale);
    bmff::put_u32(payload, 0);
    put_duration(payload, duration, wide);
    payload += rest;
    // Enabled and in the movie, whatever the fragmented init said.
    return bmff::full_box("tkhd", wide ? 1 : 0, flags | 0x3, payload);
  }
  r.skip(version == 1 ? 8 : 4);
  if (r.remaining() < 4) throw FormatError("mdhd truncated");
  std::string_view rest = r.take(4);  // language, pre_defined
  put_times(payload, wide);
  bmff::put_u32(payload, timescale.value_or(id_or_timescale));
  put_duration(payload, duration, wide);
  payload += rest;
  return bmff::full_box("mdhd", wide ? 1 : 0, flags, payload);
}

// `end_limit` (movie timescale): where the track's presentation must end at the latest.
std::string Remuxer::build_trak(size_t index, uint64_t data_start, bool wide_offsets,
                                std::optional<uint64_t> end_limit, uint64_t& track_duration) const {
  const TrackOut& t = tracks_[index];
  using namespace bmff;

  // stts and the media's duration and first presentation time.
  std::string stts_entries;
  uint32_t stts_count = 0;
  uint64_t media_duration = 0;
  int64_t min_cts = std::numeric_limits<int64_t>::max();
  bool any_cto = false, negative_cto = false;
  for (size_t i = 0; i < t.samples.size();) {
    size_t j = i;
    while (j < t.samples.size() && t.samples[j].delta == t.samples[i].delta) ++j;
    put_u32(stts_entries, static_cast<uint32_t>(j - i));
    put_u32(stts_entries, t.samples[i].delta);
    ++stts_count;
    i = j;
  }
  for (const auto& s : t.samples) {
    min_cts = std::min(min_cts, static_cast<int64_t>(media_duration) + s.cto);
    media_duration += s.delta;
    any_cto = any_cto || s.cto != 0;
    negative_cto = negative_cto || s.cto < 0;
  }
  std::string stts_payload;
  put_u32(stts_payload, stts_count);
  std::string stbl = t.setup.stsd + full_box("stts", 0, 0, stts_payload + stts_entries);

  if (any_cto) {
    std::string entries;
    uint32_t count = 0;
    for (size_t i = 0; i < t.samples.size();) {
      size_t j = i;
      while (j < t.samples.size() && t.samples[j].cto == t.samples[i].cto) ++j;
      put_u32(entries, static_cast<uint32_t>(j - i));
      put_u32(entries, static_cast<uint32_t>(t.samples[i].cto));
      ++count;
      i = j;
    }
    std::string p;
    put_u32(p, count);
    stbl += full_box("ctts", negative_cto ? 1 : 0, 0, p + entries);
  }

  if (t.setup.handler == "vide") {
    std::string entries;
    uint32_t count = 0;
    for (size_t i = 0; i < t.samples.size(); ++i) {
      if (!t.samples[i].sync) continue;
      put_u32(entries, static_cast<uint32_t>(i + 1));
      ++count;
    }
    // Without stss every sample is a sync sample.
    if (count != t.samples.size()) {
      std::string p;
      put_u32(p, count);
      stbl += full_box("stss", 0, 0, p + entries);
    }
  }

  {
    const bool uniform = std::all_of(t.samples.begin(), t.samples.end(),
                                     [&](const Sample& s) { return s.size == t.samples.front().size; });
    std::string p;
    if (uniform) {
      put_u32(p, t.samples.front().size);
      put_u32(p, static_cast<uint32_t>(t.samples.size()));
    } else {
      put_u32(p, 0);
      put_u32(p, static_cast<uint32_t>(t.samples.size()));
      for (const auto& s : t.samples) put_u32(p, s.size);
    }
    stbl += full_box("stsz", 0, 0, p);
  }

  {
    std::string stsc_entries, offsets;
    uint32_t stsc_count = 0, chunk_count = 0;
    uint32_t last_samples = 0, last_description = 0;
    uint64_t position = data_start;
    for (const auto& c : chunks_) {
      if (c.track == index) {
        ++chunk_count;
        if (stsc_count == 0 || c.samples != last_samples || c.description != last_description) {
          put_u32(stsc_entries, chunk_count);
          put_u32(stsc_entries, c.samples);
          put_u32(stsc_entries, c.description);
          ++stsc_count;
          last_samples = c.samples;
          last_description = c.description;
        }
        if (wide_offsets)
          put_u64(offsets, position);
        else
          put_u32(offsets, static_cast<uint32_t>(position));
      }
      position += c.bytes;
    }
    std::string stsc, chunk_table;
    put_u32(stsc, stsc_count);
    put_u32(chunk_table, chunk_count);
    stbl += full_box("stsc", 0, 0, stsc + stsc_entries);
    stbl += full_box(wide_offsets ? "co64" : "stco", 0, 0, chunk_table + offsets);
  }

  // The edit list: an empty edit while the track had not begun (the picture
  // started first), then the media from its first presented sample, less what
  // came before the picture's first frame.
  const uint32_t ts = t.setup.timescale;
  const uint64_t empty = t.first_dts > 0 ? to_movie(static_cast<uint64_t>(t.first_dts), ts, movie_timescale_) : 0;
  int64_t media_time = t.setup.source_media_time >= 0 ? t.setup.source_media_time : std::max<int64_t>(min_cts, 0);
  if (t.first_dts < 0) media_time += -t.first_dts;
  const uint64_t presented =
      media_duration > static_cast<uint64_t>(media_time) ? media_duration - static_cast<uint64_t>(media_time) : 0;
  uint64_t media_edit = to_movie(presented, ts, movie_timescale_);
  const bool cut_end = end_limit && *end_limit > empty && empty + media_edit > *end_limit;
  if (cut_end) media_edit = *end_limit - empty;
  track_duration = empty + media_edit;
  std::string edts;
  if (empty > 0 || media_time > 0 || cut_end) {
    const bool wide = track_duration > std::numeric_limits<uint32_t>::max() ||
                      media_time > std::numeric_limits<int32_t>::max();
    std::string p;
    put_u32(p, empty > 0 ? 2 : 1);
    auto entry = [&](uint64_t duration, int64_t time) {
      if (wide) {
        put_u64(p, duration);
        put_u64(p, static_cast<uint64_t>(time));
      } else {
        put_u32(p, static_cast<uint32_t>(duration));
        put_u32(p, static_cast<uint32_t>(time));
      }
      put_u32(p, 0x00010000);  // rate 1.0
    };
    if (empty > 0) entry(empty, -1);
    entry(media_edit, media_time);
    edts = box("edts", full_box("elst", wide ? 1 : 0, 0, p));
  }

  std::string dref;
  put_u32(dref, 1);
  dref += full_box("url ", 0, 1, "");  // the media is in this file
  std::string media_header = t.setup.media_header.empty() ? full_box("nmhd", 0, 0, "") : t.setup.media_header;
  std::string minf = media_header + box("dinf", full_box("dref", 0, 0, dref)) + box("stbl", stbl);
  std::string mdia = patch_header(t.setup.mdhd, "mdhd", media_duration, ts) + t.setup.hdlr + box("minf", minf);
  return box("trak", patch_header(t.setup.tkhd, "tkhd", track_duration, std::nullopt) + edts + box("mdia", mdia));
}

std::string Remuxer::build_moov(uint64_t data_start, bool wide_offsets, double& duration_s) const {
  using namespace bmff;
  // The picture first: the other tracks end with it. The muxer's sound fragments
  // trail the picture's by up to a part, so the last segment's sound runs on past
  // its last frame; the file lasts as long as the segments say.
  std::vector<std::string> traks(tracks_.size());
  uint64_t movie_duration = 0;
  std::optional<uint64_t> anchor_end;
  uint32_t next_id = 1;
  std::vector<size_t> order{anchor_};
  for (size_t k = 0; k < tracks_.size(); ++k)
    if (k != anchor_) order.push_back(k);
  for (size_t k : order) {
    if (tracks_[k].samples.empty()) continue;  // a track the segments never used
    uint64_t d = 0;
    traks[k] = build_trak(k, data_start, wide_offsets, k == anchor_ ? std::nullopt : anchor_end, d);
    if (k == anchor_) anchor_end = d;
    movie_duration = std::max(movie_duration, d);
    next_id = std::max(next_id, tracks_[k].setup.id + 1);
  }
  duration_s = static_cast<double>(movie_duration) / movie_timescale_;
  const bool wide = movie_duration > std::numeric_limits<uint32_t>::max();
  std::string mvhd;
  put_times(mvhd, wide);
  put_u32(mvhd, movie_timescale_);
  put_duration(mvhd, movie_duration, wide);
  put_u32(mvhd, 0x00010000);  // rate 1.0
  put_u16(mvhd, 0x0100);      // volume 1.0
  mvhd.append(10, '\0');
  for (uint32_t v : {0x00010000u, 0u, 0u, 0u, 0x00010000u, 0u, 0u, 0u, 0x40000000u}) put_u32(mvhd, v);
  mvhd.append(24, '\0');
  put_u32(mvhd, next_id);
  std::string all_traks;
  for (const auto& t : traks) all_traks += t;
  return box("moov", full_box("mvhd", wide ? 1 : 0, 0, mvhd) + all_traks);
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(fmt::format("cannot write: {}", errno_text()));
    data += n;
    size -= static_cast<size_t>(n);
  }
}

double Remuxer::write(const std::filesystem::path& out, uint64_t& bytes_written) {
  if (chunks_.empty()) throw FormatError("no samples to write");
  bool any_avc = false;
  for (const auto& t : tracks_) any_avc = any_avc || t.setup.stsd.find("avc1") != std::string::npos;
  std::string ftyp_payload = "isom";
  bmff::put_u32(ftyp_payload, 0x200);
  ftyp_payload += "isomiso2";
  if (any_avc) ftyp_payload += "avc1";
  ftyp_payload += "mp41";
  const std::string ftyp = bmff::box("ftyp", ftyp_payload);

  uint64_t media_bytes = 0;
  for (const auto& c : chunks_) media_bytes += c.bytes;
  const bool wide_mdat = media_bytes + 8 > options_.offset_limit_32;
  std::string mdat_header;
  if (wide_mdat) {
    bmff::put_u32(mdat_header, 1);
    mdat_header += "mdat";
    bmff::put_u64(mdat_header, media_bytes + 16);
  } else {
    bmff::put_u32(mdat_header, static_cast<uint32_t>(media_bytes + 8));
    mdat_header += "mdat";
  }
  // The moov's size moves the media, and the media's offsets may need 64-bit fields.
  double duration_s = 0;
  const uint64_t last_chunk = media_bytes - chunks_.back().bytes;
  std::string moov = build_moov(0, false, duration_s);
  uint64_t data_start = ftyp.size() + moov.size() + mdat_header.size();
  bool wide_offsets = data_start + last_chunk > options_.offset_limit_32;
  if (wide_offsets) {
    moov = build_moov(0, true, duration_s);
    data_start = ftyp.size() + moov.size() + mdat_header.size();
  }
  moov = build_moov(data_start, wide_offsets, duration_s);

  std::filesystem::path tmp = out;
  tmp += ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw std::runtime_error(fmt::format("cannot create {}: {}", tmp.string(), errno_text()));
  try {
    write_all(fd.get(), ftyp.data(), ftyp.size());
    write_all(fd.get(), moov.data(), moov.size());
    write_all(fd.get(), mdat_header.data(), mdat_header.size());
    std::vector<char> buffer(kCopyBuffer);
    Fd source;
    uint32_t open_file = std::numeric_limits<uint32_t>::max();
    for (const auto& c : chunks_) {
      if (c.file != open_file) {
        source = Fd(::open(files_[c.file].c_str(), O_RDONLY | O_CLOEXEC));
        if (source.get() < 0)
          throw std::runtime_error(fmt::format("cannot open {}: {}", files_[c.file].string(), errno_text()));
        open_file = c.file;
      }
      uint64_t done = 0;
      while (done < c.bytes) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), c.bytes - done));
        ssize_t got = ::pread(source.get(), buffer.data(), want, static_cast<off_t>(c.source_offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
          throw std::runtime_error(fmt::format("segment {} changed while being copied (read at byte {}: {})",
                                               files_[c.file].string(), c.source_offset + done,
                                               got < 0 ? errno_text() : "end of file"));
        write_all(fd.get(), buffer.data(), static_cast<size_t>(got));
        done += static_cast<uint64_t>(got);
      }
    }
    if (::fsync(fd.get()) != 0) throw std::runtime_error(fmt::format("cannot sync: {}", errno_text()));
    fd.reset();
    std::error_code ec;
    std::filesystem::rename(tmp, out, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", tmp.string(), out.string(), ec.message()));
  } catch (...) {
    fd.reset();
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
  bytes_written = ftyp.size() + moov.size() + mdat_header.size() + media_bytes;
  return duration_s;
}

}  // namespace

RemuxResult remux_to_mp4(const std::filesystem::path& init, const std::vector<std::filesystem::path>& segments,
                         const std::filesystem::path& out_path) {
  return remux_runs_to_mp4({{init, segments}}, out_path, RemuxOptions{});
}

RemuxResult remux_runs_to_mp4(const std::vector<RemuxRun>& runs, const std::filesystem::path& out_path) {
  return remux_runs_to_mp4(runs, out_path, RemuxOptions{});
}

RemuxResult remux_runs_to_mp4(const std::vector<RemuxRun>& runs, const std::filesystem::path& out_path,
                              const RemuxOptions& options) {
  RemuxResult result;
  try {
    if (runs.empty()) throw FormatError("no run to remux");
    Remuxer remuxer(options);
    for (size_t i = 0; i < runs.size(); ++i) {
      const auto& [init_path, segments] = runs[i];
      if (segments.empty()) throw FormatError(fmt::format("run {} has no segment", i + 1));
      InitSetup init;
      try {
        init = parse_init(init_path);
      } catch (const FormatError& e) {
        throw FormatError(fmt::format("init {}: {}", init_path.string(), e.what()));
      }
      remuxer.add_run(init, segments, i);
    }
    result.duration_s = remuxer.write(out_path, result.bytes);
    result.ok = true;
  } catch (const std::bad_alloc&) {
    result.error = "out of memory";
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace relay::recording
