#include "net/http2_session.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "common/client_network.hpp"
#include "common/log.hpp"
#include "net/client_address.hpp"
#include "net/fail.hpp"
#include "common/text.hpp"
#include "net/live_limits.hpp"
#include "net/fast_path.hpp"
#include "net/stats.hpp"

namespace relay::net {
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// Apart from the other sessions' ids in the registry: HTTP/1.1 from 1, WebSocket
// from 1 << 62, event streams from 3 << 61.
std::atomic<uint64_t> g_next_h2_id{uint64_t{1} << 61};

spdlog::logger& edge_log() {
  static const auto logger = relay::log::get("edge");
  return *logger;
}

// Each held playlist reload occupies a stream, and a player keeps a few; RFC 9113
// (6.5.2) asks for no fewer than 100, which is what browsers expect.
constexpr uint32_t kMaxConcurrentStreams = 100;

// "Rapid reset" (CVE-2023-44487): a client opens a stream and resets it at once,
// over and over, so the server starts work for requests that never count against
// the stream limit. Each RST_STREAM from the client takes a token from a bucket
// of this size, refilled at this rate per second; an empty bucket ends the
// connection with GOAWAY. A player resets a stream now and then (hls.js aborts a
// part request when it switches rendition), never hundreds in a second.
constexpr uint64_t kResetBurst = 200;
constexpr uint64_t kResetsPerSecond = 20;

// CONTINUATION frames allowed after a HEADERS frame: a client that never ends
// its header block would otherwise keep the server decoding it (CVE-2024-28182;
// the field limit bounds the memory, not the work). A block within
// edge.max_header_bytes needs no more than one frame per 16 KiB, the largest
// frame a client may send us; at least 8, nghttp2's own default since 1.61.
constexpr size_t kFrameSizeDefault = 16 * 1024;
size_t max_continuations(uint64_t max_header_bytes) {
  return std::max<size_t>(8, max_header_bytes / kFrameSizeDefault + 1);
}

// The largest TLS record's plaintext. A DATA frame's payload is cut so that its
// 9-byte frame header and the payload make exactly one record.
constexpr size_t kRecordBytes = 16 * 1024;
constexpr size_t kFrameHeaderBytes = 9;
constexpr size_t kDataFramePayload = kRecordBytes - kFrameHeaderBytes;

// Plaintext encrypted per send: four records in one system call, and no more
// ciphertext held per connection than this while the socket is full.
constexpr size_t kEncryptChunk = 4 * kRecordBytes;

// A connection that can send more than this in one turn lets the others on its
// thread go first (it waits for the socket, which is writable at once).
constexpr size_t kSendPerTurn = 256 * 1024;

// Reads per readable socket, each of kReadBufferSize, before others get a turn.
constexpr int kReadsPerTurn = 4;

// The batch being filled while another is on the wire stops growing here; what
// nghttp2 still has to send stays with it (bodies as references into the store)
// until the write in flight is done.
constexpr size_t kBatchLimit = 256 * 1024;

// A batch of frames that took more than this stays in memory afterwards.
constexpr size_t kKeptBatchCapacity = 64 * 1024;

// Ciphertext read per system call, and plaintext handed to nghttp2 at a time.
// Both buffers are the thread's: a connection holds none while it waits.
constexpr size_t kReadBufferSize = 16 * 1024;
thread_local char t_ciphertext[kReadBufferSize];
thread_local char t_plaintext[kReadBufferSize];
thread_local char t_record[kRecordBytes];

// close() sends GOAWAY; a peer that does not take it within this is cut.
constexpr auto kGoawayTime = std::chrono::seconds(1);

// After an answer before the request was complete (413, 408, ...), the rest of
// the body is read and dropped for this long and this much before the stream is
// reset: some clients (curl 7.88) take a reset right after the answer for a
// failure, though RFC 9113 8.1 allows it. As HttpSession's lingering close.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = 1024 * 1024;

std::string_view as_text(const uint8_t* data, size_t size) { return {reinterpret_cast<const char*>(data), size}; }

Bytes shared_text(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

}  // namespace

struct Http2Session::Stream {
  Stream(int32_t stream_id, const SessionContext& context) : id(stream_id), held(context.waiters, context.stats) {}

  const int32_t id;
  Http2RequestBuilder request;
  RequestTarget target;  // parsed once the request is whole
  std::string client;    // the peer, or whom a trusted proxy names; set with target
  size_t route = 0;      // Handler::route(), known once the header is
  Clock::time_point started = Clock::now();
  // Where the stream is, in this order; each is entered in one place.
  enum class Phase : uint8_t {
    header,      // on_request_begin: the header block is arriving
    body,        // on_request_header_done: the body is arriving, until END_STREAM
    dispatched,  // dispatch, respond_early, a refused body: what the client still sends is dropped
    responded,   // respond: the response is submitted; it must be taken by send_by
    lingering,   // on_frame_sent: an early answer is out; the rest is dropped until linger_until
    reset,       // stop_lingering, reset_stalled: RST_STREAM submitted, nghttp2 closes the stream once it is out
    closed,      // finish_stream: the hold ended, the response counted
  };
  // What was wrong with the header block, answered once it is complete.
  enum class HeaderProblem : uint8_t { none, malformed, too_large };
  // An event stream (begin_event_stream) sends one event at a time.
  enum class Events : uint8_t {
    none,     // not an event stream, or no longer one: the body's end ends the stream
    sending,  // an event is on its way; the timer is the stall guard
    waiting,  // the last event is all sent; the timer brings the next
  };
  bool receiving() const { return phase < Phase::dispatched; }

