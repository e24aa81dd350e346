#include "api/vod_api.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/tokens.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/text.hpp"
#include "delivery/router.hpp"
#include "net/byte_range.hpp"
#include "net/etag.hpp"
#include "recording/remux.hpp"
#include "recording/vod.hpp"
#include "recording/vtt_merge.hpp"

namespace relay::api {
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

constexpr std::string_view kPlaylistType = "application/vnd.apple.mpegurl";
constexpr std::string_view kWebVttType = "text/vtt; charset=utf-8";
constexpr std::string_view kCsvType = "text/csv; charset=utf-8";
constexpr std::string_view kJsonType = "application/json";
// The whole event grows while it is recorded: players and caches ask again soon.
constexpr std::string_view kGrowingMaxAge = "max-age=5";
constexpr std::string_view kImmutableMaxAge = "max-age=31536000, immutable";
// Relative to /vod/<event>/<talk or all>/<rendition>/index.m3u8.
constexpr std::string_view kMediaPrefix = "../../media/";
constexpr std::string_view kWholeEvent = "all";
constexpr std::string_view kMedia = "media";
constexpr int64_t kRereadMs = 2000;

spdlog::logger& vod_log() {
  static const auto logger = relay::log::get("vod");
  return *logger;
}

net::Response json_response(http::status status, const Json& body) {
  return net::make_json_response(status, body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

net::Response not_found(std::string_view message) {
  return net::make_json_error(http::status::not_found, "not_found", message);
}

std::optional<std::string> read_whole_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(content).str();
}

int64_t modified_epoch_ms(const fs::path& file) {
  std::error_code ec;
  const auto time = fs::last_write_time(file, ec);
  if (ec) return 0;
  const auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
}

std::string_view media_type(std::string_view rendition, std::string_view file) {
  if (file.ends_with(".vtt")) return kWebVttType;
  return rendition.starts_with("audio") ? "audio/mp4" : "video/mp4";
}

// Only the caller who brought the code may be served from a shared cache's copy:
// with an event code, responses are private.
std::string cache_control(bool public_access, std::string_view max_age) {
  return fmt::format("{}, {}", public_access ? "public" : "private", max_age);
}

std::vector<std::pair<std::string, std::string>> talk_titles(const std::vector<VodTalk>& talks) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const VodTalk& t : talks) out.emplace_back(t.id, t.title);
  return out;
}

}  // namespace

// ---- sessions

VodSessions::VodSessions(std::string key, int64_t lifetime_s) : key_(std::move(key)), lifetime_s_(lifetime_s) {
  if (key_.empty()) {
    std::string random(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), static_cast<int>(random.size())) != 1)
      throw std::runtime_error("no random bytes for the VOD session key");
    key_ = std::move(random);
  }
}

std::string VodSessions::sign(std::string_view expiry) const {
  const std::string data = fmt::format("vod-session:{}", expiry);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &length);
  return text::hex_encode(mac, length);
}

std::string VodSessions::issue(int64_t now_s) const {
  const std::string expiry = std::to_string(now_s + lifetime_s_);
  return fmt::format("{}.{}", expiry, sign(expiry));
}

bool VodSessions::valid(std::string_view value, int64_t now_s) const {
  const size_t dot = value.find('.');
  if (dot == std::string_view::npos) return false;
  const auto expiry = text::parse_digits(value.substr(0, dot));
  if (!expiry || static_cast<int64_t>(*expiry) <= now_s) return false;
  const std::string expected = sign(value.substr(0, dot));
  const std::string_view mac = value.substr(dot + 1);
  return mac.size() == expected.size() && CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) == 0;
}

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t end = header.find(';');
    std::string_view pair = text::trim(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    if (text::trim(pair.substr(0, equals)) == name) return text::trim(pair.substr(equals + 1));
  }
  return std::nullopt;
}

// ---- the API

// An event's index and what is derived from it once per journal change.
struct VodApi::Cached {
  uintmax_t journal_size = 0;
  fs::file_time_type journal_time;
  int64_t read_at_ms = 0;
  recording::EventIndex index;
  std::set<std::string, std::less<>> files;  // every journaled file name (segments and inits)
};

// A request as the worker thread needs it: copied off the session's.
struct VodApi::Request {
  net::RequestHeader header;
  std::string path;
  bool secure = false;
};

