// membership: the merge rule of gossip, expiry and tombstones, driven by a fake clock.
#include "actors/membership.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "messages/protocol.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using time_point = membership::time_point;

server_record record(uint64_t id, uint64_t version, int64_t start = 0, int64_t end = 5,
                     serving_state state = serving_state::online) {
  server_record r;
  r.server_id = id;
  r.version = version;
  r.protocol_version = protocol_version;
  r.model_id = "m";
  r.start_block = start;
  r.end_block = end;
  r.state = uint8_t(state);
  return r;
}

// The records as a routing table lists them.
std::vector<server_record> listed(const membership& m) {
  std::vector<server_record> out;
  for (const auto& [id, r] : m.records()) out.push_back(r);
  return out;
}

TEST(Membership, OnlyAHigherVersionReplacesARecord) {
  membership m("m", 1000ms);
  const time_point t0;
  EXPECT_EQ(*m.merge(record(1, 3), t0), membership::merged::added);
  EXPECT_EQ(*m.merge(record(1, 2, 1, 2), t0), membership::merged::stale);
  EXPECT_EQ(*m.merge(record(1, 3, 1, 2), t0), membership::merged::stale);
  EXPECT_EQ(m.find(1)->end_block, 5);
  EXPECT_EQ(*m.merge(record(1, 4, 1, 2), t0), membership::merged::updated);
  EXPECT_EQ(m.find(1)->end_block, 2);
}

TEST(Membership, RecordsOfAnotherModelOrProtocolAreRefused) {
  membership m("m", 0ms);
  server_record other = record(1, 1);
  other.model_id = "n";
  auto refused = m.merge(other, time_point{});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "the peer serves model n, this node m");
  other = record(2, 1);
  other.protocol_version = protocol_version + 1;
  refused = m.merge(other, time_point{});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(
      refused.error().message().find("speaks protocol " + std::to_string(protocol_version + 1)),
      std::string::npos);
  EXPECT_TRUE(m.records().empty());
}

// A peer announcing 1e300 (or -1e300, or NaN) steps/s would steer every balancer that
// believes it; such records, and empty spans, are refused and not held.
TEST(Membership, RecordsWithImpossibleFieldsAreRefused) {
  membership m("m", 0ms);
  for (double lie : {1e300, -1e300, -1.0, std::nan("")}) {
    server_record r = record(1, 1);
    r.name = "liar";
    r.throughput = lie;
    const auto refused = m.merge(r, time_point{});
    ASSERT_FALSE(refused.ok()) << lie;
    EXPECT_NE(refused.error().message().find("record of server liar: throughput"),
              std::string::npos)
        << refused.error().message();
  }
  server_record empty = record(2, 1, 3, 3);
  EXPECT_FALSE(m.merge(empty, time_point{}).ok());
  server_record moving = record(3, 1);
  moving.next_start = 4;  // next_end left at -1
  EXPECT_FALSE(m.merge(moving, time_point{}).ok());
  EXPECT_TRUE(m.records().empty());
  server_record honest = record(4, 1);
  honest.throughput = 120.5;
  EXPECT_EQ(*m.merge(honest, time_point{}), membership::merged::added);
}

TEST(Membership, RecordsNotRefreshedWithinTheTtlExpire) {
  membership m("m", 1000ms);
  const time_point t0;
  m.merge(record(1, 1), t0);
  m.merge(record(2, 1), t0);
  m.merge(record(2, 2), t0 + 800ms);  // refreshed
  EXPECT_TRUE(m.expire(t0 + 1000ms).empty());
  EXPECT_EQ(m.expire(t0 + 1001ms), std::vector<uint64_t>{1});
  EXPECT_EQ(m.expire(t0 + 1801ms), std::vector<uint64_t>{2});
  EXPECT_TRUE(m.records().empty());
}

TEST(Membership, ADroppedServerIsNotBroughtBackByAStaleRecord) {
  membership m("m", 1000ms);
  const time_point t0;
  m.merge(record(1, 5), t0);
  m.drop(1, t0);
  EXPECT_EQ(*m.merge(record(1, 5), t0 + 10ms), membership::merged::stale);
  EXPECT_EQ(m.find(1), nullptr);
  // Its owner raising the version means it is alive after all.
  EXPECT_EQ(*m.merge(record(1, 6), t0 + 20ms), membership::merged::added);
  // Tombstones end with the TTL.
  m.drop(1, t0 + 30ms);
  m.expire(t0 + 1100ms);
  EXPECT_EQ(*m.merge(record(1, 1), t0 + 1100ms), membership::merged::added);
}

TEST(Membership, ZeroTtlKeepsRecords) {
  membership m("m", 0ms);
  m.merge(record(1, 1), time_point{});
  EXPECT_TRUE(m.expire(time_point{} + 1000h).empty());
  EXPECT_EQ(m.records().size(), 1u);
}

TEST(Membership, CoverageCountsOnlineServers) {
  membership m("m", 0ms);
  m.merge(record(1, 1, 0, 2), time_point{});
  m.merge(record(2, 1, 6, 7), time_point{});
  m.merge(record(3, 1, 2, 6, serving_state::draining), time_point{});  // not online: no cover
  const auto coverage = block_coverage(listed(m), 10);
  EXPECT_EQ(coverage, (std::vector<int64_t>{1, 1, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Membership, BalancingCountsAMovingServerWhereItGoes) {
  membership m("m", 0ms);
  m.merge(record(1, 1, 0, 2), time_point{});
  m.merge(record(2, 1, 2, 4, serving_state::joining), time_point{});
  server_record moving = record(3, 1, 0, 2, serving_state::draining);
  moving.next_start = 4;
  moving.next_end = 6;
  m.merge(moving, time_point{});
  m.merge(record(4, 1, 0, 6, serving_state::draining), time_point{});  // leaving: nowhere
  m.merge(record(5, 1, 0, 6, serving_state::offline), time_point{});
  const std::vector<swarm_span> spans = balancing_spans(listed(m));
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[2].server_id, 3u);
  EXPECT_EQ(spans[2].start, 4);
  EXPECT_EQ(spans[2].end, 6);
  EXPECT_EQ(spans[1].start, 2);
}

}  // namespace
}  // namespace corolla