  Phase phase = Phase::header;
  HeaderProblem header_problem = HeaderProblem::none;
  bool request_ended = false;  // the client sent END_STREAM (independent of the phase)
  Clock::time_point linger_until;  // while lingering
  // While responded (and not an event stream, which has its own stall guard):
  // the response is reset unless the client has taken it by then.
  Clock::time_point send_by;
  size_t header_bytes = 0;
  size_t lingered_bytes = 0;
  Events event_state = Events::none;
  std::shared_ptr<EventSource> events;  // an event stream's source, while it runs
  unsigned status = 0;
  BytesBody::value_type body;
  size_t body_sent = 0;
  uint64_t bytes_out = 0;  // HEADERS and DATA frames, as nghttp2 serialised them
  HeldRequest held;
  // A held request's deadline, or an event stream's next event; a stale wait is
  // recognised by its generation.
  std::unique_ptr<asio::steady_timer> timer;
  uint64_t timer_generation = 0;
};

struct Http2Session::Callbacks {
  static Http2Session& self(void* user) { return *static_cast<Http2Session*>(user); }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      self(user).on_request_begin(frame->hd.stream_id);
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                    const uint8_t* value, size_t valuelen, uint8_t, void* user) {
    // Trailers carry nothing the routes use.
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      self(user).on_request_field(frame->hd.stream_id, as_text(name, namelen), as_text(value, valuelen));
    return 0;
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    const bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      self(user).on_request_header_done(frame->hd.stream_id, end_stream);
    else if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream)
      self(user).on_request_end(frame->hd.stream_id);
    return 0;
  }

  static int data_chunk_recv(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                             void* user) {
    self(user).on_request_data(stream_id, as_text(data, len));
    return 0;
  }

  static int frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)
      self(user).on_frame_sent(frame->hd.stream_id, kFrameHeaderBytes + frame->hd.length,
                               frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
    return 0;
  }

  static int stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
    self(user).on_stream_closed(stream_id, error_code);
    return 0;
  }

  static ssize_t read(nghttp2_session*, int32_t stream_id, uint8_t*, size_t length, uint32_t* data_flags,
                      nghttp2_data_source*, void* user) {
    return self(user).next_body_frame(stream_id, length, data_flags);
  }

  static int send_data(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd, size_t length,
                       nghttp2_data_source*, void* user) {
    return self(user).send_body_frame(frame->hd.stream_id, framehd, length);
  }

  // Made once and shared by every session; nghttp2 only reads it.
  static const nghttp2_session_callbacks* get() {
    static const auto made = [] {
      nghttp2_session_callbacks* cbs = nullptr;
      if (nghttp2_session_callbacks_new(&cbs) != 0) throw std::bad_alloc();
      nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers);
      nghttp2_session_callbacks_set_on_header_callback(cbs, header);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_recv);
      nghttp2_session_callbacks_set_on_frame_send_callback(cbs, frame_send);
      nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close);
      nghttp2_session_callbacks_set_send_data_callback(cbs, send_data);
      return std::unique_ptr<nghttp2_session_callbacks, void (*)(nghttp2_session_callbacks*)>(
          cbs, nghttp2_session_callbacks_del);
    }();
    return made.get();
  }
};

// OutputBatch

void Http2Session::OutputBatch::append_copy(const uint8_t* data, size_t size) {
  if (size == 0) return;
  if (!pieces_.empty() && !pieces_.back().shared && pieces_.back().offset + pieces_.back().length == copied_.size())
    pieces_.back().length += size;
  else
    pieces_.push_back({nullptr, copied_.size(), size});
  copied_.append(reinterpret_cast<const char*>(data), size);
  size_ += size;
  buffers_.clear();
}

void Http2Session::OutputBatch::append_shared(const Bytes& owner, std::string_view bytes) {
  if (bytes.empty()) return;
  // A body is usually sent in a run of frames: pin it once per run.
  if (pinned_.empty() || pinned_.back() != owner) pinned_.push_back(owner);
  pieces_.push_back({bytes.data(), 0, bytes.size()});
  size_ += bytes.size();
  buffers_.clear();
}

const std::vector<asio::const_buffer>& Http2Session::OutputBatch::buffers() {
  if (buffers_.size() == pieces_.size()) return buffers_;
  buffers_.clear();
  buffers_.reserve(pieces_.size());
  for (const Piece& p : pieces_) buffers_.emplace_back(p.shared ? p.shared : copied_.data() + p.offset, p.length);
  return buffers_;
}

void Http2Session::OutputBatch::swap(OutputBatch& other) noexcept {
  copied_.swap(other.copied_);
  pieces_.swap(other.pieces_);
  pinned_.swap(other.pinned_);
  buffers_.swap(other.buffers_);
  std::swap(size_, other.size_);
}

void Http2Session::OutputBatch::clear() {
  copied_.clear();
  if (copied_.capacity() > kKeptBatchCapacity) copied_.shrink_to_fit();
  pieces_.clear();
  pinned_.clear();
  buffers_.clear();
  size_ = 0;
}

// Session

