// swarm_view: the swarm as the status page and /metrics show it — the routing table's
// latest records, each block's total throughput, and what changed recently (servers
// joining, leaving, moving, changing state; sessions recovering from a failure). Plain
// class: the gateway feeds it records (polled from its routing table) and recovery
// reports (from its own requests); no CAF, so tests drive it with made-up records.
// Times are the caller's wall clock in milliseconds since the epoch (for display only).
// Not thread-safe: the gateway holds a mutex around it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "messages/client.hpp"
#include "messages/swarm.hpp"

namespace corolla {

struct swarm_event {
  int64_t time_ms = 0;
  std::string kind;  // "join", "leave", "move", "state", "recovery"
  std::string text;
};

class swarm_view {
 public:
  swarm_view(std::string model_id, int64_t n_blocks, size_t max_events = 50)
      : model_id_(std::move(model_id)), n_blocks_(n_blocks), max_events_(max_events) {}

  // The table's records now (records of other models are ignored; an in-process swarm's
  // carry no fingerprint).
  void observe(const std::vector<server_record>& records, int64_t now_ms);
  void recovery(const recovery_report& report, int64_t now_ms);

  // Throughput of each block: the sum over the online servers covering it (DESIGN.md).
  std::vector<double> block_throughput() const;
  // True when the online servers cover every block.
  bool covered() const;
  int64_t moves() const { return moves_; }
  int64_t bans() const { return bans_; }

  // GET /api/swarm: {"model", "n_blocks", "covered", "servers": [...], "blocks": [...],
  // "events": [...], "moves", "recoveries"}.
  nlohmann::json to_json() const;
  // The per-server gauges and the swarm counters, Prometheus text.
  std::string prometheus() const;

 private:
  void event(int64_t now_ms, std::string kind, std::string text);

  std::string model_id_;
  int64_t n_blocks_;
  size_t max_events_;
  std::vector<server_record> servers_;      // the latest, ordered by span then name
  std::map<uint64_t, server_record> seen_;  // every server's last record, by id
  std::deque<swarm_event> events_;          // newest first
  int64_t moves_ = 0;
  int64_t recoveries_ = 0;
  int64_t bans_ = 0;
};

}  // namespace corolla
