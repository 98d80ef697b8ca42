// team_policy on made-up timings: it settles on the faster team size and looks again.
#include "kernels/team_policy.hpp"

#include <gtest/gtest.h>

namespace corolla {
namespace {

// Runs `epochs` epochs of `regions` regions, each region costing what `cost` says for
// the team size the policy picked; returns how many epochs ran on one thread.
template <class Cost>
int run(team_policy& p, int epochs, int regions, Cost cost) {
  int single = 0;
  for (int e = 0; e < epochs; ++e) {
    const int threads = p.threads(2);
    single += threads == 1;
    for (int r = 0; r < regions; ++r) p.record(threads, 2, cost(threads), 1000.0);
  }
  return single;
}

TEST(TeamPolicy, StartsWithEveryThreadAndKeepsThemWhenTheyAreFaster) {
  team_policy p(4, 8);
  EXPECT_EQ(p.threads(2), 2);
  const int single = run(p, 60, 4, [](int t) { return t == 2 ? 600.0 : 1000.0; });
  EXPECT_EQ(p.threads(2), 2);
  // One epoch to measure one thread, then one in eight to look again.
  EXPECT_LE(single, 1 + 60 / 8);
  EXPECT_NEAR(p.ns_per_work(1), 0.6, 1e-9);
  EXPECT_NEAR(p.ns_per_work(0), 1.0, 1e-9);
}

TEST(TeamPolicy, MovesToOneThreadWhenACoreIsTakenAndBackWhenItIsFreed) {
  team_policy p(4, 8);
  run(p, 16, 4, [](int t) { return t == 2 ? 600.0 : 1000.0; });
  // Another process takes a core: the team of two now waits for its slow member.
  const int single_busy = run(p, 60, 4, [](int t) { return t == 2 ? 3000.0 : 1000.0; });
  EXPECT_GE(single_busy, 60 - 60 / 8 - 2);
  // The core is free again: the next look (within 8 epochs) finds the team faster, and
  // from then on only the looks back at one thread run on one.
  const int single_free = run(p, 24, 4, [](int t) { return t == 2 ? 600.0 : 1000.0; });
  EXPECT_LE(single_free, 8 + 24 / 8);
}

TEST(TeamPolicy, OneAllowedThreadIsAlwaysOne) {
  team_policy p(1, 1);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(p.threads(1), 1);
    p.record(1, 1, 1.0, 1.0);
  }
  EXPECT_EQ(p.ns_per_work(0), 0.0);
}

TEST(TeamPolicy, ARegionOnAnotherTeamSizeIsNotCounted) {
  team_policy p(1, 4);
  p.record(1, 2, 5.0, 1.0);  // the policy had asked for 2
  EXPECT_EQ(p.ns_per_work(0), 0.0);
  EXPECT_EQ(p.threads(2), 2);
}

}  // namespace
}  // namespace corolla