Http2Session::Http2Session(TlsStream&& stream, const SessionContext& context, std::string peer_address,
                           ConnectionSlot slot)
    : tls_(stream.native_handle()),
      socket_(beast::get_lowest_layer(stream).release_socket()),
      slot_(std::move(slot)),
      context_(context),
      id_(g_next_h2_id.fetch_add(1)),
      peer_address_(std::move(peer_address)),
      watchdog_(socket_.get_executor()) {
  // What is left of Asio's stream (its buffers, its reference to the SSL object) goes.
  { TlsStream spent(std::move(stream)); }
  beast::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) throw std::runtime_error("cannot make the socket non-blocking: " + ec.message());
  peer_ = client_network(peer_address_);  // for logs, as HttpSession's

  nghttp2_option* option = nullptr;
  if (nghttp2_option_new(&option) != 0) throw std::bad_alloc();
  // Closed streams are kept only for RFC 7540 priorities, which this server ignores.
  nghttp2_option_set_no_closed_streams(option, 1);
  nghttp2_option_set_stream_reset_rate_limit(option, kResetBurst, kResetsPerSecond);
  nghttp2_option_set_max_continuations(option, max_continuations(max_header_bytes()));
  // No dynamic HPACK table for response fields: most of them (date, etag)
  // change anyway, and the table cost more CPU and memory than it saved bytes
  // (docs/performance.md, "HTTP/2 session").
  nghttp2_option_set_max_deflate_dynamic_table_size(option, 0);
  int rv = nghttp2_session_server_new2(&session_, Callbacks::get(), this, option);
  nghttp2_option_del(option);
  if (rv != 0) throw std::bad_alloc();
  context_.stats.connection_opened();
}

Http2Session::~Http2Session() {
  // Streams still open when the connection ended: their holds and counts.
  for (auto& [stream_id, s] : streams_) finish_stream(*s);
  streams_.clear();
  nghttp2_session_del(session_);
  context_.registry.remove(id_);
  context_.stats.connection_closed();
  edge_log().trace("#{} closed", id_);
}

void Http2Session::run() {
  if (!context_.registry.add(id_, weak_from_this())) return;
  edge_log().trace("#{} HTTP/2 from {}", id_, peer_);
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    // A request body up to the limit may come in one flight; a larger one is refused anyway.
    const auto stream_window = static_cast<uint32_t>(
        std::clamp<uint64_t>(self->max_body_bytes(), NGHTTP2_INITIAL_WINDOW_SIZE, 1 << 20));
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, stream_window},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, self->max_header_bytes()},
        // Streams are served in the order they come (RFC 9218 urgency aside); the
        // RFC 7540 dependency tree nghttp2 would otherwise keep per stream is work
        // for nothing.
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    nghttp2_submit_settings(self->session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(self->session_, NGHTTP2_FLAG_NONE, 0, 1 << 20);
    // A connection that says nothing gets the header timeout, as on HTTP/1.1.
    self->idle_since_ = Clock::now();
    self->arm_watchdog(self->idle_since_ + self->header_timeout());
    self->flush();
    // The client's first frames may have come in with the handshake's last read.
    self->read_soon();
  });
}

void Http2Session::close() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_) return;
    self->closed_ = true;
    for (auto& [stream_id, s] : self->streams_) {
      self->end_hold(*s);
      ++s->timer_generation;
      if (s->timer) s->timer->cancel();
    }
    nghttp2_session_terminate_session(self->session_, NGHTTP2_NO_ERROR);
    if (self->write_in_flight_) {
      self->write_deadline_ = std::min(self->write_deadline_, Clock::now() + kGoawayTime);
      self->arm_watchdog(self->write_deadline_);
    }
    self->flush();
  });
}

void Http2Session::drain() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->closed_ || self->draining_) return;
    self->draining_ = true;
    // Streams the client opens after this are refused; it retries them elsewhere.
    nghttp2_submit_goaway(self->session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(self->session_), NGHTTP2_NO_ERROR, nullptr, 0);
    for (auto& [stream_id, s] : self->streams_) {
      if (s->held.active()) {
        // As at the hold's deadline, but not for a cache to keep: the edge is going
        // away, not the stream.
        ++s->timer_generation;
        Response response = s->held.expire(self->context_.handler, self->exchange(*s), /*timed_out=*/false);
        response.set(http::field::cache_control, "no-store");
        response.set(http::field::retry_after, "1");
        self->respond(*s, std::move(response));
      } else if (s->event_state != Stream::Events::none) {
        // The event on its way is the last; then the stream ends.
        const bool waiting = s->event_state == Stream::Events::waiting;
        s->event_state = Stream::Events::none;
        ++s->timer_generation;
        if (s->timer) s->timer->cancel();
        self->expect_taken(*s);
        if (waiting) nghttp2_session_resume_data(self->session_, stream_id);
      }
    }
    self->flush();
  });
}

Http2Session::StreamList::iterator Http2Session::stream_entry(int32_t stream_id) {
  return std::find_if(streams_.begin(), streams_.end(), [&](const auto& entry) { return entry.first == stream_id; });
}

Http2Session::Stream* Http2Session::find(int32_t stream_id) {
  auto it = stream_entry(stream_id);
  return it == streams_.end() ? nullptr : it->second.get();
}

// HTTP/2 is offered by ALPN only, so always over TLS.
Exchange Http2Session::exchange(Stream& s) { return {s.request.request(), s.target, s.client, s.route, true}; }

// Receiving requests

void Http2Session::on_request_begin(int32_t stream_id) {
  served_any_ = true;
  streams_.emplace_back(stream_id, std::make_unique<Stream>(stream_id, context_));
}

void Http2Session::on_request_field(int32_t stream_id, std::string_view name, std::string_view value) {
  Stream* s = find(stream_id);
  if (!s) return;
  // Counted as SETTINGS_MAX_HEADER_LIST_SIZE counts (RFC 9113 6.5.2); nghttp2 still
  // decodes the rest of an oversized block, but nothing more of it is kept.
  s->header_bytes += name.size() + value.size() + 32;
  if (s->header_bytes > max_header_bytes()) s->header_problem = Stream::HeaderProblem::too_large;
  if (s->header_problem != Stream::HeaderProblem::none) return;
  if (!s->request.add(name, value)) s->header_problem = Stream::HeaderProblem::malformed;
}

