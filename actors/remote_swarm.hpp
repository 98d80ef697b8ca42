// remote_swarm: this process as a client of a swarm of actor-node processes — a
// routing-table replica joined through a peer, and the head model for clients. It is
// what `actor-chat --peer` runs, and what a CAF application embedding Corolla uses to
// reach a swarm. Not an actor: it spawns the table and waits for the swarm.
//
// The actor system must have the network on (enable_network in node_network.hpp).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/client.hpp"
#include "actors/compute_executor.hpp"
#include "actors/head_transfer.hpp"
#include "messages/interfaces.hpp"
#include "model/llama_model.hpp"

namespace corolla {

struct remote_swarm_options {
  std::vector<std::string> peers;  // "host:port" of nodes to join through; the first answering
  // The replica of a node in this process (swarm_node::routing_table()): used instead of
  // joining through peers, and left running by stop.
  routing_table_actor table;
  // The swarm's model file or its head file (the client computes the head); "": the
  // head is fetched from a peer into head_cache (actors/head_transfer.hpp).
  std::string model_path;
  std::string head_cache;  // "": default_head_cache()
  precision kind = precision::native;
  kv_type servers_kv = kv_type::f16;  // the swarm's caches: part of its model id
  std::chrono::milliseconds gossip_period{500};
  std::chrono::milliseconds record_ttl{5000};
  std::chrono::milliseconds peer_timeout{1000};
  std::chrono::milliseconds wait_for_route{15000};  // until the swarm covers every block
  // false: return once joined, covered or not (an HTTP gateway answers 503 meanwhile);
  // sessions then use `codec`, which must be the swarm's.
  bool wait_for_coverage = true;
  tensor_codec codec = tensor_codec::f16;
  // The process's compute thread; made when null.
  std::shared_ptr<compute_executor> executor;
};

class remote_swarm {
 public:
  remote_swarm() = default;
  remote_swarm(remote_swarm&&) = default;
  remote_swarm& operator=(remote_swarm&&) = default;
  ~remote_swarm() { stop(); }

  // Loads the head, joins through the peers (or uses options.table) and waits until a
  // route covers every block. Errors: the model's; io_error naming every peer that could not be
  // joined (a peer of another model or protocol refuses, and says so); no_route when the swarm does
  // not cover the model within wait_for_route.
  static result<remote_swarm> join(caf::actor_system& system, const remote_swarm_options& options);

  // A client configuration for this swarm: head, routing table, the swarm's codec.
  client_config client_defaults() const;

  void stop();

  const std::shared_ptr<const llama_model>& head_model() const { return head_; }
  const routing_table_actor& routing_table() const { return table_; }
  const std::string& joined_through() const { return joined_through_; }
  const std::string& model_path() const { return model_path_; }
  // When the head came from a peer: where from, and whether the cache already had it.
  const fetched_head& head_fetch() const { return fetched_; }
  tensor_codec codec() const { return codec_; }
  const std::shared_ptr<compute_executor>& executor() const { return executor_; }

 private:
  std::shared_ptr<const llama_model> head_;
  routing_table_actor table_;
  std::shared_ptr<compute_executor> executor_;
  bool owns_table_ = false;
  std::string joined_through_;
  std::string model_path_;
  fetched_head fetched_;
  tensor_codec codec_ = tensor_codec::f32;
};

}  // namespace corolla
