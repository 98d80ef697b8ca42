#include "actors/remote_swarm.hpp"

#include <thread>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/node_network.hpp"
#include "actors/routing_table.hpp"
#include "model/model_id.hpp"

namespace corolla {

result<remote_swarm> remote_swarm::join(caf::actor_system& system,
                                        const remote_swarm_options& options) {
  remote_swarm swarm;
  swarm.executor_ = options.executor ? options.executor : std::make_shared<compute_executor>();
  swarm.model_path_ = options.model_path;
  if (swarm.model_path_.empty()) {
    COROLLA_ASSIGN_OR_RETURN(
        swarm.fetched_,
        fetch_head(system, options.peers,
                   options.head_cache.empty() ? default_head_cache() : options.head_cache,
                   options.peer_timeout * 4));
    swarm.model_path_ = swarm.fetched_.path;
  }
  COROLLA_ASSIGN_OR_RETURN(const std::string fingerprint, model_fingerprint(swarm.model_path_));
  const std::string model_id = swarm_model_id(fingerprint, options.kind, options.servers_kv);
  model_options head_options;
  head_options.kind = options.kind;
  head_options.first_block = 0;
  head_options.end_block = 0;
  result<llama_model> loaded = status::internal("the head was not loaded");
  COROLLA_RETURN_IF_ERROR(
      swarm.executor_->run([&] { loaded = llama_model::load(swarm.model_path_, head_options); }));
  COROLLA_RETURN_IF_ERROR(loaded.error());
  swarm.head_ = std::make_shared<const llama_model>(std::move(*loaded));

  if (options.table) {
    swarm.table_ = options.table;
  } else {
    swarm.table_ = spawn_network_table(system, model_id, options.gossip_period, options.record_ttl,
                                       options.peer_timeout);
    swarm.owns_table_ = true;
    COROLLA_ASSIGN_OR_RETURN(
        const joined_swarm joined,
        join_swarm(system, swarm.table_, options.peers, options.peer_timeout * 4));
    swarm.joined_through_ = joined.through;
  }
  swarm.codec_ = options.codec;
  if (!options.wait_for_coverage) return swarm;
  caf::scoped_actor self{system};
  // Records arrive with the first gossip; the connections to their nodes a little later.
  const int64_t n_blocks = swarm.head_->config().n_blocks;
  const auto deadline = std::chrono::steady_clock::now() + options.wait_for_route;
  std::string last_error;
  for (;;) {
    bool covered = false;
    self->request(swarm.table_, options.peer_timeout, route_request{0, n_blocks, {}})
        .receive(
            [&](const std::vector<route_hop>& route) {
              covered = true;
              swarm.codec_ = tensor_codec(route.front().server.codec);
            },
            [&](caf::error& e) { last_error = describe(e); });
    if (covered) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return status::not_found(
          (swarm.owns_table_ ? "joined through " + swarm.joined_through_ : "joined") +
          " but the swarm does not cover the model: " + last_error);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return swarm;
}

client_config remote_swarm::client_defaults() const {
  client_config cfg;
  cfg.head_model = head_;
  cfg.routing_table = table_;
  cfg.codec = codec_;
  cfg.executor = executor_;
  return cfg;
}

void remote_swarm::stop() {
  if (table_ && owns_table_) caf::anon_send_exit(table_, caf::exit_reason::user_shutdown);
  table_ = nullptr;
  executor_ = nullptr;
}

}  // namespace corolla