void Http2Session::on_request_header_done(int32_t stream_id, bool end_stream) {
  Stream* s = find(stream_id);
  if (!s) return;
  if (s->phase == Stream::Phase::header) s->phase = Stream::Phase::body;
  if (end_stream) s->request_ended = true;
  s->route = context_.handler.route(s->request.request().target());
  if (s->header_problem == Stream::HeaderProblem::too_large)
    return respond_early(*s, http::status::request_header_fields_too_large, "request header too large");
  if (s->header_problem == Stream::HeaderProblem::malformed || !s->request.complete())
    return respond_early(*s, http::status::bad_request, "malformed request");
  // A declared body over the limit is refused before it is sent.
  const auto& req = s->request.request();
  if (auto it = req.find(http::field::content_length); it != req.end()) {
    auto length = text::parse_digits(it->value());
    if (length && *length > body_limit(s->route))
      return respond_early(*s, http::status::payload_too_large, "request body too large");
  }
  if (end_stream) dispatch(*s);
}

void Http2Session::on_request_data(int32_t stream_id, std::string_view data) {
  Stream* s = find(stream_id);
  if (!s) return;
  if (s->phase == Stream::Phase::lingering) {
    s->lingered_bytes += data.size();
    if (s->lingered_bytes > kLingerMaxBytes) stop_lingering(*s);
    return;
  }
  if (!s->receiving()) return;
  auto& body = s->request.request().body();
  if (body.size() + data.size() > body_limit(s->route))
    return respond_early(*s, http::status::payload_too_large, "request body too large");
  // Bodies waiting for their stream's end, all streams together: without a bound,
  // 100 streams could each hold a body just under the limit.
  const uint64_t connection_limit = std::max<uint64_t>(1 << 20, body_limit(s->route));
  if (buffered_request_bytes_ + data.size() > connection_limit) {
    edge_log().debug("#{} {} stream {} refused: too many request bodies at once", id_, peer_, stream_id);
    s->phase = Stream::Phase::dispatched;
    buffered_request_bytes_ -= body.size();
    std::string().swap(body);
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  body.append(data);
  buffered_request_bytes_ += data.size();
}

void Http2Session::on_request_end(int32_t stream_id) {
  Stream* s = find(stream_id);
  if (!s) return;
  s->request_ended = true;
  if (s->receiving()) dispatch(*s);
}

void Http2Session::dispatch(Stream& s) {
  s.phase = Stream::Phase::dispatched;
  auto& req = s.request.request();
  buffered_request_bytes_ -= req.body().size();
  if (closed_) return;
  s.target = parse_request_target(req.target());
  s.client = context_.proxies ? context_.proxies->client_of(peer_address_, req) : peer_address_;
  Outcome outcome = context_.handler.handle(exchange(s));
  if (auto* response = std::get_if<Response>(&outcome)) {
    respond(s, std::move(*response));
  } else if (auto* hold = std::get_if<Hold>(&outcome)) {
    return begin_hold(s, *hold);
  } else if (auto* deferred = std::get_if<Deferred>(&outcome)) {
    return begin_deferred(s, std::move(*deferred));
  } else {
    // A WebSocket cannot start on an HTTP/2 stream here (no RFC 8441): the
    // handler answers a WebSocket route with 426 unless the request is an
    // HTTP/1.1 upgrade, and browsers open it over HTTP/1.1.
    auto& upgrade = std::get<Upgrade>(outcome);
    if (upgrade.events) return begin_event_stream(s, std::move(upgrade.events));
    upgrade.websocket.reset();
    respond(s, make_error_response(http::status::upgrade_required, "WebSocket needs HTTP/1.1"));
  }
  std::string().swap(req.body());
}

void Http2Session::begin_deferred(Stream& s, Deferred deferred) {
  deferred.start([weak = weak_from_this(), executor = socket_.get_executor(), stream_id = s.id](Response response) {
    asio::post(executor, [weak, stream_id, response = std::move(response)]() mutable {
      auto self = weak.lock();
      if (!self || self->shut_down_) return;
      Stream* s = self->find(stream_id);
      if (!s) return;  // the client reset the stream meanwhile
      std::string().swap(s->request.request().body());
      self->respond(*s, std::move(response));
      self->flush();
    });
  });
}

void Http2Session::respond(Stream& s, Response response) {
  if (s.phase >= Stream::Phase::responded) return;
  s.phase = Stream::Phase::responded;
  const auto& req = s.request.request();
  finish(req, response);
  s.status = response.result_int();
  const bool head = req.method() == http::verb::head;
  // nghttp2 copies the fields: one block per thread serves every response.
  thread_local ResponseHeaderBlock header;
  header.assign(response);
  s.body = head ? BytesBody::value_type() : std::move(response.body());
  s.body_sent = 0;
  nghttp2_data_provider provider{};
  provider.read_callback = Callbacks::read;
  const bool has_body = !head && (s.body.size() > 0 || s.event_state != Stream::Events::none);
  int rv = nghttp2_submit_response(session_, s.id, header.data(), header.size(), has_body ? &provider : nullptr);
  if (rv != 0) {
    edge_log().warn("#{} stream {}: cannot submit the response: {}", id_, s.id, nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (s.event_state == Stream::Events::none) expect_taken(s);
  if (edge_log().should_log(spdlog::level::debug))
    edge_log().debug("#{} {} h2 stream {} {} {} -> {}", id_, peer_, s.id, req.method_string(),
                     loggable_target(context_.handler.info(s.route), req.target()), s.status);
}

void Http2Session::respond_early(Stream& s, http::status status, std::string_view message) {
  edge_log().debug("#{} {} stream {}: {}", id_, peer_, s.id, message);
  auto& req = s.request.request();
  if (s.receiving()) buffered_request_bytes_ -= req.body().size();
  s.phase = Stream::Phase::dispatched;
  std::string().swap(req.body());
  Response res = refuse_early(context_.handler.info(s.route), status, message);
  // The rest of the request is not wanted: once the response is out, the stream is
  // reset with NO_ERROR (RFC 9113 8.1) unless the client ends it soon, see on_frame_sent.
  respond(s, std::move(res));
}

// Held requests (HeldRequest), one per stream

void Http2Session::begin_hold(Stream& s, const Hold& hold) {
  // The wake runs on the publishing thread: it only posts, and holds the session
  // weakly so a waiter never keeps a closed connection alive.
  auto wake = [weak = weak_from_this(), executor = socket_.get_executor(), stream_id = s.id] {
    asio::post(executor, [weak, stream_id] {
      if (auto self = weak.lock()) self->on_publish(stream_id);
    });
  };
  if (!s.timer) s.timer = std::make_unique<asio::steady_timer>(socket_.get_executor());
  const uint64_t generation = ++s.timer_generation;
  const bool held = s.held.begin(hold, std::move(wake), *s.timer,
                                 [self = shared_from_this(), stream_id = s.id, generation](beast::error_code ec) {
                                   if (ec) return;
                                   Stream* s = self->find(stream_id);
                                   if (!s || s->timer_generation != generation) return;
                                   self->on_hold_timeout(stream_id);
                                 });
  // Shutting down: nothing will be published to this edge any more.
  if (!held) return respond(s, context_.handler.expire(exchange(s), hold));
  edge_log().trace("#{} stream {} {} held for up to {} ms", id_, s.id, s.request.request().target(),
                   hold.timeout.count());
  // A publish between routing and registering woke no one; ask again now that
  // every later publish will.
  recheck_hold(s);
}

void Http2Session::recheck_hold(Stream& s) {
  if (!s.held.active() || closed_) return;
  auto response = s.held.recheck(context_.handler, exchange(s));
  if (!response) return;
  ++s.timer_generation;
  respond(s, std::move(*response));
}

void Http2Session::on_publish(int32_t stream_id) {
  Stream* s = find(stream_id);
  if (!s || shut_down_) return;
  recheck_hold(*s);
  flush();
}

void Http2Session::on_hold_timeout(int32_t stream_id) {
  Stream* s = find(stream_id);
  if (!s || !s->held.active() || closed_) return;
  ++s->timer_generation;
  respond(*s, s->held.expire(context_.handler, exchange(*s)));
  flush();
}

void Http2Session::end_hold(Stream& s) {
  if (!s.held.active()) return;
  ++s.timer_generation;
  s.held.end();
}

// An event stream, as SseSession: one event in flight at most

void Http2Session::begin_event_stream(Stream& s, std::shared_ptr<EventSource> source) {
  auto first = source->next(true);
  if (!first) return respond(s, make_error_response(http::status::service_unavailable, "no events"));
  edge_log().debug("#{} {} stream {} opened an event stream", id_, peer_, s.id);
  s.event_state = Stream::Events::sending;
  s.events = std::move(source);
  Response res{http::status::ok, kHttp2Version};
  res.set(http::field::server, kServerName);
  res.set(http::field::content_type, "text/event-stream; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = BytesBody::value_type(shared_text(frame_event(*first, true)));
  respond(s, std::move(res));
  // Until the first event is all sent, the timer is the stall guard.
  arm_stream_timer(s, s.events->write_timeout, &Http2Session::on_event_timer);
}

void Http2Session::on_event_timer(int32_t stream_id) {
  Stream* s = find(stream_id);
  if (!s || closed_) return;
  if (s->event_state != Stream::Events::waiting) {
    // The last event did not leave within the write timeout: the client stopped
    // reading this stream (its flow-control window stayed shut).
    edge_log().debug("#{} {} stream {}: event stream too slow, reset", id_, peer_, stream_id);
    reset_stalled(*s);
    return flush();
  }
  s->event_state = Stream::Events::sending;
  auto event = s->events->next(false);
  if (!event) {
    // The source has ended (its grant was revoked): the stream ends cleanly.
    s->event_state = Stream::Events::none;
    s->events.reset();
    s->body = {};
    s->body_sent = 0;
    expect_taken(*s);
    nghttp2_session_resume_data(session_, stream_id);
    return flush();
  }
  s->body = BytesBody::value_type(shared_text(frame_event(*event, false)));
  s->body_sent = 0;
  nghttp2_session_resume_data(session_, stream_id);
  arm_stream_timer(*s, s->events->write_timeout, &Http2Session::on_event_timer);
  flush();
}

void Http2Session::arm_stream_timer(Stream& s, std::chrono::milliseconds after,
                                    void (Http2Session::*handler)(int32_t)) {
  if (!s.timer) s.timer = std::make_unique<asio::steady_timer>(socket_.get_executor());
  const uint64_t generation = ++s.timer_generation;
  s.timer->expires_after(after);
  s.timer->async_wait([self = shared_from_this(), stream_id = s.id, generation, handler](beast::error_code ec) {
    if (ec) return;
    Stream* s = self->find(stream_id);
    if (!s || s->timer_generation != generation) return;
    (self.get()->*handler)(stream_id);
  });
}

// Sending responses

long Http2Session::next_body_frame(int32_t stream_id, size_t max_length, uint32_t* data_flags) {
  Stream* s = find(stream_id);
  if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  // Its body is gone; the RST_STREAM on its way closes it.
  if (s->phase == Stream::Phase::reset) return NGHTTP2_ERR_DEFERRED;
  const size_t left = s->body.size() - s->body_sent;
  if (left == 0) {
    if (s->event_state != Stream::Events::none) {
      // The event is out: the stream idles until the next one (resume_data).
      s->event_state = Stream::Events::waiting;
      s->body = {};
      s->body_sent = 0;
      arm_stream_timer(*s, s->events->interval, &Http2Session::on_event_timer);
      return NGHTTP2_ERR_DEFERRED;
    }
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  const size_t length = std::min({left, max_length, kDataFramePayload});
  *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (length == left && s->event_state == Stream::Events::none) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<long>(length);
}

int Http2Session::send_body_frame(int32_t stream_id, const uint8_t* frame_header, size_t length) {
  Stream* s = find(stream_id);
  if (!s) return NGHTTP2_ERR_CALLBACK_FAILURE;
  pending_.append_copy(frame_header, kFrameHeaderBytes);
  pending_.append_shared(s->body.data(), s->body.view().substr(s->body_sent, length));
  s->body_sent += length;
  return pending_.size() >= kBatchLimit ? NGHTTP2_ERR_PAUSE : 0;
}

void Http2Session::on_frame_sent(int32_t stream_id, size_t frame_bytes, bool end_stream) {
  Stream* s = find(stream_id);
  if (!s) return;
  s->bytes_out += frame_bytes;
  stream_progress_ = true;
  // An answer before the request was complete (413, 431, 400, 408): what the
  // client still sends is dropped for a while, then the stream is reset.
  if (end_stream && !s->request_ended && s->phase == Stream::Phase::responded) {
    s->phase = Stream::Phase::lingering;
    s->linger_until = Clock::now() + kLingerTime;
    arm_watchdog(s->linger_until);
  }
}

void Http2Session::stop_lingering(Stream& s) {
  s.phase = Stream::Phase::reset;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_NO_ERROR);
}

void Http2Session::expect_taken(Stream& s) {
  s.send_by = Clock::now() + context_.limits.send_timeout(s.body.size() - s.body_sent);
  arm_watchdog(s.send_by);
}

void Http2Session::reset_stalled(Stream& s) {
  edge_log().debug("#{} {} stream {}: {} of {} bytes taken in time, reset", id_, peer_, s.id, s.body_sent,
                   s.body.size());
  context_.stats.h2_stream_stalled();
  s.phase = Stream::Phase::reset;
  // The body (a segment the store may have evicted) is let go now, not when the
  // reset is out: a client that stopped reading may take its time with that too.
  s.body = {};
  s.body_sent = 0;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_CANCEL);
}

bool Http2Session::all_streams_flow_blocked() const {
  if (streams_.empty()) return false;
  const bool connection_open = nghttp2_session_get_remote_window_size(session_) > 0;
  for (const auto& [stream_id, s] : streams_) {
    // A stream still arriving, held, deferred or between events waits for its
    // own deadline or for the server, not for the client's window.
    if (s->phase != Stream::Phase::responded || s->body_sent == s->body.size()) return false;
    if (connection_open && nghttp2_session_get_stream_remote_window_size(session_, stream_id) > 0) return false;
  }
  return true;
}

void Http2Session::on_stream_closed(int32_t stream_id, uint32_t error_code) {
  auto it = stream_entry(stream_id);
  if (it == streams_.end()) return;
  Stream& s = *it->second;
  if (error_code != NGHTTP2_NO_ERROR && s.phase < Stream::Phase::responded)
    edge_log().trace("#{} stream {} reset before its response ({})", id_, stream_id,
                     nghttp2_http2_strerror(error_code));
  finish_stream(s);
  // The order of streams_ means nothing: the last takes the place of the closed one.
  if (it != streams_.end() - 1) *it = std::move(streams_.back());
  streams_.pop_back();
  if (streams_.empty()) {
    idle_since_ = Clock::now();
    arm_watchdog(idle_since_ + idle_timeout());
  }
}

void Http2Session::finish_stream(Stream& s) {
  end_hold(s);
  ++s.timer_generation;
  if (s.timer) s.timer->cancel();
  if (s.receiving()) buffered_request_bytes_ -= s.request.request().body().size();
  const bool answered = s.phase >= Stream::Phase::responded && s.phase != Stream::Phase::closed;
  s.phase = Stream::Phase::closed;
  std::string().swap(s.request.request().body());
  // Counted even when the client reset the stream: the bytes that went out were sent.
  if (answered) {
    context_.stats.response_sent(context_.handler.info(s.route).label, s.status, s.bytes_out);
  }
}

// I/O

// The reactor reports a socket becoming readable once (edge-triggered), so a wait
// is started only after a read found the socket empty (and then costs no system
// call, see fast_path.hpp); otherwise the next read is tried at once, after the
// handlers already queued.
void Http2Session::do_read() {
  if (shut_down_ || reading_ || !nghttp2_session_want_read(session_)) return;
  reading_ = true;
  fast_path::wait_after_would_block(socket_, asio::socket_base::wait_read,
                         beast::bind_front_handler(&Http2Session::on_readable, shared_from_this()));
}

void Http2Session::read_soon() {
  if (shut_down_ || reading_ || !nghttp2_session_want_read(session_)) return;
  reading_ = true;
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->on_readable({}); });
}

void Http2Session::on_readable(beast::error_code ec) {
  reading_ = false;
  if (shut_down_) return;
  if (ec) {
    fail(ec, fmt::format("#{} h2 read", id_));
    return shut_down();
  }
  // What the handshake read past its end comes first.
  if (tls_.has_input() && !decrypt()) return;
  bool drained = false;  // a read found the socket empty
  for (int turn = 0; turn < kReadsPerTurn; ++turn) {
    const size_t bytes = socket_.read_some(asio::buffer(t_ciphertext, kReadBufferSize), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      drained = true;
      break;
    }
    if (ec) {
      fail(ec, fmt::format("#{} h2 read", id_));
      return shut_down();
    }
    tls_.feed(std::string_view(t_ciphertext, bytes));
    if (!decrypt()) return;
    if (bytes < kReadBufferSize) {  // a short read took all there was
      drained = true;
      break;
    }
  }
  // Requests whose header or body is still on its way are cut after the header
  // or read timeout; the watchdog finds the earliest when it fires.
  for (const auto& [stream_id, s] : streams_) {
    if (s->receiving()) {
      arm_watchdog(s->started + std::min(header_timeout(), read_timeout()));
      break;
    }
  }
  flush();
  if (shut_down_) return;
  // A client that sends requests but does not read the answers is not read either.
  if (write_in_flight_ && pending_.size() >= kBatchLimit)
    read_paused_ = true;
  else if (drained)
    do_read();
  else
    read_soon();
}

bool Http2Session::decrypt() {
  for (;;) {
    size_t plain = 0;
    const auto result = tls_.read(t_plaintext, kReadBufferSize, plain);
    if (result == TlsChannel::ReadResult::need_more) return true;
    if (result == TlsChannel::ReadResult::data) {
      if (receive(t_plaintext, plain)) continue;
      flush();  // the GOAWAY
      return false;
    }
    if (result == TlsChannel::ReadResult::failed) edge_log().debug("#{} {} TLS: {}", id_, peer_, tls_.error());
    // A close_notify or a broken record: nothing more can be read. What the
    // alert handling put in the output is not waited for.
    shut_down();
    return false;
  }
}

bool Http2Session::receive(const char* data, size_t size) {
  auto rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), size);
  if (rv >= 0) return true;
  // Not HTTP/2 (a bad preface), a flood of control or CONTINUATION frames, or a
  // failed callback. Ordinary protocol errors never get here: nghttp2 queues
  // their GOAWAY itself.
  edge_log().debug("#{} {} HTTP/2 connection error: {}", id_, peer_, nghttp2_strerror(static_cast<int>(rv)));
  closed_ = true;
  const bool flood = rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
  nghttp2_session_terminate_session(session_, flood ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
  return false;
}

