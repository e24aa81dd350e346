#pragma once
// Checks of the LL-HLS playlist rules (rfc8216bis 4.4.3.8, 4.4.4.9, 4.4.5.2, 6.2.2)
// on playlist text. Each returns an empty string when the rule holds, else what
// broke it, so a test can show both that our playlists pass and that a broken
// playlist fails.
#include <cmath>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace ll_rules {

inline std::optional<double> attr(const std::string& line, const std::string& name) {
  std::smatch m;
  if (std::regex_search(line, m, std::regex("[:,]" + name + "=([0-9.]+)"))) return std::stod(m[1]);
  return std::nullopt;
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

inline std::string find_line(const std::string& text, const std::string& prefix) {
  for (auto& l : lines(text))
    if (l.rfind(prefix, 0) == 0) return l;
  return "";
}

struct ParsedPart {
  double duration;
  bool independent;
  std::string uri;
};
struct ParsedSegment {
  bool has_pdt = false;
  std::vector<ParsedPart> parts;
  std::optional<double> duration;  // nullopt: the segment still being built
  std::string uri;
};

inline std::vector<ParsedSegment> segments(const std::string& text) {
  std::vector<ParsedSegment> out(1);
  for (auto& l : lines(text)) {
    auto& cur = out.back();
    if (l.rfind("#EXT-X-PROGRAM-DATE-TIME:", 0) == 0) cur.has_pdt = true;
    else if (l.rfind("#EXT-X-PART:", 0) == 0) {
      std::smatch m;
      std::regex_search(l, m, std::regex("URI=\"([^\"]+)\""));
      cur.parts.push_back({*attr(l, "DURATION"), l.find("INDEPENDENT=YES") != std::string::npos, m[1]});
    } else if (l.rfind("#EXTINF:", 0) == 0) cur.duration = std::stod(l.substr(8));
    else if (!l.empty() && l[0] != '#') {
      cur.uri = l;
      out.emplace_back();
    }
  }
  if (out.back().parts.empty() && !out.back().has_pdt) out.pop_back();
  return out;
}

inline std::string part_target_present(const std::string& pl, double expected) {
  auto v = attr(find_line(pl, "#EXT-X-PART-INF:"), "PART-TARGET");
  if (!v) return "no EXT-X-PART-INF:PART-TARGET";
  return std::abs(*v - expected) < 1e-6 ? "" : "PART-TARGET " + std::to_string(*v);
}

inline std::string server_control(const std::string& pl) {
  auto sc = find_line(pl, "#EXT-X-SERVER-CONTROL:");
  if (sc.find("CAN-BLOCK-RELOAD=YES") == std::string::npos) return "no CAN-BLOCK-RELOAD=YES";
  auto pt = attr(find_line(pl, "#EXT-X-PART-INF:"), "PART-TARGET");
  auto td = attr(find_line(pl, "#EXT-X-TARGETDURATION"), "TARGETDURATION");
  std::smatch m;
  std::regex_search(pl, m, std::regex("#EXT-X-TARGETDURATION:([0-9]+)"));
  double target = std::stod(m[1]);
  (void)td;
  auto phb = attr(sc, "PART-HOLD-BACK"), hb = attr(sc, "HOLD-BACK"), skip = attr(sc, "CAN-SKIP-UNTIL");
  if (!pt || !phb || *phb < 3 * *pt - 1e-9) return "PART-HOLD-BACK below 3 x PART-TARGET";
  if (!hb || *hb < 3 * target - 1e-9) return "HOLD-BACK below 3 x target duration";
  if (!skip || *skip < 6 * target - 1e-9) return "CAN-SKIP-UNTIL below 6 x target duration";
  return "";
}

// Parts come before their parent's URI: after a segment URI, the next part is a new
// segment's, so a part URI naming an earlier segment is out of place.
inline std::string parts_before_parent(const std::string& pl) {
  for (auto& seg : segments(pl)) {
    if (seg.uri.empty()) continue;
    std::smatch m;
    // seg-<instance>-<msn>.m4s owns part-<instance>-<msn>.<index>.m4s
    if (!std::regex_search(seg.uri, m, std::regex("^seg-([0-9a-z]+-[0-9]+)\\."))) continue;
    for (auto& p : seg.parts)
      if (p.uri.find("part-" + std::string(m[1]) + ".") != 0) return p.uri + " listed under " + seg.uri;
  }
  return "";
}

inline std::string independent_marks(const std::string& pl, const std::map<std::string, bool>& idr_by_uri) {
  for (auto& seg : segments(pl))
    for (auto& p : seg.parts) {
      auto it = idr_by_uri.find(p.uri);
      if (it != idr_by_uri.end() && it->second != p.independent) return p.uri + " INDEPENDENT mark is wrong";
    }
  return "";
}

inline std::string one_preload_hint(const std::string& pl) {
  int n = 0;
  for (auto& l : lines(pl))
    if (l.rfind("#EXT-X-PRELOAD-HINT:", 0) == 0) {
      if (l.find("TYPE=PART") == std::string::npos) return "hint is not TYPE=PART";
      ++n;
    }
  return n == 1 ? "" : "expected one PRELOAD-HINT, got " + std::to_string(n);
}

inline std::string pdt_on_every_segment(const std::string& pl) {
  for (auto& seg : segments(pl))
    if (!seg.has_pdt) return "segment " + seg.uri + " has no PDT";
  return "";
}

inline std::string part_durations(const std::string& pl) {
  auto pt = attr(find_line(pl, "#EXT-X-PART-INF:"), "PART-TARGET");
  if (!pt) return "no PART-TARGET";
  for (auto& seg : segments(pl))
    for (size_t i = 0; i < seg.parts.size(); ++i) {
      auto& p = seg.parts[i];
      bool last_of_complete = seg.duration && i + 1 == seg.parts.size();
      if (p.duration > *pt + 1e-9) return p.uri + " longer than PART-TARGET";
      if (p.duration < 0.85 * *pt - 1e-9 && !p.independent && !last_of_complete) return p.uri + " under 85 %";
    }
  return "";
}

// Parts listed only within the last three target durations: no segment that ends
// before that horizon lists parts.
inline std::string parts_only_recent(const std::string& pl) {
  std::smatch m;
  std::regex_search(pl, m, std::regex("#EXT-X-TARGETDURATION:([0-9]+)"));
  double horizon = 3 * std::stod(m[1]);
  auto segs = segments(pl);
  double after = 0;
  for (size_t i = segs.size(); i-- > 0;) {
    if (!segs[i].parts.empty() && after >= horizon + 1e-9) return segs[i].uri + " lists parts beyond 3 target durations";
    if (segs[i].duration) after += *segs[i].duration;
    else for (auto& p : segs[i].parts) after += p.duration;
  }
  return "";
}

}  // namespace ll_rules
