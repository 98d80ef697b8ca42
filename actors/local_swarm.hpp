// local_swarm: a whole swarm inside one actor system — a routing table, servers
// whose spans split the model's blocks, and the head model for clients. It is what
// `actor-chat --local` runs, and what the actor tests and `corolla bench sessions`
// start. Not an actor: it loads the model and spawns the actors that are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/client.hpp"
#include "actors/compute_executor.hpp"
#include "actors/server.hpp"
#include "messages/interfaces.hpp"
#include "model/llama_model.hpp"

namespace corolla {

using block_span = std::pair<int64_t, int64_t>;  // [start, end)

// `servers` spans covering [0, n_blocks) in order, sizes differing by at most one
// (the first spans take the extra blocks).
std::vector<block_span> even_spans(int64_t n_blocks, int64_t servers);

struct local_swarm_options {
  std::string model_path;
  int64_t servers = 3;            // used when spans is empty
  std::vector<block_span> spans;  // explicit spans, one server each
  precision kind = precision::native;
  std::optional<kv_type> kv;                   // the servers' caches (model_options::kv)
  int64_t kv_budget_bytes = int64_t(1) << 30;  // per server
  std::vector<int64_t> kv_budgets;             // per server in spans' order, where given
  // The process's compute thread (all its OpenMP work belongs there); made from
  // `compute` when null.
  std::shared_ptr<compute_executor> executor;
  compute_options compute;
  std::vector<fault_injection> faults;  // per server, in spans' order (tests)
};

class local_swarm {
 public:
  local_swarm() = default;
  local_swarm(local_swarm&&) = default;
  local_swarm& operator=(local_swarm&&) = default;
  ~local_swarm() { stop(); }

  // Loads every span and the head (on the compute thread), spawns the table and the
  // servers, and returns once the table lists every server. Errors: the model's, or
  // invalid_argument for spans that are not within the model.
  static result<local_swarm> start(caf::actor_system& system, const local_swarm_options& options);

  // A client configuration for this swarm (head, routing table); callers adjust it.
  client_config client_defaults() const;

  // Ends the servers (and with them their blocks) and the routing table. The actor
  // system can only shut down after this (and after its clients are stopped).
  void stop();

  const std::shared_ptr<const llama_model>& head_model() const { return head_; }
  const routing_table_actor& routing_table() const { return table_; }
  const std::vector<server_actor>& servers() const { return servers_; }
  const std::vector<block_span>& spans() const { return spans_; }
  const std::shared_ptr<compute_executor>& executor() const { return executor_; }

 private:
  std::shared_ptr<const llama_model> head_;
  routing_table_actor table_;
  std::shared_ptr<compute_executor> executor_;
  std::vector<server_actor> servers_;
  std::vector<block_span> spans_;
};

}  // namespace corolla
