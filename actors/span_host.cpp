// span_host: loads spans on request and serves them.
//
// Owns: the servers it started (linked: they end with it) and the bytes of weights they
// hold against the budget. Talks to: whoever asks it to host (through the node's
// routing table), the compute executor (loading), the servers it spawns.
#include "actors/span_host.hpp"

#include <caf/actor_ostream.hpp>
#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "model/block_weights.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"

namespace corolla {

struct span_host_state {
  int64_t used_bytes = 0;
  static inline const char* name = "span_host";
};

namespace {

using host_pointer = span_host_actor::stateful_pointer<span_host_state>;

// What loading blocks [start, end) with `weights` takes.
result<int64_t> span_bytes(const std::string& path, precision weights, int64_t start, int64_t end) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(path));
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
  if (start < 0 || end > config.n_blocks || start >= end) {
    return status::invalid_argument(span_text(start, end) + " is not a span of the model's " +
                                    std::to_string(config.n_blocks) + " blocks");
  }
  const std::vector<int64_t> per_block = block_resident_bytes(file, config, weights);
  int64_t bytes = 0;
  for (int64_t b = start; b < end; ++b) bytes += per_block[size_t(b)];
  return bytes;
}

caf::result<server_record> host(host_pointer self, const span_host_config& cfg, int64_t start,
                                int64_t end) {
  const std::string& node = cfg.server.name;
  auto need = span_bytes(cfg.model_path, cfg.server.weights, start, end);
  if (!need.ok()) return to_error(need.error());
  const int64_t mib = 1 << 20;
  if (self->state.used_bytes + *need > cfg.budget_bytes) {
    return make_error(errc::over_budget,
                      node + " has " +
                          std::to_string((cfg.budget_bytes - self->state.used_bytes) / mib) +
                          " MiB of room for hosted blocks; " + span_text(start, end) + " needs " +
                          std::to_string(*need / mib) + " MiB");
  }
  auto loaded = load_span(*cfg.server.executor, cfg.server.weights, cfg.server.kv, cfg.model_path,
                          start, end);
  if (!loaded.ok()) return to_error(loaded.error());

  server_config sc = cfg.server;
  sc.server_id = random_id();
  sc.name = node + "+" + std::to_string(start) + ":" + std::to_string(end);
  sc.model = *loaded;
  const server_actor server = spawn_server(self->system(), sc);
  self->link_to(server);
  self->state.used_bytes += *need;
  caf::aout(self) << node << ": hosting blocks " << span_text(start, end) << " as " << sc.name
                  << " (asked by a node giving them up)" << std::endl;
  auto promise = self->make_response_promise<server_record>();
  self->request(server, std::chrono::seconds(10), info_atom::value)
      .then([promise](server_record& r) mutable { promise.deliver(std::move(r)); },
            [promise](caf::error& e) mutable { promise.deliver(std::move(e)); });
  return promise;
}

span_host_actor::behavior_type span_host_behavior(host_pointer self, span_host_config cfg) {
  return {
      [self, cfg](host_atom, int64_t start, int64_t end) { return host(self, cfg, start, end); },
  };
}

}  // namespace

span_host_actor spawn_span_host(caf::actor_system& system, span_host_config cfg) {
  return system.spawn<caf::detached>(span_host_behavior, std::move(cfg));
}

}  // namespace corolla
