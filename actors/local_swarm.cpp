#include "actors/local_swarm.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <chrono>

#include "actors/routing_table.hpp"
#include "actors/server.hpp"

namespace corolla {

std::vector<block_span> even_spans(int64_t n_blocks, int64_t servers) {
  std::vector<block_span> spans;
  int64_t start = 0;
  for (int64_t i = 0; i < servers; ++i) {
    const int64_t size = n_blocks / servers + (i < n_blocks % servers ? 1 : 0);
    spans.emplace_back(start, start + size);
    start += size;
  }
  return spans;
}

namespace {

// The head and one model per span, as the servers and clients of the swarm use them.
status load_models(const local_swarm_options& options, std::vector<block_span>& spans,
                   std::shared_ptr<const llama_model>& head,
                   std::vector<std::shared_ptr<const llama_model>>& span_models) {
  model_options head_options;
  head_options.kind = options.kind;
  head_options.first_block = 0;
  head_options.end_block = 0;
  COROLLA_ASSIGN_OR_RETURN(auto loaded, llama_model::load(options.model_path, head_options));
  head = std::make_shared<const llama_model>(std::move(loaded));
  const int64_t n_blocks = head->config().n_blocks;
  if (!options.spans.empty()) {
    spans = options.spans;
  } else {
    if (options.servers < 1 || options.servers > n_blocks) {
      return status::invalid_argument(std::to_string(options.servers) + " servers for " +
                                      std::to_string(n_blocks) +
                                      " blocks: each server needs at least one block");
    }
    spans = even_spans(n_blocks, options.servers);
  }
  for (const auto& [start, end] : spans) {
    if (start >= end) {
      return status::invalid_argument("empty span [" + std::to_string(start) + ", " +
                                      std::to_string(end) + ")");
    }
    model_options span_options;
    span_options.kind = options.kind;
    span_options.kv = options.kv;
    span_options.first_block = start;
    span_options.end_block = end;
    span_options.with_head = false;
    COROLLA_ASSIGN_OR_RETURN(auto span, llama_model::load(options.model_path, span_options));
    span_models.push_back(std::make_shared<const llama_model>(std::move(span)));
  }
  return status();
}

}  // namespace

result<local_swarm> local_swarm::start(caf::actor_system& system,
                                       const local_swarm_options& options) {
  local_swarm swarm;
  // One compute thread for the process, shared by every server and client in it.
  swarm.executor_ =
      options.executor ? options.executor : std::make_shared<compute_executor>(options.compute);
  // Loading runs kernels too (quantising, reordering weights): on the compute thread,
  // so that the process keeps a single OpenMP pool (compute_executor.hpp).
  std::vector<std::shared_ptr<const llama_model>> spans;
  status loaded;
  COROLLA_RETURN_IF_ERROR(swarm.executor_->run(
      [&] { loaded = load_models(options, swarm.spans_, swarm.head_, spans); }));
  COROLLA_RETURN_IF_ERROR(loaded);
  swarm.table_ = spawn_routing_table(system);
  for (size_t i = 0; i < spans.size(); ++i) {
    server_config cfg;
    cfg.server_id = i + 1;
    cfg.name = "server-" + std::to_string(i + 1);
    cfg.model = spans[i];
    cfg.kv_budget_bytes =
        i < options.kv_budgets.size() ? options.kv_budgets[i] : options.kv_budget_bytes;
    cfg.routing_table = swarm.table_;
    cfg.executor = swarm.executor_;
    // Sessions and KV rows change without an announcement; a status page reads them here.
    cfg.announce_period = std::chrono::milliseconds(1000);
    if (i < options.faults.size()) cfg.faults = options.faults[i];
    swarm.servers_.push_back(spawn_server(system, std::move(cfg)));
  }
  // Servers announce themselves as they start; a client asking for a route before
  // then would find none. A server answers only after its start, and in one process
  // its announcement is in the table's mailbox from then on, ahead of our listing.
  caf::scoped_actor self{system};
  for (const server_actor& server : swarm.servers_) {
    caf::error err;
    self->request(server, std::chrono::seconds(10), info_atom::value)
        .receive([](const server_record&) {}, [&](caf::error& e) { err = std::move(e); });
    if (err) return status::io_error("a local server did not start: " + describe(err));
  }
  size_t listed = 0;
  self->request(swarm.table_, std::chrono::seconds(10), list_atom::value)
      .receive([&](const std::vector<server_record>& records) { listed = records.size(); },
               [](const caf::error&) {});
  if (listed != swarm.servers_.size()) {
    return status::io_error("the routing table lists " + std::to_string(listed) + " of " +
                            std::to_string(swarm.servers_.size()) + " local servers");
  }
  return swarm;
}

client_config local_swarm::client_defaults() const {
  client_config cfg;
  cfg.head_model = head_;
  cfg.routing_table = table_;
  cfg.executor = executor_;
  return cfg;
}

void local_swarm::stop() {
  for (const server_actor& s : servers_) caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  servers_.clear();
  if (table_) caf::anon_send_exit(table_, caf::exit_reason::user_shutdown);
  table_ = nullptr;
  executor_ = nullptr;
}

}  // namespace corolla
