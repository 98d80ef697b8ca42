// gossip_sim: a seeded, deterministic swarm of routing-table replicas — 1,000 or 10,000 —
// over a simulated internet (nodes in six regions, one-way latencies of 5-160 ms, 100
// Mbit/s uplinks), driving the membership gossip of two protocols:
//  - full (protocol 5, the routing table until now): every gossip period a push-pull of
//    the whole table with one random peer, a server new to a replica pushed as the whole
//    table to every peer, every server pinged, every node connected to every node, owners
//    re-announcing every period;
//  - delta (protocol 6, actors/gossip_policy.hpp): entries offered and records pulled,
//    news to a few peers at once, rumors for a few rounds, bucket sums, refreshes and TTL
//    scaled with the swarm, a few connections per node whose heartbeats find deaths.
// After a warm-up at steady state, servers join and die one at a time, several periods
// apart; the run measures how long each event takes to reach every live replica, the
// bytes a replica receives per second, and one replica's table memory (a real
// `membership` of that many records, measured with the allocator). What `corolla sim
// gossip` prints.
//
// Replies to today's whole-table pushes read the replier's table when they arrive rather
// than when sent: that can only make the full protocol look faster. Not thread-safe.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "actors/gossip_policy.hpp"

namespace corolla {

enum class gossip_protocol { full, delta };
const char* to_string(gossip_protocol p);

struct gossip_sim_options {
  uint64_t seed = 1;
  int nodes = 1000;
  gossip_protocol protocol = gossip_protocol::delta;
  gossip_settings settings;  // delta's; full uses settings.period alone
  int view = 4;              // connections a delta node opens (it also takes others')
  double heartbeat_interval_ms = 100;
  double heartbeat_timeout_ms = 700;
  double uplink_mbits = 100;
  // Chance that a gossip message is lost (a connection dropped under it); what rumors
  // miss, anti-entropy must find. A join's first table is never lost.
  double loss = 0;
  int warmup_periods = 10;
  int joins = 3;           // and as many deaths, alternating
  int event_spacing = 10;  // periods between events; the run ends that long after the last
};

struct gossip_event_result {
  bool join = true;
  double ms = -1;  // from the event to the last live replica knowing it; < 0: never
};

struct gossip_sim_result {
  gossip_sim_options options;
  std::vector<gossip_event_result> events;
  double record_bytes = 0;            // one record with its handle, on the wire
  double gossip_bytes_per_s = 0;      // received by a replica, mean over replicas
  double gossip_bytes_per_s_max = 0;  // the busiest replica's
  double ping_bytes_per_s = 0;        // full: every server pinged every period
  double heartbeat_bytes_per_s = 0;   // CAF heartbeats on the replica's connections
  double join_transfer_bytes = 0;     // a joining node's first table, once
  double join_transfer_ms = 0;
  double table_bytes = 0;           // one replica's records, measured
  double refresh_s = 0, ttl_s = 0;  // an owner's refresh interval and the TTL
  double connections = 0;           // per node, mean
  uint64_t messages = 0;
  uint64_t lost = 0;
  double simulated_s = 0;
  double wall_s = 0;
};

gossip_sim_result run_gossip_sim(const gossip_sim_options& options);

// One typical server record with its handle, in bytes on the wire.
double gossip_record_bytes();

// One row per run (a table with the physical meaning of each column), then a legend.
void print_gossip_sim(const std::vector<gossip_sim_result>& runs, std::ostream& out);

}  // namespace corolla