VodApi::VodApi(const config::VodConfig& config, fs::path recording_dir, Talks talks, std::function<int64_t()> clock)
    : public_(config.access == config::VodAccess::public_access),
      dir_(std::move(recording_dir)),
      talks_(std::move(talks)),
      clock_(std::move(clock)),
      sessions_(config.cookie_key, static_cast<int64_t>(config.session_hours) * 3600),
      code_digest_(auth::sha256(config.event_code)),
      // A wrong code costs a token: 5 at once, then one every 6 s per client address.
      wrong_codes_(10, 5),
      worker_(std::make_unique<WorkQueue>("relay-vod", 64)),
      remux_(std::make_unique<WorkQueue>("relay-vod-mp4", 8)) {}

VodApi::~VodApi() {
  worker_->stop();
  remux_->stop();
}

bool VodApi::authorized(const net::Request& req) const {
  if (public_) return true;
  const auto value = cookie_value(req[http::field::cookie], kVodCookie);
  return value && sessions_.valid(*value, clock_() / 1000);
}

net::Response VodApi::session(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  if (req.method() != http::verb::post) {
    net::Response res = net::make_json_error(http::status::method_not_allowed, "method_not_allowed",
                                             "send the event code with POST");
    res.set(http::field::allow, "POST");
    return res;
  }
  if (public_) return json_response(http::status::ok, Json{{"access", "public"}});
  if (auto refused = net::refuse_unless_json(req)) return std::move(*refused);
  const Json body = Json::parse(req.body(), nullptr, false);
  if (!body.is_object() || !body.contains("code") || !body["code"].is_string())
    return net::make_json_error(http::status::bad_request, "bad_json", "expected {\"code\": \"...\"}");
  {
    // Guessing is slowed per address before the code is even compared.
    std::lock_guard lock(mutex_);
    const int64_t now = clock_();
    if (wrong_codes_.size() > 4096) wrong_codes_.prune(now);
    if (const int64_t wait = wrong_codes_.take(std::string(exchange.client), now)) {
      net::Response res = net::make_json_error(http::status::too_many_requests, "rate_limited",
                                               "too many attempts; try again later");
      res.set(http::field::retry_after, std::to_string((wait + 999) / 1000));
      return res;
    }
  }
  const auth::Digest given = auth::sha256(body["code"].get<std::string>());
  if (!auth::digests_equal(given, code_digest_))
    return net::make_json_error(http::status::forbidden, "wrong_code", "this is not the event code");
  net::Response res = json_response(http::status::ok, Json{{"access", "event_code"}});
  res.set(http::field::set_cookie,
          fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", kVodCookie,
                      sessions_.issue(clock_() / 1000), sessions_.lifetime_s(), exchange.secure ? "; Secure" : ""));
  return res;
}

net::Outcome VodApi::handle(const net::Exchange& exchange) const {
  const net::Request& req = exchange.message;
  const std::string_view path = exchange.target.path;
  if (path == fmt::format("{}/session", kVodApiPath)) return session(exchange);
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    net::Response res = net::make_json_error(http::status::method_not_allowed, "method_not_allowed",
                                             "recordings are read with GET");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (!authorized(req))
    return net::make_json_error(http::status::forbidden, "code_required",
                                "the recordings need the event code: POST it to /api/vod/session");
  // Everything below reads the disk: on the worker, not on this edge thread.
  auto request = std::make_shared<Request>(Request{req.base(), std::string(path), exchange.secure});
  return net::Deferred{[this, request](net::Deferred::Complete complete) {
    const bool queued = worker_->post([this, request, complete] {
      std::optional<net::Response> res;
      try {
        res = serve(*request, complete);
      } catch (const std::exception& e) {
        vod_log().warn("{}: {}", request->path, e.what());
        res = net::make_json_error(http::status::internal_server_error, "internal", "the recording could not be read");
      }
      if (res) complete(std::move(*res));
    });
    if (!queued) {
      net::Response res = net::make_json_error(http::status::service_unavailable, "busy", "too many requests for "
                                               "recordings at once; try again");
      res.set(http::field::retry_after, "1");
      complete(std::move(res));
    }
  }};
}

