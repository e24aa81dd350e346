#pragma once
// The Q&A database's connection as /api/health and /metrics show it: a shared
// PostgreSQL database may be out of reach for a while (restart, failover),
// during which writes answer 503 and the relay is degraded (qa_database).
#include <cstdint>
#include <string>

namespace relay::health {

struct QaDatabaseStatus {
  std::string engine = "sqlite";  // "sqlite" | "postgresql"
  bool ok = true;
  std::string problem;   // why not; never a password
  int64_t since_ms = 0;  // when it went wrong
};

}  // namespace relay::health