void Http2Session::flush() {
  if (shut_down_ || write_in_flight_) return;
  // What this turn writes is made in the thread's buffers, given back below
  // once all is out; a connection whose socket fills up keeps them until then.
  swap_write_buffers();
  size_t sent = 0;
  for (;;) {
    auto& output = tls_.output();
    if (output_sent_ == output.size()) {
      output.clear();
      output_sent_ = 0;
      if (!encrypt_some()) break;
      continue;
    }
    if (sent >= kSendPerTurn) return wait_writable(output.size() - output_sent_, false);
    beast::error_code ec;
    const size_t n = socket_.write_some(asio::buffer(output.data() + output_sent_, output.size() - output_sent_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      return wait_writable(output.size() - output_sent_, true);
    if (ec) {
      fail(ec, fmt::format("#{} h2 write", id_));
      return shut_down();
    }
    output_sent_ += n;
    sent += n;
  }
  if (shut_down_) return;
  // All is out. A connection with no stream open gives back a big output buffer.
  swap_write_buffers();
  if (streams_.empty() && tls_.output().capacity() > kKeptBatchCapacity) std::string().swap(tls_.output());
  // A connection whose streams all wait for the client's window is idle from
  // the last frame any of them sent.
  if (stream_progress_) {
    stream_progress_ = false;
    idle_since_ = Clock::now();
  }
  if (all_streams_flow_blocked()) arm_watchdog(idle_since_ + idle_timeout());
  if (read_paused_) {
    read_paused_ = false;
    read_soon();
  }
  // Both sides are done: a GOAWAY went out, or the client's did and no stream is left.
  if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) shut_down();
}

bool Http2Session::encrypt_some() {
  while (pending_.size() < kBatchLimit) {
    const uint8_t* data = nullptr;
    auto n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      edge_log().warn("#{} HTTP/2 send: {}", id_, nghttp2_strerror(static_cast<int>(n)));
      shut_down();
      return false;
    }
    if (n == 0) break;
    pending_.append_copy(data, static_cast<size_t>(n));
  }
  if (write_index_ == writing_.buffers().size()) {
    // The batch is encrypted: the bodies it pinned are released.
    writing_.clear();
    write_index_ = write_offset_ = 0;
    if (pending_.empty()) return false;
    pending_.swap(writing_);
  }
  const auto& buffers = writing_.buffers();
  size_t encrypted = 0;
  while (encrypted < kEncryptChunk && write_index_ < buffers.size()) {
    // A record's plaintext: a buffer's next 16 KiB as it is, or pieces gathered.
    std::string_view record;
    const auto& first = buffers[write_index_];
    if (first.size() - write_offset_ >= kRecordBytes) {
      record = std::string_view(static_cast<const char*>(first.data()) + write_offset_, kRecordBytes);
      write_offset_ += kRecordBytes;
      if (write_offset_ == first.size()) {
        ++write_index_;
        write_offset_ = 0;
      }
    } else {
      size_t filled = 0;
      while (filled < kRecordBytes && write_index_ < buffers.size()) {
        const auto& b = buffers[write_index_];
        const size_t take = std::min(b.size() - write_offset_, kRecordBytes - filled);
        std::memcpy(t_record + filled, static_cast<const char*>(b.data()) + write_offset_, take);
        filled += take;
        write_offset_ += take;
        if (write_offset_ == b.size()) {
          ++write_index_;
          write_offset_ = 0;
        }
      }
      record = std::string_view(t_record, filled);
    }
    if (!tls_.write_record(record)) {
      edge_log().debug("#{} {} TLS: {}", id_, peer_, tls_.error());
      shut_down();
      return false;
    }
    encrypted += record.size();
  }
  return true;
}