namespace {

// A file from disk with its validators and one byte range. A range is read by
// itself, so a player seeking in a large MP4 never pulls the whole file into
// memory; a whole file is read only up to kWholeFileLimit.
constexpr uint64_t kWholeFileLimit = 512ull * 1024 * 1024;

net::Response serve_file(const net::RequestHeader& req, const fs::path& file, std::string_view content_type,
                         std::string_view cache, std::string_view disposition) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return not_found("the file is gone");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return not_found("the file is gone");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  const int64_t modified_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  const std::string etag = net::make_etag(fmt::format("d-{:x}-{:x}", size, modified_ms));
  auto read_range = [&](uint64_t first, uint64_t length) -> std::optional<std::string> {
    std::string out(length, '\0');
    uint64_t done = 0;
    while (done < length) {
      const ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(first + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      done += static_cast<uint64_t>(n);
    }
    return out;
  };
  net::Response res;
  const std::string_view range_header = req[http::field::range];
  const std::string_view if_range = req[http::field::if_range];
  const net::RangeRequest range = range_header.empty() || (!if_range.empty() && if_range != etag)
                                      ? net::RangeRequest{}
                                      : net::parse_byte_range(range_header, size);
  if (!req[http::field::if_none_match].empty() && net::if_none_match_matches(req[http::field::if_none_match], etag)) {
    res = net::Response{http::status::not_modified, 11};
  } else if (range.kind == net::RangeRequest::unsatisfiable) {
    res = net::make_error_response(http::status::range_not_satisfiable, "range not satisfiable");
    res.set(http::field::content_range, fmt::format("bytes */{}", size));
  } else if (range.kind == net::RangeRequest::satisfiable) {
    auto bytes = read_range(range.range.first, range.range.length());
    if (!bytes) {
      ::close(fd);
      return not_found("the file could not be read");
    }
    res = net::Response{http::status::partial_content, 11};
    res.set(http::field::content_range, fmt::format("bytes {}-{}/{}", range.range.first, range.range.last, size));
    res.set(http::field::content_type, content_type);
    res.body() = net::BytesBody::value_type(make_bytes(std::move(*bytes)));
    res.content_length(res.body().size());
  } else if (size > kWholeFileLimit) {
    res = net::make_json_error(http::status::range_not_satisfiable, "too_large",
                               "this file is sent in byte ranges only (Range: bytes=0-...)");
    res.set(http::field::content_range, fmt::format("bytes */{}", size));
  } else {
    auto bytes = read_range(0, size);
    if (!bytes) {
      ::close(fd);
      return not_found("the file could not be read");
    }
    res = net::Response{http::status::ok, 11};
    res.set(http::field::content_type, content_type);
    res.body() = net::BytesBody::value_type(make_bytes(std::move(*bytes)));
    res.content_length(res.body().size());
  }
  ::close(fd);
  res.set(http::field::accept_ranges, "bytes");
  res.set(http::field::etag, etag);
  res.set(http::field::last_modified, net::format_http_date(modified_ms / 1000));
  res.set(http::field::cache_control, cache);
  if (!disposition.empty()) res.set(http::field::content_disposition, disposition);
  return res;
}

}  // namespace

std::optional<net::Response> VodApi::download(
    const Request& request, const std::shared_ptr<const Cached>& cached, std::string_view talk,
    std::string_view rendition,
    const std::function<std::vector<const recording::SegmentEntry*>(std::string_view)>& cut,
    const net::Deferred::Complete& complete) const {
  const recording::EventIndex& index = cached->index;
  if (!recording::is_plain_file_name(rendition)) return not_found("no such rendition");
  const auto segments = cut(rendition);
  if (segments.empty() || recording::is_subtitle_segment(*segments.front()))
    return not_found("no such video or audio rendition in this talk");
  // One run per init section, in order: a restart (or a new init within a run) starts the next.
  std::vector<recording::RemuxRun> runs;
  for (const recording::SegmentEntry* s : segments) {
    const fs::path init = index.dir / s->init;
    if (runs.empty() || runs.back().first != init) runs.push_back({init, {}});
    runs.back().second.push_back(index.dir / s->file);
  }
  const fs::path folder = index.dir / "downloads";
  const std::string name = fmt::format("{}-{}.mp4", talk, rendition);
  const fs::path out = folder / name;
  const std::string cache = cache_control(public_, kImmutableMaxAge);
  const std::string disposition = fmt::format("attachment; filename=\"{}-{}\"", index.event, name);
  const std::string_view type = media_type(rendition, name);
  std::error_code ec;
  if (fs::exists(out, ec)) return serve_file(request.header, out, type, cache, disposition);
  // Remuxing takes seconds: on its own thread, so playlists and segments keep flowing.
  auto header = std::make_shared<const net::RequestHeader>(request.header);
  const bool queued = remux_->post([header, runs = std::move(runs), folder, out, type = std::string(type), cache,
                                    disposition, complete] {
    std::error_code exists_ec;
    if (!fs::exists(out, exists_ec)) {
      if (const std::error_code made = recording::files::make_private_dir(folder)) {
        complete(net::make_json_error(http::status::internal_server_error, "download_failed",
                                      fmt::format("cannot make the downloads folder: {}", made.message())));
        return;
      }
      const recording::RemuxResult result = recording::remux_runs_to_mp4(runs, out);
      if (!result.ok) {
        vod_log().warn("{}: {}", out.string(), result.error);
        complete(net::make_json_error(http::status::internal_server_error, "download_failed", result.error));
        return;
      }
      ::chmod(out.c_str(), 0600);
      vod_log().info("{}: {} bytes, {:.3f} s", out.string(), result.bytes, result.duration_s);
    }
    complete(serve_file(*header, out, type, cache, disposition));
  });
  if (!queued) {
    net::Response res = net::make_json_error(http::status::service_unavailable, "busy",
                                             "downloads are being made; try again in a minute");
    res.set(http::field::retry_after, "30");
    return res;
  }
  return std::nullopt;
}

