#include "actors/swarm_node.hpp"

#include <map>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/membership.hpp"
#include "actors/node_network.hpp"
#include "actors/routing_table.hpp"
#include "actors/server.hpp"
#include "actors/span_host.hpp"
#include "model/llama_config.hpp"
#include "model/model_id.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

// How long a local actor may take to answer: they answer at once unless the process is
// overloaded, and start-up or leaving should not hang on one that is gone.
constexpr auto local_timeout = 10s;

// Asks `whom` and waits for the answer.
template <class Reply, class Handle, class... Ts>
caf::expected<Reply> ask(caf::actor_system& system, const Handle& whom, Ts&&... xs) {
  caf::scoped_actor self{system};
  caf::expected<Reply> out{caf::error{}};
  self->request(whom, local_timeout, std::forward<Ts>(xs)...)
      .receive([&](Reply& reply) { out = std::move(reply); },
               [&](caf::error& err) { out = std::move(err); });
  return out;
}

// The blocks to serve: the configured span, or the swarm's largest gap.
result<std::pair<int64_t, int64_t>> choose_span(caf::actor_system& system,
                                                const routing_table_actor& table,
                                                const swarm_node_options& o, int64_t n_blocks) {
  if (o.span_start >= 0) {
    if (o.span_end > n_blocks || o.span_end <= o.span_start) {
      return status::invalid_argument("span: " + span_text(o.span_start, o.span_end) +
                                      " is outside the model's " + std::to_string(n_blocks) +
                                      " blocks");
    }
    return std::make_pair(o.span_start, o.span_end);
  }
  auto records = ask<std::vector<server_record>>(system, table, list_atom::value);
  if (!records) return status::io_error("the routing table did not answer");
  std::map<uint64_t, server_record> by_id;
  for (const server_record& r : *records) by_id[r.server_id] = r;
  return uncovered_span(block_coverage(by_id, n_blocks));
}

}  // namespace

result<swarm_node> swarm_node::start(caf::actor_system& system, const swarm_node_options& o) {
  swarm_node node;
  node.system_ = &system;
  node.executor_ = o.executor ? o.executor : std::make_shared<compute_executor>();
  int64_t n_blocks = 0;
  {
    COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(o.model_path));
    COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
    n_blocks = config.n_blocks;
    node.model_id_ = model_fingerprint(file);
  }

  node.table_ =
      spawn_network_table(system, node.model_id_, o.gossip_period, o.record_ttl, o.peer_timeout);
  auto port = publish_table(system, node.table_, o.host, o.port);
  if (!port) {
    return status::io_error("can not listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                            system.render(port.error()));
  }
  node.host_ = o.host;
  node.port_ = *port;
  node.name_ = o.name.empty() ? node.address() : o.name;

  if (!o.seeds.empty()) {
    COROLLA_ASSIGN_OR_RETURN(const joined_swarm joined,
                             join_swarm(system, node.table_, o.seeds, local_timeout));
    node.joined_through_ = joined.through;
    node.servers_known_ = joined.servers_known;
  }
  COROLLA_ASSIGN_OR_RETURN(const auto span, choose_span(system, node.table_, o, n_blocks));
  node.span_start_ = span.first;
  node.span_end_ = span.second;

  model_options span_options;
  span_options.first_block = span.first;
  span_options.end_block = span.second;
  span_options.with_head = false;
  result<llama_model> loaded = status::internal("the model was not loaded");
  COROLLA_RETURN_IF_ERROR(
      node.executor_->run([&] { loaded = llama_model::load(o.model_path, span_options); }));
  COROLLA_RETURN_IF_ERROR(loaded.error());
  result<block_throughput> speed = status::internal("the block was not measured");
  COROLLA_RETURN_IF_ERROR(node.executor_->run([&] {
    speed = node_block_throughput(loaded->blocks().front(), o.throughput_cache,
                                  node.block_speed_source_);
  }));
  COROLLA_RETURN_IF_ERROR(speed.error());
  node.block_speed_ = *speed;

  server_config server_cfg;
  server_cfg.server_id = random_id();
  server_cfg.name = node.name_;
  server_cfg.model = std::make_shared<const llama_model>(std::move(*loaded));
  server_cfg.kv_budget_bytes = o.kv_budget_bytes;
  server_cfg.compute_ms_per_block = 1000.0 / speed->decode_steps_per_s;
  server_cfg.routing_table = node.table_;
  server_cfg.executor = node.executor_;
  server_cfg.host = o.host;
  server_cfg.port = node.port_;
  server_cfg.model_id = node.model_id_;
  server_cfg.codec = o.codec;
  server_cfg.announce_period = o.gossip_period;
  server_cfg.faults = o.faults;
  node.server_ = spawn_server(system, server_cfg);
  if (o.host_budget_bytes > 0) {
    span_host_config host_cfg;
    host_cfg.model_path = o.model_path;
    host_cfg.budget_bytes = o.host_budget_bytes;
    host_cfg.server = server_cfg;
    host_cfg.server.model = nullptr;
    host_cfg.server.faults = fault_injection{};
    node.span_host_ = spawn_span_host(system, host_cfg);
    caf::anon_send(node.table_, host_atom::value, node.span_host_);
  }
  // The server announces itself on start; once it has answered, the table has its record
  // and the flush passes it on to every peer before start returns.
  ask<server_record>(system, node.server_, info_atom::value);
  ask<uint64_t>(system, node.table_, flush_atom::value);
  return node;
}

int64_t swarm_node::drain() {
  auto draining = ask<server_record>(*system_, server_, drain_atom::value);
  return draining ? draining->sessions : 0;
}

int64_t swarm_node::await_sessions(std::chrono::milliseconds timeout) {
  auto info = ask<server_record>(*system_, server_, info_atom::value);
  int64_t open = info ? info->sessions : 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    auto now = ask<server_record>(*system_, server_, info_atom::value);
    open = now ? now->sessions : 0;
  }
  return open;
}

uint64_t swarm_node::leave() {
  ask<server_record>(*system_, server_, leave_atom::value);
  auto told = ask<uint64_t>(*system_, table_, flush_atom::value);
  return told ? *told : 0;
}

void swarm_node::stop() {
  if (server_) caf::anon_send_exit(server_, caf::exit_reason::user_shutdown);
  if (span_host_) caf::anon_send_exit(span_host_, caf::exit_reason::user_shutdown);
  span_host_ = nullptr;
  if (table_) caf::anon_send_exit(table_, caf::exit_reason::user_shutdown);
  server_ = nullptr;
  table_ = nullptr;
}

std::string swarm_node::address() const {
  return host_ + ":" + std::to_string(port_);
}

}  // namespace corolla
