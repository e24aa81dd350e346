#pragma once
// The Q&A store's engines as the unit tests meet them: SQLite always, on a file
// in a temporary folder, and PostgreSQL when RELAY_TEST_POSTGRES names a server
// (ctest's unit_qa_postgres starts one: tests/integration/pg_cluster.py run).
// Each test gets an empty database of its own: a fresh schema on the server
// (search_path in the URI), dropped when the test ends.
#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "qa/store.hpp"

namespace relay::qa::testing {

// RELAY_TEST_POSTGRES's password, from RELAY_TEST_POSTGRES_PASSWORD_FILE (empty: libpq's own sources).
inline std::string postgres_test_password() {
  const char* file = std::getenv("RELAY_TEST_POSTGRES_PASSWORD_FILE");
  if (!file || !*file) return {};
  std::ifstream in(file);
  std::string password;
  std::getline(in, password);
  return password;
}

inline bool postgres_available() {
  const char* uri = std::getenv("RELAY_TEST_POSTGRES");
  return uri && *uri;
}

// A superuser connection for setting up and breaking things, not the code under test.
class PostgresAdmin {
 public:
  explicit PostgresAdmin(const std::string& uri) {
    const std::string password = postgres_test_password();
    const char* keys[] = {"dbname", password.empty() ? nullptr : "password", nullptr};
    const char* values[] = {uri.c_str(), password.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string reason = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error("test admin connection: " + reason);
    }
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  }
  ~PostgresAdmin() { PQfinish(conn_); }
  PostgresAdmin(const PostgresAdmin&) = delete;
  PostgresAdmin& operator=(const PostgresAdmin&) = delete;

  // Runs `sql`; the first column of the first row, if any.
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      std::string reason = PQresultErrorMessage(result);
      PQclear(result);
      throw std::runtime_error("test admin: " + sql + ": " + reason);
    }
    std::string value = PQntuples(result) > 0 && PQnfields(result) > 0 ? PQgetvalue(result, 0, 0) : "";
    PQclear(result);
    return value;
  }

 private:
  PGconn* conn_ = nullptr;
};

// `uri` with its database part replaced by `dbname` and `query` (e.g. "?options=...").
inline std::string postgres_uri_with(const std::string& uri, const std::string& dbname, const std::string& query = "") {
  const auto authority = uri.find("://");
  const auto path = uri.find('/', authority == std::string::npos ? 0 : authority + 3);
  std::string base = path == std::string::npos ? uri.substr(0, uri.find('?')) : uri.substr(0, path);
  return base + "/" + dbname + query;
}

inline std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}();
  return prefix + std::to_string(salt % 100000) + "_" + std::to_string(++counter);
}

// An empty schema on the test server, reached through the URI's search_path;
// dropped (with everything in it) on destruction.
class PostgresTestSchema {
 public:
  PostgresTestSchema() : base_(std::getenv("RELAY_TEST_POSTGRES")), name_(unique_name("qa_test_")) {
    PostgresAdmin(base_).exec("CREATE SCHEMA " + name_);
    const auto path = base_.find('/', base_.find("://") + 3);
    const std::string dbname = path == std::string::npos ? "" : base_.substr(path + 1, base_.find('?') - path - 1);
    uri = postgres_uri_with(base_, dbname, "?options=-csearch_path%3D" + name_);
  }
  ~PostgresTestSchema() {
    try {
      PostgresAdmin(base_).exec("DROP SCHEMA " + name_ + " CASCADE");
    } catch (...) {
    }
  }
  PostgresTestSchema(const PostgresTestSchema&) = delete;
  PostgresTestSchema& operator=(const PostgresTestSchema&) = delete;

  std::string uri;

 private:
  std::string base_;
  std::string name_;
};

// One engine's empty database for a test, and stores opened on it.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& engine) : engine_(engine) {
    if (engine == "postgres") {
      schema_ = std::make_unique<PostgresTestSchema>();
    } else {
      std::random_device random;
      dir_ = std::filesystem::temp_directory_path() / ("relay-store-test-" + std::to_string(random()));
      std::filesystem::create_directories(dir_);
    }
  }
  ~TestDatabase() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& engine() const { return engine_; }
  bool shared() const { return engine_ == "postgres"; }
  // A store on this database (SQLite: one at a time, the file is locked).
  std::unique_ptr<Store> open() const {
    if (schema_) return open_postgres_store(schema_->uri, postgres_test_password());
    return open_sqlite_store((dir_ / "qa.sqlite3").string(), true);
  }
  const std::string& postgres_uri() const { return schema_->uri; }

 private:
  std::string engine_;
  std::filesystem::path dir_;
  std::unique_ptr<PostgresTestSchema> schema_;
};

// The engines this run covers: "sqlite", and "postgres" when a server is given.
inline std::vector<std::string> test_engines() {
  std::vector<std::string> engines{"sqlite"};
  if (postgres_available()) engines.push_back("postgres");
  return engines;
}

}  // namespace relay::qa::testing