std::shared_ptr<const VodApi::Cached> VodApi::load(std::string_view event) const {
  if (!recording::is_plain_file_name(event)) return nullptr;
  const fs::path journal = dir_ / std::string(event) / recording::kJournalName;
  std::error_code ec;
  const uintmax_t size = fs::file_size(journal, ec);
  if (ec) return nullptr;
  const fs::file_time_type time = fs::last_write_time(journal, ec);
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(event);
    // While an event is recorded its journal grows every segment; reading it
    // again at most every kReread keeps the worker free for the requests.
    if (it != cache_.end() && ((it->second->journal_size == size && it->second->journal_time == time) ||
                               clock_() - it->second->read_at_ms < kRereadMs))
      return it->second;
  }
  std::string error;
  auto index = recording::read_event(dir_ / std::string(event), &error);
  if (!index) {
    vod_log().warn("event {}: {}", event, error);
    return nullptr;
  }
  auto cached = std::make_shared<Cached>();
  cached->journal_size = size;
  cached->journal_time = time;
  cached->read_at_ms = clock_();
  cached->index = std::move(*index);
  for (const recording::SegmentEntry& s : cached->index.segments) {
    cached->files.insert(s.file);
    if (!s.init.empty()) cached->files.insert(s.init);
  }
  std::lock_guard lock(mutex_);
  cache_[std::string(event)] = cached;
  return cached;
}

