// swarm_node: this process as a node of a swarm — a routing-table replica published on
// host:port and joined to the swarm through seeds, and a server for a span of the
// model's blocks announced in it. It is what actor-node runs, and what a CAF
// application embedding Corolla starts to lend its machine to a swarm. Not an actor:
// it spawns the two and drives their start and their leaving.
//
// The actor system must have the network on (enable_network in node_network.hpp).
// Lifecycle: start -> (serving) -> drain -> await_sessions -> leave -> stop; stop alone cuts
// sessions off.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/balancer.hpp"
#include "actors/compute_executor.hpp"
#include "actors/server.hpp"
#include "messages/interfaces.hpp"
#include "model/block_throughput.hpp"
#include "model/status.hpp"

namespace corolla {

struct swarm_node_options {
  std::string name;  // in records and logs; "" for host:port
  std::string host = "127.0.0.1";
  uint16_t port = 0;               // 0: a free one
  // What the records announce as this node's address, when peers must reach it another
  // way than host:port (port forwarding, a relay); "" and 0: host and the port listened on.
  std::string advertise_host;
  uint16_t advertise_port = 0;
  std::vector<std::string> seeds;  // "host:port" of nodes to join through; none: a new swarm
  std::string model_path;
  // native or int8 (model/linear.hpp). Part of the swarm's model id: nodes that keep
  // weights differently compute different functions, and spot checks compare bits.
  precision weights = precision::native;
  kv_type kv = kv_type::f16;  // the sessions' caches; part of the model id as well
  // Blocks [span_start, span_end); -1: num_blocks blocks where the swarm needs them
  // most (Petals' rule 1, after a random wait of up to join_delay so that nodes starting
  // together do not all choose the same blocks).
  int64_t span_start = -1;
  int64_t span_end = -1;
  int64_t num_blocks = 0;           // 0: as many as memory_budget_bytes holds next to the KV budget
  int64_t memory_budget_bytes = 0;  // 0: 90% of the memory the machine has available
  std::chrono::milliseconds join_delay{1000};
  int64_t kv_budget_bytes = int64_t(1) << 30;
  // A balancer (actors/balancer.hpp) moves the server where the swarm needs it.
  bool balance = false;
  balancer_settings balancing;
  // The node's link in megabits per second; 0: measured against the seed it joined
  // through (unknown, and left out of the announced throughput, without one).
  double network_mbps = 0;
  tensor_codec codec = tensor_codec::f16;  // the swarm's; sessions asking another are refused
  std::chrono::milliseconds gossip_period{500};
  std::chrono::milliseconds record_ttl{5000};
  std::chrono::milliseconds peer_timeout{1000};
  // The process's compute thread (one OpenMP team per process); made when null.
  std::shared_ptr<compute_executor> executor;
  fault_injection faults;  // off unless asked for (tests, operators trying failover)
  // Weights this node may load for spans other nodes give up (actors/span_host.hpp);
  // 0: it hosts none.
  int64_t host_budget_bytes = 0;
  // Where one block's measured speed is cached (model/block_throughput.hpp): "" the
  // default path, "none" measure at every start.
  std::string throughput_cache;
  // Where the node keeps the head file it hands to clients without a model
  // (actors/head_transfer.hpp): "" the default cache, "none" offers none.
  std::string head_cache;
};

class swarm_node {
 public:
  swarm_node() = default;
  swarm_node(swarm_node&&) = default;
  swarm_node& operator=(swarm_node&&) = default;
  ~swarm_node() { stop(); }

  // Publishes the table, joins through the first seed that answers, loads the span on
  // the compute thread and announces the server. Errors: the model's; invalid_argument
  // for a span outside the model; io_error when the port can not be listened on or no
  // seed could be joined (naming every seed and why: another model or protocol refuses).
  static result<swarm_node> start(caf::actor_system& system, const swarm_node_options& options);

  // Announces draining (routes avoid the node, new sessions are refused); returns the
  // sessions open.
  int64_t drain();

  // Waits up to `timeout` for open sessions to finish; returns those still open.
  int64_t await_sessions(std::chrono::milliseconds timeout);

  // Announces the node offline to every peer it knows; returns how many were told.
  uint64_t leave();

  // Stops the server and the table (without telling anyone: leave first).
  void stop();

  // The server now (a balancer may have moved the node since it started).
  server_actor server() const;
  const routing_table_actor& routing_table() const { return table_; }
  const std::string& name() const { return name_; }
  std::string address() const;  // host:port it listens on
  // The span it started with.
  int64_t span_start() const { return span_start_; }
  int64_t span_end() const { return span_end_; }
  // Plan mode, span = auto: rule 1's start, when the plan moved the node elsewhere before
  // it served; -1 otherwise.
  int64_t planned_from() const { return planned_from_; }
  const std::string& model_id() const { return model_id_; }
  // The peer the node joined through; "" when it started a new swarm.
  const std::string& joined_through() const { return joined_through_; }
  uint64_t servers_known_at_join() const { return servers_known_; }
  const std::shared_ptr<compute_executor>& executor() const { return executor_; }
  // One block's speed on this machine, announced until steps are timed, and whether it
  // was measured or cached.
  const block_throughput& block_speed() const { return block_speed_; }
  const std::string& block_speed_source() const { return block_speed_source_; }
  // What its link carries: bytes per second, and decode steps per second (one token's
  // hidden state in the swarm's codec); 0 when unknown.
  double network_bytes_per_s() const { return network_bytes_per_s_; }
  double network_steps_per_s() const { return network_steps_per_s_; }

 private:
  caf::actor_system* system_ = nullptr;
  server_actor server_;      // the server it started with
  balancer_actor balancer_;  // null unless balancing; then it owns the server
  routing_table_actor table_;
  span_host_actor span_host_;
  std::shared_ptr<compute_executor> executor_;
  std::string name_;
  std::string host_;
  uint16_t port_ = 0;
  int64_t span_start_ = 0;
  int64_t span_end_ = 0;
  int64_t planned_from_ = -1;
  std::string model_id_;
  std::string joined_through_;
  uint64_t servers_known_ = 0;
  block_throughput block_speed_;
  std::string block_speed_source_;
  double network_bytes_per_s_ = 0;
  double network_steps_per_s_ = 0;
};

}  // namespace corolla