void Http2Session::swap_write_buffers() {
  struct Spares {
    OutputBatch pending, writing;
    std::string ciphertext;
  };
  thread_local Spares spares;
  if (!pending_.empty() || !writing_.empty() || !tls_.output().empty()) return;
  pending_.swap(spares.pending);
  writing_.swap(spares.writing);
  tls_.output().swap(spares.ciphertext);
}

void Http2Session::wait_writable(size_t unsent, bool socket_full) {
  write_in_flight_ = true;
  write_deadline_ = Clock::now() + (closed_ ? std::chrono::duration_cast<std::chrono::milliseconds>(kGoawayTime)
                                            : context_.limits.send_timeout(unsent));
  arm_watchdog(write_deadline_);
  auto handler = beast::bind_front_handler(&Http2Session::on_writable, shared_from_this());
  // A socket with room makes no edge: Asio's wait re-arms it, so it reports at once.
  if (socket_full)
    fast_path::wait_after_would_block(socket_, asio::socket_base::wait_write, std::move(handler));
  else
    socket_.async_wait(asio::socket_base::wait_write, std::move(handler));
}

void Http2Session::on_writable(beast::error_code ec) {
  write_in_flight_ = false;
  if (shut_down_) return;
  if (ec) {
    fail(ec, fmt::format("#{} h2 write", id_));
    return shut_down();
  }
  flush();
}

