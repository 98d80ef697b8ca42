// min_latency routing on hand-worked cases.
#include "actors/route_planner.hpp"

#include <gtest/gtest.h>

namespace corolla {
namespace {

TEST(RoutePlanner, PrefersOneServerOverTwoWhenRoundTripsDominate) {
  // A covers everything slowly; B and C split it faster but cost two round trips.
  const std::vector<route_candidate> c = {
      {1, 0, 4, 10.0, 1.0}, {2, 0, 2, 10.0, 0.5}, {3, 2, 4, 10.0, 0.5}};
  auto route = plan_min_latency_route(c, 0, 4);
  ASSERT_TRUE(route);
  EXPECT_EQ(*route, (std::vector<planned_hop>{{1, 0, 4}}));  // 14 ms against 22
}

TEST(RoutePlanner, SplitsWhenComputeDominates) {
  const std::vector<route_candidate> c = {
      {1, 0, 4, 1.0, 10.0}, {2, 0, 2, 1.0, 1.0}, {3, 2, 4, 1.0, 1.0}};
  auto route = plan_min_latency_route(c, 0, 4);
  ASSERT_TRUE(route);
  EXPECT_EQ(*route, (std::vector<planned_hop>({{2, 0, 2}, {3, 2, 4}})));
}

TEST(RoutePlanner, EntersASpanInTheMiddleAndLeavesEarly) {
  // Only blocks [1, 3) are asked for; server 1 serves [0, 4).
  const std::vector<route_candidate> c = {{1, 0, 4, 1.0, 1.0}};
  auto route = plan_min_latency_route(c, 1, 3);
  ASSERT_TRUE(route);
  EXPECT_EQ(*route, (std::vector<planned_hop>{{1, 1, 3}}));
}

TEST(RoutePlanner, OverlappingSpansHandOverAtTheCheapestBoundary) {
  // A [0, 3) is fast, B [1, 5) is slow: use A as far as it goes.
  const std::vector<route_candidate> c = {{1, 0, 3, 1.0, 1.0}, {2, 1, 5, 1.0, 5.0}};
  auto route = plan_min_latency_route(c, 0, 5);
  ASSERT_TRUE(route);
  EXPECT_EQ(*route, (std::vector<planned_hop>({{1, 0, 3}, {2, 3, 5}})));
}

TEST(RoutePlanner, EqualCostsGoToFewerHopsThenToTheLowerId) {
  const std::vector<route_candidate> c = {{7, 0, 2, 1.0, 1.0}, {4, 0, 2, 1.0, 1.0}};
  auto route = plan_min_latency_route(c, 0, 2);
  ASSERT_TRUE(route);
  EXPECT_EQ(*route, (std::vector<planned_hop>{{4, 0, 2}}));
}

TEST(RoutePlanner, AnUncoveredBlockMeansNoRoute) {
  const std::vector<route_candidate> c = {{1, 0, 2, 1.0, 1.0}, {2, 3, 5, 1.0, 1.0}};
  EXPECT_FALSE(plan_min_latency_route(c, 0, 5));
  EXPECT_FALSE(plan_min_latency_route({}, 0, 1));
  EXPECT_FALSE(plan_min_latency_route(c, 2, 2));
}

TEST(RoutePlanner, NeverSplitsAHopOnOneServerWhateverTheRounding) {
  // With rtt 0 and an inexact compute time, 1 + 2 blocks can round below 3 blocks; the
  // route must still use the server once. Every split of 5 blocks is tried.
  for (double ms : {0.1, 0.0123456789, 1.0 / 3.0, 0.7, 12.345}) {
    const auto route = plan_min_latency_route({{7, 0, 5, 0.0, ms}}, 0, 5);
    ASSERT_TRUE(route);
    EXPECT_EQ(*route, (std::vector<planned_hop>{{7, 0, 5}})) << ms;
  }
}

}  // namespace
}  // namespace corolla
