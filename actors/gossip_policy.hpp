// gossip_policy: what a routing-table replica gossips, when and to whom, sized for swarms
// of thousands of servers. The routing table actor follows it, and `corolla sim gossip`
// drives it for 1,000 and 10,000 simulated nodes (bench/gossip_sim.hpp). No CAF.
//
// A replica offers entries — (server id, version, dead) — rather than records: the peer
// asks for the records it lacks, so a record's bytes reach each replica about once however
// many peers offer it. An entry travels three ways:
//  - news (a server new to this replica, or its death): offered at once to `fanout` peers;
//  - rumors: every entry a replica takes is offered in its next `rumor_rounds` periodic
//    rounds (a push-pull with one random peer per gossip period), then goes cold;
//  - anti-entropy: every `anti_entropy_every` rounds the offer carries two XOR sums per
//    bucket of the live entries, one of the servers alone and one with their versions; the
//    peer lists its entries of up to `listed_buckets` buckets that differ, those whose
//    servers differ first. That finds what rumors missed (a lost message, a node away): a
//    join or a death missed shows in the first sum, which refreshes in flight do not touch.
// An owner re-announces an unchanged record every refresh_interval(n): slow enough that
// n servers' refreshes stay within `refresh_budget` bytes a second at every replica. A
// record not refreshed within record_ttl(n) is dropped.
//
// Invariants:
//  1. An entry is a rumor at most once per (server, version): hearing it again does not
//     restart its rounds, so every rumor goes cold.
//  2. A bucket's sums depend only on the set of its (server, version) pairs (XOR), not on
//     the order they were added in; adding a pair twice removes it.
//
// Units: bytes, milliseconds. Single-threaded: one replica's actor, or the simulator.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "messages/swarm.hpp"

namespace corolla {

struct gossip_settings {
  std::chrono::milliseconds period{500};  // between periodic rounds
  int fanout = 3;                         // peers news goes to at once
  int rumor_rounds = 4;                   // periodic rounds an entry is offered in
  int anti_entropy_every = 10;            // rounds between bucket-sum comparisons
  int buckets = 128;
  int listed_buckets = 2;  // differing buckets a peer lists entries of, per comparison
  // Bytes per second per replica that the swarm's refreshes may take, and what one
  // refresh costs a replica: the record with its handle, and its entry offered back and
  // forth for rumor_rounds rounds.
  double refresh_budget = 4000;
  double record_bytes = 400;
  std::chrono::milliseconds min_ttl{5000};
  // Servers a replica pings a round (in turn) for round trips and their own word; a ping
  // and its record cost a replica about 400 bytes.
  int pings_per_round = 4;
};

// An entry's bytes on the wire (id, version, dead).
constexpr double gossip_entry_bytes = 17;

// Whether a replica holding `held` of a server takes `e`: a higher version replaces, and a
// death notice kills its own version and older ones (a version only its owner raises can
// not be killed before it exists).
bool supersedes(const gossip_entry& e, const gossip_entry& held);

// How often an owner re-announces its unchanged record in a swarm of `n_servers`: the
// gossip period, or longer so that every server's refresh fits refresh_budget.
std::chrono::milliseconds refresh_interval(size_t n_servers, const gossip_settings& s);

// How long a replica keeps a record nobody refreshed: four refresh intervals, at least
// min_ttl (a record survives three lost refreshes).
std::chrono::milliseconds record_ttl(size_t n_servers, const gossip_settings& s);

// The entries this replica offers in its periodic rounds (invariant 1).
class gossip_rumors {
 public:
  explicit gossip_rumors(int rounds) : rounds_(rounds) {}

  // Takes `e` as a rumor unless it holds the same or a newer entry of that server.
  void heard(const gossip_entry& e);

  // Every rumor, for the next periodic round's offer.
  std::vector<gossip_entry> hot() const;

  // A periodic round went out: every rumor has one round fewer; spent ones go cold.
  void round_done();

 private:
  struct rumor {
    gossip_entry entry;
    int rounds_left = 0;
  };
  int rounds_;
  std::map<uint64_t, rumor> hot_;  // by server id
};

// Two XOR sums per bucket of a replica's live (server, version) pairs (invariant 2): the
// servers', then the pairs'. sums() is both arrays, servers first: what an offer carries.
class bucket_sums {
 public:
  explicit bucket_sums(int buckets)
      : buckets_(size_t(buckets > 0 ? buckets : 1)), sums_(2 * buckets_, 0) {}

  // Adds the pair, or removes it when it is there (XOR).
  void toggle(uint64_t server_id, uint64_t version);

  int bucket_of(uint64_t server_id) const;
  int buckets() const { return int(buckets_); }
  const std::vector<uint64_t>& sums() const { return sums_; }

  // Buckets where `theirs` differs, at most `most`: those whose servers differ, then those
  // whose versions alone do, each in bucket order from a place `rng` chooses (so that
  // repeated comparisons do not always list the same buckets). Every bucket differs when
  // `theirs` has another size (a peer with other settings).
  std::vector<int> differing(const std::vector<uint64_t>& theirs, int most,
                             std::mt19937_64& rng) const;

 private:
  size_t buckets_;
  std::vector<uint64_t> sums_;
};

// A number in [0, n) from the generator's specified sequence (n > 0; the modulo bias is
// below 2^-40 for the n a swarm has).
inline uint64_t random_below(std::mt19937_64& rng, uint64_t n) {
  return rng() % n;
}

// Up to `k` distinct indexes of [0, n), in the order drawn.
std::vector<size_t> pick_distinct(size_t n, size_t k, std::mt19937_64& rng);

}  // namespace corolla
