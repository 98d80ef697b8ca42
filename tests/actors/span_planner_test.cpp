// span_planner against brute force on small random swarms (seed printed), on
// hand-worked cases, and against memory-proportional splits.
#include "actors/span_planner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <numeric>
#include <random>

#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

constexpr int64_t mib = 1 << 20;

plan_node node(const std::string& name, int64_t blocks_of_memory, double throughput,
               int64_t start = 0, int64_t end = 0) {
  return plan_node{name, blocks_of_memory * mib, throughput, start, end};
}

// The best bottleneck over every count vector (0 when none covers).
double brute_force_bottleneck(const std::vector<plan_node>& nodes, int64_t n_blocks) {
  double best = 0;
  std::vector<int64_t> counts(nodes.size(), 0);
  std::function<void(size_t, int64_t)> extend = [&](size_t i, int64_t left) {
    if (i == nodes.size()) {
      if (left == 0) best = std::max(best, bottleneck_of(nodes, counts, n_blocks, mib));
      return;
    }
    for (int64_t k = 0; k <= left; ++k) {
      counts[i] = k;
      extend(i + 1, left - k);
    }
    counts[i] = 0;
  };
  extend(0, n_blocks);
  return best;
}

TEST(SpanPlanner, BlockCountsAreOptimalAgainstBruteForce) {
  const uint64_t seed = testing::test_seed();
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n_blocks = 1 + int64_t(rng() % 9);
    std::vector<plan_node> nodes;
    for (size_t i = 0, count = 1 + rng() % 4; i < count; ++i) {
      nodes.push_back(node("n" + std::to_string(i), int64_t(rng() % 7),
                           double(1 + rng() % 50) / double(1 + rng() % 3)));
    }
    const double expected = brute_force_bottleneck(nodes, n_blocks);
    auto counts = best_block_counts(nodes, n_blocks, mib);
    SCOPED_TRACE("trial " + std::to_string(trial));
    if (expected == 0) {
      EXPECT_FALSE(counts);
      continue;
    }
    ASSERT_TRUE(counts);
    EXPECT_EQ(bottleneck_of(nodes, *counts, n_blocks, mib), expected);
    auto proportional = memory_proportional_counts(nodes, n_blocks, mib);
    ASSERT_TRUE(proportional);
    EXPECT_LE(bottleneck_of(nodes, *proportional, n_blocks, mib), expected);
  }
}

TEST(SpanPlanner, AFastNodeTakesMoreThanItsShareOfMemory) {
  // Same memory, ten times the speed: by memory 4 + 4 blocks (the slow node sets the
  // pace at 10 / 4 = 2.5); the plan gives the fast node all 8 (100 / 8 = 12.5), since
  // any block on the slow one would cost more than that.
  const std::vector<plan_node> nodes = {node("fast", 16, 100), node("slow", 16, 10)};
  auto counts = best_block_counts(nodes, 8, mib);
  ASSERT_TRUE(counts);
  EXPECT_EQ(*counts, (std::vector<int64_t>{8, 0}));
  EXPECT_DOUBLE_EQ(bottleneck_of(nodes, *counts, 8, mib), 12.5);
  auto proportional = memory_proportional_counts(nodes, 8, mib);
  EXPECT_EQ(*proportional, (std::vector<int64_t>{4, 4}));
  EXPECT_DOUBLE_EQ(bottleneck_of(nodes, *proportional, 8, mib), 2.5);
  // Memory binds: the fast node holds 5 blocks, the slow one must take 3.
  const std::vector<plan_node> small = {node("fast", 5, 100), node("slow", 16, 10)};
  EXPECT_EQ(*best_block_counts(small, 8, mib), (std::vector<int64_t>{5, 3}));
  EXPECT_FALSE(best_block_counts({node("a", 3, 1), node("b", 4, 1)}, 8, mib));
}

TEST(SpanPlanner, TheAssignmentIsMaximalAgainstEveryPermutation) {
  std::mt19937_64 rng(testing::test_seed());
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 6;
    std::vector<std::vector<double>> w(n, std::vector<double>(n));
    for (auto& row : w) {
      for (double& x : row) x = double(rng() % 20) - (rng() % 5 == 0 ? 1e6 : 0);
    }
    std::vector<size_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    double best = -1e18;
    do {
      double total = 0;
      for (size_t i = 0; i < n; ++i) total += w[i][perm[i]];
      best = std::max(best, total);
    } while (std::next_permutation(perm.begin(), perm.end()));
    const std::vector<size_t> got = max_weight_assignment(w);
    std::vector<size_t> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);  // a permutation
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += w[i][got[i]];
    EXPECT_EQ(total, best) << "trial " << trial;
  }
}

TEST(SpanPlanner, PlacingSpansKeepsLoadedBlocksWhereThePaceAllows) {
  // b serves [0, 11) and a [11, 22) now; an even plan keeps all 22 blocks in place even
  // though the nodes are listed a first.
  const std::vector<plan_node> two = {node("a", 32, 100, 11, 22), node("b", 32, 100, 0, 11)};
  span_plan plan = place_spans(two, {11, 11}, 22, mib);
  EXPECT_EQ(plan.blocks_kept, 22);
  ASSERT_EQ(plan.spans.size(), 2u);
  EXPECT_EQ(plan.spans[0].node, 1u);
  EXPECT_EQ(plan.spans[1].node, 0u);

  // A third node joins: the best counts are 8/7/7 or so; blocks stay where they can.
  std::vector<plan_node> three = two;
  three.push_back(node("c", 32, 100));
  auto counts = best_block_counts(three, 22, mib);
  ASSERT_TRUE(counts);
  plan = place_spans(three, *counts, 22, mib);
  EXPECT_DOUBLE_EQ(plan.bottleneck, 100.0 / 8);
  int64_t covered = 0;
  for (const planned_span& s : plan.spans) {
    EXPECT_EQ(s.start, covered);
    covered = s.end;
  }
  EXPECT_EQ(covered, 22);
  EXPECT_GE(plan.blocks_kept, 14);  // b keeps 7 or 8 of [0, 11), a 7 or 8 of [11, 22)
}

}  // namespace
}  // namespace corolla
