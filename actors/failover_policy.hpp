// failover_policy: when a client session gives up on a server and how long it keeps
// trying to replace it — Petals' ban list and retry loop with the numbers explicit.
// Plain class, no CAF: the session drives it with the real clock, tests and the
// simulator with their own.
//
// Invariants:
//  1. A server that failed k times in a row is banned for ban_base * 2^(k-1), at most
//     ban_max; a step it completes clears its count (its ban, if any, runs out).
//     A ban is never shortened: a later failure's ban ends no earlier than the current one.
//  2. Recovering one failure takes at most `attempts` tries: the first at once, then
//     after backoff_base * 2^(i-1) (at most backoff_max), each jittered by up to
//     +-jitter from the seeded generator so clients that lost the same server do not
//     retry in lockstep. A completed step gives the budget back.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace corolla {

struct failover_settings {
  std::chrono::milliseconds ban_base{2000};
  std::chrono::milliseconds ban_max{300000};
  int attempts = 8;
  std::chrono::milliseconds backoff_base{50};
  std::chrono::milliseconds backoff_max{2000};
  double jitter = 0.25;
  // A server caught returning wrong outputs (actors/spot_check.hpp) is not routed through
  // for this long; a step it completes does not lift it.
  std::chrono::milliseconds liar_ban{3600000};
};

class failover_policy {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  failover_policy() = default;
  failover_policy(failover_settings settings, uint64_t seed) : settings_(settings), rng_(seed) {}

  // The server failed at `now`: bans it (invariant 1). Returns the ban's end.
  time_point server_failed(uint64_t server_id, time_point now);
  // The server was caught lying at `now` (a spot check): banned for liar_ban.
  void server_lied(uint64_t server_id, time_point now);
  // The server completed a step.
  void server_succeeded(uint64_t server_id);
  bool banned(uint64_t server_id, time_point now) const;
  // Servers banned at `now`, for route requests.
  std::vector<uint64_t> banned_servers(time_point now) const;
  int failures(uint64_t server_id) const;

  // The wait before the next recovery attempt (zero for the first), or nullopt when
  // the budget is spent (invariant 2).
  std::optional<std::chrono::milliseconds> next_attempt();
  // A step completed: the budget is whole again.
  void step_succeeded() { attempts_made_ = 0; }
  int attempts_made() const { return attempts_made_; }

 private:
  struct record {
    int failures = 0;
    time_point banned_until{};
  };
  failover_settings settings_;
  std::mt19937_64 rng_{0};
  std::map<uint64_t, record> servers_;
  int attempts_made_ = 0;
};

}  // namespace corolla