void Http2Session::arm_watchdog(Clock::time_point when) {
  if (shut_down_) return;
  if (watchdog_armed_ && watchdog_.expiry() <= when) return;
  watchdog_armed_ = true;
  watchdog_.expires_at(when);
  watchdog_.async_wait(beast::bind_front_handler(&Http2Session::on_watchdog, shared_from_this()));
}

void Http2Session::on_watchdog(beast::error_code ec) {
  if (ec || shut_down_) return;
  const auto now = Clock::now();
  // A wait that completed just as an earlier deadline replaced it; that one is pending.
  if (watchdog_.expiry() > now) return;
  watchdog_armed_ = false;

  auto next = Clock::time_point::max();
  if (write_in_flight_) {
    if (now >= write_deadline_) {
      edge_log().debug("#{} {} HTTP/2 write timed out", id_, peer_);
      return shut_down();
    }
    next = write_deadline_;
  }
  if ((streams_.empty() || all_streams_flow_blocked()) && !write_in_flight_ && !closed_) {
    const auto idle_deadline = idle_since_ + (served_any_ ? idle_timeout() : header_timeout());
    if (now >= idle_deadline) {
      edge_log().trace("#{} idle HTTP/2 connection closed ({} streams waiting for the client's window)", id_,
                       streams_.size());
      closed_ = true;
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      return flush();  // the GOAWAY; the streams end with the connection
    }
    next = std::min(next, idle_deadline);
  }
  // From a request's first frame: the header timeout for its header block, the
  // read timeout for the whole request. A stream whose header is trickled in
  // CONTINUATION frames or whose body never comes does not hold the connection.
  for (auto& [stream_id, s] : streams_) {
    // A response must be taken by its deadline, as on HTTP/1.1: a client that
    // keeps its flow-control window shut does not pin the body for ever.
    if (s->phase == Stream::Phase::responded && s->event_state == Stream::Events::none) {
      if (now >= s->send_by)
        reset_stalled(*s);
      else
        next = std::min(next, s->send_by);
      continue;
    }
    if (s->phase == Stream::Phase::lingering) {
      if (now >= s->linger_until)
        stop_lingering(*s);
      else
        next = std::min(next, s->linger_until);
      continue;
    }
    if (!s->receiving()) continue;
    const bool header_done = s->phase == Stream::Phase::body;
    const auto deadline = s->started + (header_done ? read_timeout() : header_timeout());
    if (now < deadline) {
      next = std::min(next, deadline);
    } else if (header_done) {
      respond_early(*s, http::status::request_timeout, "request not complete within the read timeout");
    } else {
      // Nothing can be answered before the header block is complete (HPACK state).
      edge_log().debug("#{} {} stream {}: header not complete in time", id_, peer_, stream_id);
      closed_ = true;
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      break;
    }
  }
  flush();
  if (next != Clock::time_point::max()) arm_watchdog(next);
}

std::chrono::milliseconds Http2Session::header_timeout() const {
  return context_.limits.header_timeout();
}

std::chrono::milliseconds Http2Session::idle_timeout() const {
  return context_.limits.idle_timeout();
}

std::chrono::milliseconds Http2Session::read_timeout() const {
  return context_.limits.read_timeout();
}

uint32_t Http2Session::max_header_bytes() const {
  return context_.limits.max_header_bytes();
}

uint64_t Http2Session::max_body_bytes() const {
  return context_.limits.max_body_bytes();
}

uint64_t Http2Session::body_limit(size_t route) const {
  const uint64_t route_limit = context_.handler.info(route).max_body_bytes;
  return route_limit ? route_limit : max_body_bytes();
}

void Http2Session::shut_down() {
  if (shut_down_) return;
  shut_down_ = true;
  closed_ = true;
  watchdog_.cancel();
  for (auto& [stream_id, s] : streams_) {
    end_hold(*s);
    ++s->timer_generation;
    if (s->timer) s->timer->cancel();
  }
  // No TLS close_notify: after a GOAWAY (or an error) the client expects nothing more.
  beast::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace relay::net
