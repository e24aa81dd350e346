#include <catch2/catch.hpp>

#include "qa/rate_limit.hpp"

using relay::qa::RateLimiter;

TEST_CASE("a token bucket allows the burst, then the refill rate", "[qa][rate]") {
  RateLimiter limiter(6, 3);  // one token per 10 s, three at once
  CHECK(limiter.take("a", 0) == 0);
  CHECK(limiter.take("a", 0) == 0);
  CHECK(limiter.take("a", 0) == 0);
  CHECK(limiter.take("a", 0) == 10000);  // empty: the next token in 10 s
  CHECK(limiter.take("b", 0) == 0);      // buckets are per key
  CHECK(limiter.take("a", 4000) == 6000);
  CHECK(limiter.take("a", 10000) == 0);
  CHECK(limiter.take("a", 10000) > 0);
  // A long pause refills to the burst, not beyond.
  CHECK(limiter.take("a", 1000000) == 0);
  CHECK(limiter.take("a", 1000000) == 0);
  CHECK(limiter.take("a", 1000000) == 0);
  CHECK(limiter.take("a", 1000000) > 0);
}

TEST_CASE("full buckets are pruned", "[qa][rate]") {
  RateLimiter limiter(60, 2);
  limiter.take("a", 0);
  limiter.take("b", 0);
  limiter.take("b", 0);
  CHECK(limiter.size() == 2);
  limiter.prune(1000);  // a is full again, b has one token
  CHECK(limiter.size() == 1);
  limiter.prune(2000);
  CHECK(limiter.size() == 0);
}