std::optional<net::Response> VodApi::serve(const Request& request, const net::Deferred::Complete& complete) const {
  if (request.path == kVodApiPath) return listing();
  if (!request.path.starts_with(kVodPrefix)) return not_found("no such recording");
  const std::string_view rest = std::string_view(request.path).substr(kVodPrefix.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return not_found("expected /vod/<event>/...");
  return serve_event(request, rest.substr(0, slash), rest.substr(slash + 1), complete);
}

net::Response VodApi::listing() const {
  const std::vector<VodTalk> talks = talks_();
  Json events = Json::array();
  for (const std::string& event : recording::list_events(dir_)) {
    const auto cached = load(event);
    if (!cached) continue;
    const recording::EventIndex& index = cached->index;
    const std::string base = fmt::format("/vod/{}", event);
    const auto reference = recording::reference_rendition(index);
    Json talk_list = Json::array();
    for (const VodTalk& talk : talks) {
      const auto mark = std::find_if(index.talks.begin(), index.talks.end(),
                                     [&](const recording::TalkMark& m) { return m.talk == talk.id; });
      if (mark == index.talks.end()) continue;  // not held during this event
      const auto span = recording::talk_span(index, talk.id);
      Json item{{"id", talk.id},
                {"title", talk.title},
                {"speakers", talk.speakers},
                {"language", talk.language},
                {"start", mark->start_epoch_ms ? Json(format_iso8601_ms(*mark->start_epoch_ms)) : Json(nullptr)},
                {"end", mark->end_epoch_ms ? Json(format_iso8601_ms(*mark->end_epoch_ms)) : Json(nullptr)}};
      if (!span) {
        item["state"] = mark->start_epoch_ms ? "in_progress" : "not_started";
        talk_list.push_back(std::move(item));
        continue;
      }
      const auto cut = reference ? recording::cut_segments(index, *reference, span->start_ms, span->end_ms)
                                 : std::vector<const recording::SegmentEntry*>{};
      if (cut.empty()) {
        item["state"] = "not_recorded";
        talk_list.push_back(std::move(item));
        continue;
      }
      item["state"] = "available";
      item["duration_s"] = std::round(recording::total_duration_s(cut) * 1000) / 1000;
      const std::string talk_base = fmt::format("{}/{}", base, talk.id);
      Json mp4 = Json::object();
      Json captions = Json::object();
      for (const std::string& rendition : index.renditions()) {
        const auto segments = index.segments_of(rendition);
        if (segments.empty() || recording::cut_segments(index, rendition, span->start_ms, span->end_ms).empty())
          continue;
        if (recording::is_subtitle_segment(*segments.front())) {
          // "subs-de" -> "de"
          const std::string language = rendition.starts_with("subs-") ? rendition.substr(5) : rendition;
          captions[language] = fmt::format("{}/captions-{}.vtt", talk_base, language);
        } else {
          mp4[rendition] = fmt::format("{}/{}.mp4", talk_base, rendition);
        }
      }
      item["urls"] = Json{{"master", talk_base + "/master.m3u8"},
                          {"mp4", std::move(mp4)},
                          {"captions", std::move(captions)},
                          {"questions_csv", talk_base + "/questions.csv"},
                          {"questions_json", talk_base + "/questions.json"}};
      talk_list.push_back(std::move(item));
    }
    Json chapters = Json::array();
    double duration = 0;
    if (reference) {
      const auto presentation = index.segments_of(*reference);
      duration = recording::total_duration_s(presentation);
      for (const recording::Chapter& c : recording::chapters(index, presentation, talk_titles(talks)))
        chapters.push_back(Json{{"talk", c.talk}, {"title", c.title},
                                {"start_s", std::round(c.start_s * 1000) / 1000},
                                {"end_s", std::round(c.end_s * 1000) / 1000}});
    }
    events.push_back(Json{{"id", event},
                          {"talks", std::move(talk_list)},
                          {"duration_s", std::round(duration * 1000) / 1000},
                          {"chapters", std::move(chapters)},
                          {"urls", Json{{"master", base + "/all/master.m3u8"}, {"chapters", base + "/chapters.vtt"}}}});
  }
  return json_response(http::status::ok, Json{{"access", public_ ? "public" : "event_code"}, {"events", std::move(events)}});
}

std::optional<net::Response> VodApi::serve_event(const Request& request, std::string_view event, std::string_view rest,
                                                 const net::Deferred::Complete& complete) const {
  const auto cached = load(event);
  if (!cached) return not_found("no such recorded event");
  const recording::EventIndex& index = cached->index;

  auto text = [&](std::string body, std::string_view type, std::string_view max_age) {
    const std::string etag = net::make_etag(fmt::format("v-{:016x}", net::content_hash(body)));
    const std::string control = cache_control(public_, max_age);
    return delivery::Router::serve(request.header, {make_bytes(std::move(body)), type, etag, control, false, 0});
  };

  std::vector<std::string_view> parts;
  for (size_t pos = 0; pos <= rest.size();) {
    size_t end = rest.find('/', pos);
    if (end == std::string_view::npos) end = rest.size();
    parts.push_back(rest.substr(pos, end - pos));
    pos = end + 1;
  }

  // /vod/<event>/media/<rendition>/<file>: journaled names only.
  if (parts.size() == 3 && parts[0] == kMedia) {
    if (!recording::is_plain_file_name(parts[1]) || !recording::is_plain_file_name(parts[2]))
      return not_found("no such recorded file");
    const std::string name = fmt::format("{}/{}", parts[1], parts[2]);
    if (!cached->files.contains(name)) return not_found("no such recorded file");
    const fs::path file = index.dir / parts[1] / parts[2];
    auto content = read_whole_file(file);
    if (!content) return not_found("the recorded file is gone");
    const std::string etag = net::make_etag(fmt::format("r-{}-{}-{}", event, name, content->size()));
    const std::string control = cache_control(public_, kImmutableMaxAge);
    return delivery::Router::serve(request.header, {make_bytes(std::move(*content)), media_type(parts[1], parts[2]),
                                                    etag, control, true, modified_epoch_ms(file)});
  }

  if (parts.size() == 1 && parts[0] == "chapters.vtt") {
    const auto reference = recording::reference_rendition(index);
    std::vector<recording::Chapter> list;
    if (reference) list = recording::chapters(index, index.segments_of(*reference), talk_titles(talks_()));
    return text(recording::write_chapters_vtt(list), kWebVttType, kGrowingMaxAge);
  }

  if (parts.size() < 2) return not_found("expected /vod/<event>/<talk>/master.m3u8");
  const std::string_view talk = parts[0];
  const bool whole = talk == kWholeEvent;
  int64_t start_ms = INT64_MIN, end_ms = INT64_MAX;
  if (!whole) {
    const auto span = recording::talk_span(index, talk);
    if (!span) {
      const auto mark = std::find_if(index.talks.begin(), index.talks.end(),
                                     [&](const recording::TalkMark& m) { return m.talk == talk; });
      if (mark != index.talks.end() && mark->start_epoch_ms && !mark->end_epoch_ms)
        return net::make_json_error(http::status::not_found, "in_progress",
                                    fmt::format("talk '{}' is still on stage; its recording is available when it ends",
                                                talk));
      return not_found(fmt::format("no recorded talk '{}' in event {}", talk, event));
    }
    start_ms = span->start_ms;
    end_ms = span->end_ms;
  }
  const std::string_view max_age = whole ? kGrowingMaxAge : kImmutableMaxAge;
  auto cut = [&](std::string_view rendition) { return recording::cut_segments(index, rendition, start_ms, end_ms); };

  if (parts.size() == 2 && parts[1] == "master.m3u8") {
    std::set<std::string> available;
    const recording::SegmentEntry* first = nullptr;
    for (const std::string& rendition : index.renditions()) {
      const auto segments = cut(rendition);
      if (segments.empty()) continue;
      available.insert(rendition);
      if (!first || segments.front()->pdt_epoch_ms < first->pdt_epoch_ms) first = segments.front();
    }
    if (!first) return not_found("nothing of this talk was recorded");
    // The master of the run the presentation starts in lists the renditions as they were then.
    const auto run = std::find_if(index.runs.begin(), index.runs.end(),
                                  [&](const recording::RunEntry& r) { return r.run == first->run; });
    if (run == index.runs.end() || run->master.empty()) return not_found("the recording has no master playlist");
    return text(recording::write_vod_master(run->master, available), kPlaylistType, max_age);
  }

  if (parts.size() == 3 && parts[2] == "index.m3u8") {
    const auto segments = cut(parts[1]);
    if (segments.empty()) return not_found("no such rendition in this recording");
    std::vector<recording::DateRange> ranges;
    if (whole) {
      for (const VodTalk& t : talks_()) {
        if (const auto span = recording::talk_span(index, t.id))
          ranges.push_back({fmt::format("talk-{}", t.id), t.title, span->start_ms, span->end_ms});
      }
    }
    return text(recording::write_vod_playlist(segments, kMediaPrefix, ranges), kPlaylistType, max_age);
  }

  if (parts.size() == 2 && !whole && parts[1].ends_with(".mp4"))
    return download(request, cached, talk, parts[1].substr(0, parts[1].size() - 4), cut, complete);

  if (parts.size() == 2 && !whole && parts[1].starts_with("captions-") && parts[1].ends_with(".vtt")) {
    const std::string_view language = parts[1].substr(9, parts[1].size() - 9 - 4);
    const auto subtitles = cut(fmt::format("subs-{}", language));
    const auto reference = recording::reference_rendition(index);
    const auto timeline = reference ? cut(*reference) : std::vector<const recording::SegmentEntry*>{};
    if (subtitles.empty() || timeline.empty()) return not_found("no captions in this language for this talk");
    std::vector<std::string> texts;
    for (const recording::SegmentEntry* s : subtitles) {
      auto content = read_whole_file(index.dir / s->file);
      if (content) texts.push_back(std::move(*content));
    }
    net::Response res = text(recording::merge_webvtt(texts, timeline.front()->media_time_90k,
                                                     recording::total_duration_s(timeline)),
                             kWebVttType, kImmutableMaxAge);
    res.set(http::field::content_disposition,
            fmt::format("attachment; filename=\"{}-{}-captions-{}.vtt\"", event, talk, language));
    return res;
  }

  if (parts.size() == 2 && !whole && (parts[1] == "questions.json" || parts[1] == "questions.csv") && answered_) {
    for (const VodTalk& t : talks_()) {
      if (t.id != talk) continue;
      const bool csv = parts[1] == "questions.csv";
      auto questions = answered_(t, csv ? "csv" : "json");
      if (!questions) return not_found("this talk had no Q&A room");
      return text(std::move(*questions), csv ? kCsvType : kJsonType, "max-age=60");
    }
  }
  return not_found("no such recording resource");
}

}  // namespace relay::api
