// membership: one replica's view of the swarm's server records — the merge rule of
// push-pull gossip, record expiry and the peer choice of each round. Plain class, no
// CAF: the routing table actor drives it with the real clock, the tests and the
// simulator with their own.
//
// Invariants:
//  1. A record is replaced only by one of the same server with a higher version (only
//     its owner raises it), so replicas converge whatever order digests arrive in.
//  2. A record not refreshed (replaced by a higher version) within the TTL is dropped;
//     a TTL of zero keeps records until they are dropped explicitly.
//  3. A dropped server leaves a tombstone holding its last version until a TTL has
//     passed: a peer that has not yet noticed the server is gone can not bring it back.
//  4. Records of another protocol version or model are never held, nor records with
//     impossible fields (negative or non-finite throughput and timings, empty spans,
//     negative counts).
//  5. Routing and balancing count a server as checked_record says: never more than
//     plausible_speedup times faster per block than the swarm's median, and, once this
//     node's clients found it much slower than it claims, at the speed they measured.
//  6. sums() are the bucket sums (actors/gossip_policy.hpp) of exactly the records held.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actors/balancing.hpp"
#include "actors/gossip_policy.hpp"
#include "actors/route_planner.hpp"
#include "messages/swarm.hpp"
#include "model/status.hpp"

namespace corolla {

class membership {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  membership() = default;
  membership(std::string model_id, std::chrono::milliseconds ttl,
             int buckets = gossip_settings{}.buckets)
      : model_id_(std::move(model_id)), ttl_(ttl), sums_(buckets) {}

  enum class merged { added, updated, stale };

  // Takes `record` if it is newer than what this replica holds (invariant 1).
  // Errors: protocol_mismatch or wrong_model (messages/protocol.hpp), naming both sides;
  // corruption naming the impossible field (invariant 4).
  result<merged> merge(const server_record& record, time_point now);

  // A peer's digest may be merged when it speaks this protocol about this model.
  status accepts(uint32_t protocol, const std::string& model_id) const;

  // Drops the server now, leaving a tombstone (invariant 3).
  void drop(uint64_t server_id, time_point now);

  // Takes a death notice: drops the record when `notice` supersedes it (gossip_policy's
  // rule), leaving the tombstone of the record's own version: however high a version a
  // notice names, the owner's next announcement brings the server back. A notice about a
  // server not held is ignored. True when a record was dropped.
  bool kill(const gossip_entry& notice, time_point now);

  // Drops records the TTL has passed (invariant 2); returns their ids.
  std::vector<uint64_t> expire(time_point now);

  // A swarm grown large refreshes its records less often (gossip_policy's record_ttl).
  void set_ttl(std::chrono::milliseconds ttl) { ttl_ = ttl; }

  // What this replica holds of a server — its record's version, or its tombstone's as a
  // death — if anything.
  std::optional<gossip_entry> entry(uint64_t server_id) const;
  // Every record and tombstone in `buckets`, or in every bucket when `buckets` is empty.
  std::vector<gossip_entry> entries(const std::vector<int>& buckets) const;
  const bucket_sums& sums() const { return sums_; }

  const std::map<uint64_t, server_record>& records() const { return records_; }
  const server_record* find(uint64_t server_id) const;
  const std::string& model_id() const { return model_id_; }

 private:
  struct tombstone {
    uint64_t version = 0;
    time_point dropped;
  };
  std::string model_id_;
  std::chrono::milliseconds ttl_{0};
  std::map<uint64_t, server_record> records_;  // by server id
  std::map<uint64_t, time_point> refreshed_;
  std::map<uint64_t, tombstone> tombstones_;
  bucket_sums sums_{gossip_settings{}.buckets};
};

// What this node's clients measured of a server: a decode step's time through it, less
// the link's round trip, per block (an average over recent steps).
struct server_observation {
  double ms_per_block = 0;
  int64_t steps = 0;
};

// A server claiming more than this many times the swarm's median speed per block is
// counted at that bound: CPUs differ by less, and one liar can not move the median.
constexpr double plausible_speedup = 16;
// Clients' measurements replace a claim once they are this much slower than it, past a
// slack that covers the messaging a hop costs besides its compute.
constexpr double observed_slowdown = 2;
constexpr double observed_slack_ms = 2;
constexpr int64_t observed_min_steps = 8;

// The median announced compute_ms_per_block of `records` (0 when none announce one).
double median_ms_per_block(const std::map<uint64_t, server_record>& records);

// `r` as routing and balancing count it (invariant 5): compute_ms_per_block raised and
// throughput lowered as the median and the observation (null: none) require.
server_record checked_record(const server_record& r, double median_ms_per_block,
                             const server_observation* observed);

// Blocks in [0, n_blocks) and how many online servers cover each (records as a routing
// table lists them).
std::vector<int64_t> block_coverage(const std::vector<server_record>& records, int64_t n_blocks);

// What balancing counts (actors/balancing.hpp): online and joining servers at their
// spans with their announced throughput, and a server draining to move at the span it
// moves to — so that a second server does not move into the same gap meanwhile.
// Servers draining to leave, and offline ones, count nowhere.
std::vector<swarm_span> balancing_spans(const std::vector<server_record>& records);

// `r` as a candidate for routes: its span, this process's round trip to it, its block time.
route_candidate route_candidate_of(const server_record& r);

}  // namespace corolla
