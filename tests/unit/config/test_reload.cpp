#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/reload.hpp"

using relay::config::Config;
using relay::config::keys_needing_restart;
using relay::config::parse_config;

TEST_CASE("limits, TLS files, tokens and alert rules reload live; ports, ladder and source need a restart",
          "[config][reload]") {
  const Config running = parse_config("", "relay.toml");
  CHECK(keys_needing_restart(running, running).empty());

  const Config live = parse_config(R"(
[edge]
header_timeout_s = 3
idle_timeout_s = 5
read_timeout_s = 4
max_header_bytes = 2048
max_body_bytes = 1024
max_connections = 10
max_connections_per_ip = 2
shutdown_grace_s = 1
tls_cert_file = "renewed/fullchain.pem"
tls_key_file = "renewed/privkey.pem"
[log]
level = "debug"
[qa]
moderator_tokens = ["a-new-moderator-token"]
[health]
input_lost_hold_s = 1
)",
                                   "relay.toml");
  CHECK(keys_needing_restart(running, live).empty());

  const Config restart = parse_config(R"(
[edge]
listen = "127.0.0.1:9999"
[ingest]
source = "srt://127.0.0.1:9000?mode=listener"
[[encoder.renditions]]
name = "360p"
width = 640
height = 360
bitrate_kbps = 600
)",
                                      "relay.toml");
  CHECK(keys_needing_restart(running, restart) ==
        std::vector<std::string>{"edge.listen", "ingest.source", "encoder.renditions"});
}

TEST_CASE("[scale]: a new order or TTL of the same pathways reloads; other pathways or address need a restart",
          "[config][reload]") {
  const std::string a = "{id=\"cache-a\", base_url=\"https://a.example.org/\"}";
  const std::string b = "{id=\"cache-b\", base_url=\"https://b.example.org/\"}";
  const Config running = parse_config("[scale]\npathways = [" + a + ", " + b + "]\n", "relay.toml");
  CHECK(keys_needing_restart(running, parse_config("[scale]\npathways = [" + b + ", " + a + "]\nsteering_ttl_s = 4\n",
                                                   "relay.toml"))
            .empty());
  const std::string c = "{id=\"cache-b\", base_url=\"https://c.example.org/\"}";
  CHECK(keys_needing_restart(running, parse_config("[scale]\npathways = [" + a + ", " + c + "]\n", "relay.toml")) ==
        std::vector<std::string>{"scale.pathways"});
  CHECK(keys_needing_restart(running, parse_config("[scale]\npathways = [" + a + ", " + b +
                                                   "]\nsteering_uri = \"https://o.example.org/s.json\"\n",
                                                   "relay.toml")) == std::vector<std::string>{"scale.steering_uri"});
}
