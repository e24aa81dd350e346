// HTTP/1.1 requests as they come off a socket: Beast's parser with the edge's
// default limits, then what the session does with a parsed request: the route
// table with the health API and the router on a store holding two Low-Latency
// renditions (the Q&A has its own target, qa_api.cpp), and the response
// serialized as it would be sent.
// The target, the LL-HLS delivery directives (_HLS_msn, _HLS_part, _HLS_skip)
// and the Range header are also parsed directly, with the properties their
// callers rely on checked.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/log.hpp"
#include "net/byte_range.hpp"
#include "delivery/delivery_directives.hpp"
#include "api/health_api.hpp"
#include "api/route_table.hpp"
#include "auth/authority.hpp"
#include "net/request_target.hpp"
#include "delivery/router.hpp"
#include "net/stats.hpp"
#include "fuzz_check.hpp"
#include "health/monitor.hpp"
#include "ll_snapshot.hpp"

namespace http = boost::beast::http;
namespace fs = std::filesystem;
using namespace relay;

namespace {

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

struct Edge {
  fs::path root = fs::temp_directory_path() / ("relay-fuzz-http-" + std::to_string(::getpid()));
  config::Config cfg;
  hls::Store store{{"720p", "360p"}};
  health::IngestStatus ingest{"test:"};
  delivery::StaticFiles files;
  std::unique_ptr<health::Monitor> monitor;
  std::unique_ptr<delivery::Router> router;
  net::StatsCounters stats;
  health::QoeAggregator qoe;
  std::unique_ptr<auth::Authority> authority;
  std::unique_ptr<api::HealthApi> health;
  std::unique_ptr<api::RouteTable> routes;

  Edge() {
    log::set_level("off");
    write_file(root / "web" / "index.html", "<!doctype html><title>t</title>");
    write_file(root / "web" / "player.js", std::string(3000, 'j'));
    write_file(root / "web" / "img" / "logo.svg", "<svg/>");
    write_file(root / "node_modules" / "hls.js" / "dist" / "hls.min.js", "var Hls=1;");
    files = delivery::StaticFiles::load(root / "web", root / "node_modules");
    cfg.edge.cors_origins = {"https://seminar.example"};
    cfg.qa.data_dir = root / "data";
    cfg.qa.technician_tokens = {"technician-token"};
    monitor = std::make_unique<health::Monitor>(cfg, 1'700'000'000'000);
    store.set_master(hls::make_bytes("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2800000\n720p/index.m3u8\n"));
    store.publish(0, test::make_ll_snapshot("720p", 7, 3, 2));
    store.publish(1, test::make_ll_snapshot("360p", 1, 0, 0));
    router = std::make_unique<delivery::Router>(cfg, store, ingest, files);
    authority = std::make_unique<auth::Authority>(cfg.qa);
    health = std::make_unique<api::HealthApi>(cfg, store, ingest, stats, monitor.get(), qoe, *authority);
    routes = std::make_unique<api::RouteTable>(cfg.edge, *router, nullptr, health.get());
  }
  ~Edge() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

void check_target(std::string_view text) {
  net::RequestTarget target = net::parse_request_target(text);
  if (!target.ok()) {
    FUZZ_CHECK(target.path.empty());
    return;
  }
  FUZZ_CHECK(!target.path.empty() && target.path.front() == '/');
  FUZZ_CHECK(target.path.find('\0') == std::string::npos && target.path.find('\\') == std::string::npos);
  std::string_view path = target.path;
  for (size_t start = 0; start <= path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    FUZZ_CHECK(path.substr(start, end - start) != "..");
    start = end + 1;
  }
  delivery::DeliveryDirectives directives = delivery::parse_delivery_directives(target.query);
  if (directives.ok() && directives.part) FUZZ_CHECK(directives.msn.has_value());
}

void check_range(std::string_view header) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, UINT64_MAX}) {
    net::RangeRequest r = net::parse_byte_range(header, size);
    if (r.kind == net::RangeRequest::satisfiable) FUZZ_CHECK(r.range.first <= r.range.last && r.range.last < size);
  }
}

void send(net::Response res) {
  res.prepare_payload();
  std::ostringstream out;
  out << res;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Edge edge;
  const std::string_view input = fuzz::as_text(data, size);
  check_target(input);
  delivery::parse_delivery_directives(input);
  check_range(input);

  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(edge.cfg.edge.max_header_bytes));
  parser.body_limit(static_cast<uint64_t>(edge.cfg.edge.max_body_bytes));
  boost::system::error_code ec;
  size_t used = 0;
  while (used < size && !parser.is_done()) {
    size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;

  const net::Request& req = parser.get();
  check_target(req.target());
  check_range(req[http::field::range]);

  const net::RequestTarget target = net::parse_request_target(req.target());
  const net::Exchange exchange{req, target, "10.0.0.1", edge.routes->route(req.target())};
  net::Outcome outcome = edge.routes->handle(exchange);
  if (auto* response = std::get_if<net::Response>(&outcome)) {
    net::finish(req, *response);
    send(std::move(*response));
  } else if (auto* hold = std::get_if<net::Hold>(&outcome)) {
    send(edge.routes->expire(exchange, *hold));
  }
  return 0;
}
