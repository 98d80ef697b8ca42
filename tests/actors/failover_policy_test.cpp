// failover_policy on a fake clock: bans that double and clear, a bounded retry budget
// with backoff and seeded jitter.
#include "actors/failover_policy.hpp"

#include <gtest/gtest.h>

namespace corolla {
namespace {

using namespace std::chrono_literals;
using time_point = failover_policy::time_point;

failover_settings settings() {
  failover_settings s;
  s.ban_base = 1000ms;
  s.ban_max = 5000ms;
  s.attempts = 5;
  s.backoff_base = 100ms;
  s.backoff_max = 300ms;
  s.jitter = 0.25;
  return s;
}

TEST(FailoverPolicy, BansDoubleWithRepeatedFailuresUpToTheCapAndSuccessClearsTheCount) {
  failover_policy p(settings(), 1);
  const time_point t0{};
  EXPECT_EQ(p.server_failed(7, t0), t0 + 1000ms);
  EXPECT_TRUE(p.banned(7, t0 + 999ms));
  EXPECT_FALSE(p.banned(7, t0 + 1000ms));
  EXPECT_FALSE(p.banned(8, t0));
  EXPECT_EQ(p.server_failed(7, t0 + 1000ms), t0 + 3000ms);   // 2 s
  EXPECT_EQ(p.server_failed(7, t0 + 3000ms), t0 + 7000ms);   // 4 s
  EXPECT_EQ(p.server_failed(7, t0 + 7000ms), t0 + 12000ms);  // 8 s, capped at 5 s
  EXPECT_EQ(p.failures(7), 4);
  EXPECT_EQ(p.banned_servers(t0 + 8000ms), std::vector<uint64_t>{7});

  p.server_succeeded(7);
  EXPECT_EQ(p.failures(7), 0);
  EXPECT_EQ(p.server_failed(7, t0 + 20000ms), t0 + 21000ms);  // back to the first ban
}

TEST(FailoverPolicy, ServersAreBannedIndependently) {
  failover_policy p(settings(), 1);
  const time_point t0{};
  p.server_failed(1, t0);
  p.server_failed(2, t0 + 500ms);
  EXPECT_EQ(p.banned_servers(t0 + 900ms), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(p.banned_servers(t0 + 1200ms), std::vector<uint64_t>{2});
  EXPECT_TRUE(p.banned_servers(t0 + 1500ms).empty());
}

TEST(FailoverPolicy, TheRetryBudgetIsBoundedBacksOffWithJitterAndComesBackAfterASuccess) {
  failover_policy p(settings(), 42);
  std::vector<std::chrono::milliseconds> waits;
  while (auto w = p.next_attempt()) waits.push_back(*w);
  ASSERT_EQ(waits.size(), 5u);
  EXPECT_EQ(waits[0], 0ms);
  const std::chrono::milliseconds nominal[] = {0ms, 100ms, 200ms, 300ms, 300ms};
  for (size_t i = 1; i < waits.size(); ++i) {
    EXPECT_GE(waits[i].count(), nominal[i].count() * 0.75) << i;
    EXPECT_LE(waits[i].count(), nominal[i].count() * 1.25) << i;
  }
  EXPECT_FALSE(p.next_attempt());
  p.step_succeeded();
  EXPECT_EQ(p.next_attempt(), 0ms);

  // The same seed waits the same; another seed spreads differently.
  failover_policy same(settings(), 42), other(settings(), 43);
  std::vector<std::chrono::milliseconds> a, b;
  while (auto w = same.next_attempt()) a.push_back(*w);
  while (auto w = other.next_attempt()) b.push_back(*w);
  EXPECT_EQ(a, waits);
  EXPECT_NE(b, waits);
}

}  // namespace
}  // namespace corolla
