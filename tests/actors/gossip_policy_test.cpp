// gossip_policy: rumors that go cold, bucket sums that depend on sets, refreshes and TTLs
// that grow with the swarm; and the gossip simulator driving it (bench/gossip_sim.hpp):
// joins and deaths reach every replica, within the byte budget, through lost messages.
#include "actors/gossip_policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "bench/gossip_sim.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

TEST(GossipRumors, AnEntryIsOfferedForItsRoundsThenGoesCold) {
  gossip_rumors rumors(3);
  rumors.heard({7, 2, false});
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(rumors.hot().size(), 1u) << "round " << round;
    // Hearing the same entry again does not restart its rounds.
    rumors.heard({7, 2, false});
    rumors.round_done();
  }
  EXPECT_TRUE(rumors.hot().empty());
}

TEST(GossipRumors, ANewerVersionOrADeathReplacesAnOlderRumor) {
  gossip_rumors rumors(2);
  rumors.heard({1, 5, false});
  rumors.heard({1, 4, false});
  ASSERT_EQ(rumors.hot().size(), 1u);
  EXPECT_EQ(rumors.hot()[0].version, 5u);
  rumors.heard({1, 5, true});
  EXPECT_TRUE(rumors.hot()[0].dead);
  rumors.heard({1, 5, false});
  EXPECT_TRUE(rumors.hot()[0].dead) << "a death is not undone by the version it killed";
  rumors.heard({1, 6, false});
  EXPECT_FALSE(rumors.hot()[0].dead) << "the owner's next version revives the server";
}

TEST(BucketSums, DependOnTheSetNotTheOrderAndFindTheDifferingBucket) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::pair<uint64_t, uint64_t>> pairs;
  for (int i = 0; i < 500; ++i) pairs.push_back({rng(), rng() % 50 + 1});
  bucket_sums a(64), b(64);
  for (const auto& [id, v] : pairs) a.toggle(id, v);
  std::shuffle(pairs.begin(), pairs.end(), rng);
  for (const auto& [id, v] : pairs) b.toggle(id, v);
  EXPECT_EQ(a.sums(), b.sums());
  EXPECT_TRUE(a.differing(b.sums(), 64, rng).empty());
  // One server's newer version in b: exactly its bucket differs.
  const auto [id, v] = pairs[17];
  b.toggle(id, v);
  b.toggle(id, v + 1);
  const std::vector<int> differ = a.differing(b.sums(), 64, rng);
  ASSERT_EQ(differ.size(), 1u);
  EXPECT_EQ(differ[0], a.bucket_of(id));
  // Another bucket count (a peer with other settings): every bucket differs, up to `most`.
  EXPECT_EQ(a.differing(std::vector<uint64_t>(8, 0), 5, rng).size(), 5u);
}

TEST(GossipSettings, RefreshesSlowDownWithTheSwarmToStayWithinTheBudget) {
  gossip_settings s;
  EXPECT_EQ(refresh_interval(3, s), s.period);
  EXPECT_EQ(record_ttl(3, s), s.min_ttl);
  const double per_refresh = s.record_bytes + 2.0 * s.rumor_rounds * gossip_entry_bytes;
  for (size_t n : {100u, 1000u, 10000u}) {
    const double seconds = double(refresh_interval(n, s).count()) / 1000.0;
    EXPECT_LE(double(n) * per_refresh / seconds, s.refresh_budget * 1.001) << n << " servers";
    EXPECT_EQ(record_ttl(n, s), 4 * refresh_interval(n, s));
  }
}

TEST(PickDistinct, GivesDistinctIndexesInRange) {
  std::mt19937_64 rng(testing::test_seed());
  for (size_t n : {1u, 3u, 10u, 10000u}) {
    for (size_t k : {0u, 1u, 3u, 9u}) {
      const std::vector<size_t> picked = pick_distinct(n, k, rng);
      EXPECT_EQ(picked.size(), std::min(n, k));
      EXPECT_EQ(std::set<size_t>(picked.begin(), picked.end()).size(), picked.size());
      for (size_t i : picked) EXPECT_LT(i, n);
    }
  }
}

gossip_sim_options small_swarm(gossip_protocol protocol, int nodes) {
  gossip_sim_options o;
  o.seed = testing::test_seed();
  o.nodes = nodes;
  o.protocol = protocol;
  o.warmup_periods = 4;
  o.joins = 2;
  o.event_spacing = 10;
  return o;
}

void expect_every_event_reaches_every_replica(const gossip_sim_result& r, double most_periods) {
  ASSERT_EQ(r.events.size(), 4u);
  for (const gossip_event_result& e : r.events) {
    EXPECT_GE(e.ms, 0) << (e.join ? "a join" : "a death") << " never reached every replica";
    EXPECT_LE(e.ms, most_periods * double(r.options.settings.period.count()))
        << (e.join ? "a join" : "a death");
  }
}

TEST(GossipSim, DeltaGossipSpreadsJoinsAndDeathsWithinTheBudget) {
  const gossip_sim_options o = small_swarm(gossip_protocol::delta, 500);
  SCOPED_TRACE("seed " + std::to_string(o.seed));
  const gossip_sim_result r = run_gossip_sim(o);
  expect_every_event_reaches_every_replica(r, 10);
  // Refreshes take at most their budget; offers, answers and anti-entropy come on top.
  EXPECT_GT(r.gossip_bytes_per_s, 0);
  EXPECT_LT(r.gossip_bytes_per_s_max, 2.5 * o.settings.refresh_budget);
}

TEST(GossipSim, AntiEntropyFindsWhatLostMessagesHid) {
  gossip_sim_options o = small_swarm(gossip_protocol::delta, 300);
  o.loss = 0.2;
  o.settings.fanout = 1;
  o.settings.rumor_rounds = 1;
  o.settings.anti_entropy_every = 2;
  o.settings.listed_buckets = 8;
  o.event_spacing = 30;
  SCOPED_TRACE("seed " + std::to_string(o.seed));
  const gossip_sim_result r = run_gossip_sim(o);
  EXPECT_GT(r.lost, 0u);
  expect_every_event_reaches_every_replica(r, 30);
}

TEST(GossipSim, TodaysWholeTableGossipCostsFarMoreBytes) {
  const gossip_sim_result full = run_gossip_sim(small_swarm(gossip_protocol::full, 100));
  const gossip_sim_result delta = run_gossip_sim(small_swarm(gossip_protocol::delta, 100));
  expect_every_event_reaches_every_replica(full, 10);
  EXPECT_GT(full.gossip_bytes_per_s, 20 * delta.gossip_bytes_per_s);
  EXPECT_EQ(full.connections, 99);
}

TEST(GossipSim, TheSameSeedGivesTheSameRun) {
  const gossip_sim_options o = small_swarm(gossip_protocol::delta, 200);
  const gossip_sim_result a = run_gossip_sim(o);
  const gossip_sim_result b = run_gossip_sim(o);
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) EXPECT_EQ(a.events[i].ms, b.events[i].ms);
  EXPECT_EQ(a.messages, b.messages);
  EXPECT_EQ(a.gossip_bytes_per_s, b.gossip_bytes_per_s);
}

}  // namespace
}  // namespace corolla