namespace corolla {
namespace {

server_record claiming(uint64_t id, double ms_per_block, int64_t blocks = 4) {
  server_record r = record(id, 1, 0, blocks);
  r.compute_ms_per_block = ms_per_block;
  r.throughput = 1000.0 / (ms_per_block * double(blocks));
  return r;
}

TEST(CheckedRecord, AClaimFarFasterThanTheSwarmCountsAtTheBound) {
  std::map<uint64_t, server_record> swarm{
      {1, claiming(1, 2.0)}, {2, claiming(2, 3.0)}, {3, claiming(3, 2.5)}, {4, claiming(4, 1e-6)}};
  const double median = median_ms_per_block(swarm);
  EXPECT_EQ(median, 2.5);  // one liar does not move it far
  const server_record liar = checked_record(swarm[4], median, nullptr);
  EXPECT_DOUBLE_EQ(liar.compute_ms_per_block, 2.5 / plausible_speedup);
  EXPECT_DOUBLE_EQ(liar.throughput, 1000.0 / (2.5 / plausible_speedup * 4));
  // An honest fast server within the bound is counted as it says.
  const server_record fast = checked_record(claiming(5, 0.5), median, nullptr);
  EXPECT_EQ(fast.compute_ms_per_block, 0.5);
  EXPECT_EQ(fast.throughput, claiming(5, 0.5).throughput);
}

TEST(Membership, ADeathNoticeDropsItsVersionAndOlderAndTheOwnersNextRevives) {
  membership m("m", 1000ms);
  const time_point t0;
  ASSERT_TRUE(m.merge(record(1, 5), t0).ok());
  EXPECT_FALSE(m.kill({1, 4, true}, t0)) << "a notice about an older version";
  ASSERT_NE(m.find(1), nullptr);
  // However high a version a notice names, the tombstone keeps the record's own.
  EXPECT_TRUE(m.kill({1, uint64_t(1) << 40, true}, t0));
  EXPECT_EQ(m.find(1), nullptr);
  const gossip_entry tombstone = *m.entry(1);
  EXPECT_TRUE(tombstone.version == 5 && tombstone.dead);
  EXPECT_EQ(*m.merge(record(1, 5), t0), membership::merged::stale);
  EXPECT_EQ(*m.merge(record(1, 6), t0), membership::merged::added);
  // A notice about a server not held leaves nothing behind.
  EXPECT_FALSE(m.kill({2, 3, true}, t0));
  EXPECT_FALSE(m.entry(2));
  EXPECT_EQ(*m.merge(record(2, 1), t0), membership::merged::added);
}

TEST(Membership, SumsAreAlwaysThoseOfTheRecordsHeld) {
  membership m("m", 1000ms, 16);
  const time_point t0;
  for (uint64_t id = 1; id <= 40; ++id) ASSERT_TRUE(m.merge(record(id, id % 7 + 1), t0).ok());
  ASSERT_TRUE(m.merge(record(3, 20), t0).ok());
  m.drop(5, t0);
  m.kill({9, 100, true}, t0);
  ASSERT_TRUE(m.merge(record(50, 2), t0 + 800ms).ok());
  m.expire(t0 + 1500ms);  // all but server 50
  bucket_sums expected(16);
  for (const auto& [id, r] : m.records()) expected.toggle(id, r.version);
  EXPECT_EQ(m.sums().sums(), expected.sums());
  EXPECT_EQ(m.records().size(), 1u);
  // Entries list records and tombstones, of the buckets asked for or of all.
  // Server 50, and the 38 expired ones' tombstones (5's and 9's outlived the TTL).
  EXPECT_EQ(m.entries({}).size(), 39u);
  const int b = m.sums().bucket_of(50);
  const std::vector<gossip_entry> in_b = m.entries({b});
  EXPECT_TRUE(std::any_of(in_b.begin(), in_b.end(),
                          [](const gossip_entry& e) { return e.server_id == 50 && !e.dead; }));
  for (const gossip_entry& e : in_b) EXPECT_EQ(m.sums().bucket_of(e.server_id), b);
}

TEST(CheckedRecord, ClientsMeasuringItMuchSlowerReplaceTheClaim) {
  const server_record claim = claiming(1, 1.0);  // 4 ms for its 4 blocks
  server_observation near{1.9, 64};              // 7.6 ms: within 2x + 2 ms of the claim
  EXPECT_EQ(checked_record(claim, 1.0, &near).compute_ms_per_block, 1.0);
  server_observation slow{5.0, 64};  // 20 ms
  const server_record counted = checked_record(claim, 1.0, &slow);
  EXPECT_EQ(counted.compute_ms_per_block, 5.0);
  EXPECT_DOUBLE_EQ(counted.throughput, 1000.0 / 20.0);
  server_observation early{5.0, observed_min_steps - 1};  // too few steps to judge
  EXPECT_EQ(checked_record(claim, 1.0, &early).compute_ms_per_block, 1.0);
  // A network-bound throughput lower than the compute side's stays as announced.
  server_record slow_link = claim;
  slow_link.throughput = 10;
  EXPECT_EQ(checked_record(slow_link, 1.0, &slow).throughput, 10);
}

}  // namespace
}  // namespace corolla
