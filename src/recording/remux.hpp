#pragma once
// Progressive MP4 downloads from the recorded fMP4 segments: ftyp, then the moov
// with every sample table (so a player can seek at once: "faststart"), then one
// mdat. The samples are copied byte for byte from the segment files, in their
// order; nothing is decoded or re-encoded. The moov is computed first from the
// boxes alone (init and moofs), then the media is copied segment by segment, so
// a recording of any length needs memory only for its sample tables.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace relay::recording {

struct RemuxResult {
  bool ok = false;
  std::string error;
  double duration_s = 0;
  uint64_t bytes = 0;
};

struct RemuxOptions {
  // Chunk offsets above this, or an mdat bigger than this, take 64-bit fields
  // (co64, a large mdat size). 4 GiB in real use; tests lower it.
  uint64_t offset_limit_32 = UINT32_MAX;
};

// A progressive MP4 (ftyp, moov before mdat) from one init section and its fMP4 media segments,
// samples copied, no re-encode. Writes out_path + ".tmp" then renames. Segments with a different
// init are not allowed (call per run, or the caller splits). Returns error text on failure.
RemuxResult remux_to_mp4(const std::filesystem::path& init, const std::vector<std::filesystem::path>& segments,
                         const std::filesystem::path& out_path);

using RemuxRun = std::pair<std::filesystem::path, std::vector<std::filesystem::path>>;  // init, segments

// Several runs (inits) into one MP4: each run's samples follow the previous run's end (gaps closed),
// when all inits have the same codec configuration; otherwise an error.
RemuxResult remux_runs_to_mp4(const std::vector<RemuxRun>& runs, const std::filesystem::path& out_path);
RemuxResult remux_runs_to_mp4(const std::vector<RemuxRun>& runs, const std::filesystem::path& out_path,
                              const RemuxOptions& options);

}  // namespace relay::recording
