#include "actors/swarm_node.hpp"

#include <fstream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/balance_plan.hpp"
#include "actors/balancing.hpp"
#include "actors/membership.hpp"
#include "actors/node_network.hpp"
#include "actors/routing_table.hpp"
#include "actors/server.hpp"
#include "actors/span_host.hpp"
#include "model/block_weights.hpp"
#include "model/llama_config.hpp"
#include "model/model_id.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

// How long a local actor may take to answer: they answer at once unless the process is
// overloaded, and start-up or leaving should not hang on one that is gone.
constexpr auto local_timeout = 10s;
// The payload that times the link to the seed.
constexpr uint64_t link_probe_bytes = uint64_t(4) << 20;

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

// What the machine has available (/proc/meminfo's MemAvailable); 0 when unknown.
int64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

// How many blocks a node serves when not told: as many as its memory budget holds
// next to its KV budget.
result<int64_t> blocks_to_serve(const swarm_node_options& o,
                                const std::vector<int64_t>& block_bytes) {
  const int64_t n_blocks = int64_t(block_bytes.size());
  if (o.num_blocks > 0) return std::min(o.num_blocks, n_blocks);
  const int64_t available = available_memory_bytes();
  const int64_t budget = o.memory_budget_bytes > 0 ? o.memory_budget_bytes : available / 10 * 9;
  if (budget <= 0) return n_blocks;
  int64_t room = budget - o.kv_budget_bytes;
  int64_t count = 0;
  while (count < n_blocks && room >= block_bytes[size_t(count)])
    room -= block_bytes[size_t(count++)];
  if (count == 0) {
    const int64_t mib = 1 << 20;
    return status::invalid_argument(
        "memory budget: " + std::to_string(budget / mib) + " MiB holds no block next to the " +
        std::to_string(o.kv_budget_bytes / mib) + " MiB KV budget (a block takes " +
        std::to_string(block_bytes.front() / mib) + " MiB)");
  }
  return count;
}

// The blocks to serve: the configured span, or rule 1's window over the swarm's
// announced throughputs, chosen after a random wait.
result<std::pair<int64_t, int64_t>> choose_span(caf::actor_system& system,
                                                const routing_table_actor& table,
                                                const swarm_node_options& o,
                                                const std::vector<int64_t>& block_bytes) {
  const int64_t n_blocks = int64_t(block_bytes.size());
  if (o.span_start >= 0) {
    if (o.span_end > n_blocks || o.span_end <= o.span_start) {
      return status::invalid_argument("span: " + span_text(o.span_start, o.span_end) +
                                      " is outside the model's " + std::to_string(n_blocks) +
                                      " blocks");
    }
    return std::make_pair(o.span_start, o.span_end);
  }
  COROLLA_ASSIGN_OR_RETURN(const int64_t length, blocks_to_serve(o, block_bytes));
  if (o.join_delay.count() > 0) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(random_id() % uint64_t(o.join_delay.count())));
  }
  auto records = ask<std::vector<server_record>>(system, table, list_atom::value);
  if (!records) return status::io_error("the routing table did not answer");
  const int64_t start =
      choose_best_start(block_throughputs(balancing_spans(*records), n_blocks), length);
  return std::make_pair(start, start + length);
}

// Where plan mode's plan puts span [start, end) of server `id`, announcing `throughput`,
// among the swarm's records.
result<int64_t> planned_start(caf::actor_system& system, const routing_table_actor& table,
                              uint64_t id, int64_t start, int64_t end, double throughput,
                              int64_t n_blocks) {
  auto records = ask<std::vector<server_record>>(system, table, list_atom::value);
  if (!records) return status::io_error("the routing table did not answer");
  std::vector<swarm_span> spans = balancing_spans(*records);
  spans.push_back(swarm_span{id, start, end, throughput, true});
  return plan_placement(spans, n_blocks).starts.back();
}

}  // namespace

result<swarm_node> swarm_node::start(caf::actor_system& system, const swarm_node_options& o) {
  swarm_node node;
  node.system_ = &system;
  node.executor_ = o.executor ? o.executor : std::make_shared<compute_executor>();
  std::vector<int64_t> block_bytes;  // the file's, per block
  int64_t dim = 0;
  {
    COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(o.model_path));
    COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
    block_bytes = block_resident_bytes(file, config, o.weights);
    dim = config.dim;
    node.model_id_ = swarm_model_id(model_fingerprint(file), o.weights, o.kv);
  }
  const int64_t n_blocks = int64_t(block_bytes.size());

  head_offer head;
  if (o.head_cache != "none") {
    auto prepared = prepare_head(o.model_path, node.model_id_,
                                 o.head_cache.empty() ? default_head_cache() : o.head_cache);
    if (!prepared.ok()) return prepared.error();
    head = std::move(*prepared);
  }
  node.table_ = spawn_network_table(system, node.model_id_, o.gossip_period, o.record_ttl,
                                    o.peer_timeout, std::move(head));
  auto port = publish_table(system, node.table_, o.host, o.port);
  if (!port) {
    return status::io_error("can not listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                            describe(port.error()));
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
  if (o.network_mbps > 0) {
    node.network_bytes_per_s_ = o.network_mbps * 1e6 / 8;
  } else if (!o.seeds.empty()) {
    auto measured = ask<double>(system, node.table_, probe_atom::value, link_probe_bytes);
    if (measured) node.network_bytes_per_s_ = *measured;
  }
  node.network_steps_per_s_ = node.network_bytes_per_s_ / double(encoded_size(o.codec, 1, dim));
  COROLLA_ASSIGN_OR_RETURN(const auto span, choose_span(system, node.table_, o, block_bytes));
  node.span_start_ = span.first;
  node.span_end_ = span.second;

  // Plan mode, span = auto: the plan places the span once the node's speed is known, and
  // one block is enough to time.
  const bool plan_join = o.balance && o.balancing.plan_mode && o.span_start < 0;
  COROLLA_ASSIGN_OR_RETURN(std::shared_ptr<const llama_model> loaded,
                           load_span(*node.executor_, o.weights, o.kv, o.model_path, span.first,
                                     plan_join ? span.first + 1 : span.second));
  result<block_throughput> speed = status::internal("the block was not measured");
  COROLLA_RETURN_IF_ERROR(node.executor_->run([&] {
    speed = node_block_throughput(loaded->blocks().front(), o.throughput_cache,
                                  node.block_speed_source_);
  }));
  COROLLA_RETURN_IF_ERROR(speed.error());
  if (const auto floor = node.executor_->options().min_block_time; floor.count() > 0) {
    // Measured outside the executor's passes (and cached as the machine's own): the
    // floor caps it here. 128: the measured prefill's tokens, one pass.
    const double passes_per_s = 1e6 / double(floor.count());
    speed->decode_steps_per_s = std::min(speed->decode_steps_per_s, passes_per_s);
    speed->prefill_tokens_per_s = std::min(speed->prefill_tokens_per_s, 128 * passes_per_s);
  }
  node.block_speed_ = *speed;

  server_config server_cfg;
  server_cfg.server_id = random_id();
  server_cfg.compute_ms_per_block = 1000.0 / speed->decode_steps_per_s;
  if (plan_join) {
    // Not a move: nothing is served yet.
    const int64_t length = span.second - span.first;
    COROLLA_ASSIGN_OR_RETURN(
        const int64_t planned,
        planned_start(system, node.table_, server_cfg.server_id, span.first, span.second,
                      announced_throughput(server_cfg.compute_ms_per_block, length,
                                           node.network_steps_per_s_),
                      n_blocks));
    COROLLA_ASSIGN_OR_RETURN(loaded, load_span(*node.executor_, o.weights, o.kv, o.model_path,
                                               planned, planned + length));
    if (planned != span.first) node.planned_from_ = span.first;
    node.span_start_ = planned;
    node.span_end_ = planned + length;
  }
  server_cfg.name = node.name_;
  server_cfg.model = loaded;
  server_cfg.kv_budget_bytes = o.kv_budget_bytes;
  server_cfg.routing_table = node.table_;
  server_cfg.executor = node.executor_;
  server_cfg.host = o.advertise_host.empty() ? o.host : o.advertise_host;
  server_cfg.port = o.advertise_port > 0 ? o.advertise_port : node.port_;
  server_cfg.model_id = node.model_id_;
  server_cfg.weights = o.weights;
  server_cfg.kv = o.kv;
  server_cfg.codec = o.codec;
  server_cfg.announce_period = o.gossip_period;
  server_cfg.faults = o.faults;
  server_cfg.balances = o.balance;
  server_cfg.network_steps_per_s = node.network_steps_per_s_;
  node.server_ = spawn_server(system, server_cfg);
  if (o.balance) {
    balancer_config balancer_cfg;
    balancer_cfg.settings = o.balancing;
    balancer_cfg.model_path = o.model_path;
    balancer_cfg.n_blocks = n_blocks;
    balancer_cfg.server = server_cfg;
    balancer_cfg.server.faults = fault_injection{};  // a fault is the first server's alone
    balancer_cfg.running = node.server_;
    node.balancer_ = spawn_balancer(system, std::move(balancer_cfg));
  }
  if (o.host_budget_bytes > 0) {
    span_host_config host_cfg;
    host_cfg.model_path = o.model_path;
    host_cfg.budget_bytes = o.host_budget_bytes;
    host_cfg.server = server_cfg;
    host_cfg.server.model = nullptr;
    host_cfg.server.faults = fault_injection{};
    node.span_host_ = spawn_span_host(system, host_cfg);
    caf::scoped_actor self{system};  // a sender of this node: the table takes it from no other
    self->send(node.table_, host_atom::value, node.span_host_);
  }
  // The server announces itself on start; once it has answered, the table has its record
  // and the flush passes it on to every peer before start returns.
  ask<server_record>(system, node.server_, info_atom::value);
  ask<uint64_t>(system, node.table_, flush_atom::value);
  return node;
}

server_actor swarm_node::server() const {
  if (!balancer_) return server_;
  auto now = ask<server_actor>(*system_, balancer_, info_atom::value);
  return now ? *now : server_actor{};
}

int64_t swarm_node::drain() {
  auto draining = balancer_ ? ask<server_record>(*system_, balancer_, drain_atom::value)
                            : ask<server_record>(*system_, server_, drain_atom::value);
  return draining ? draining->sessions : 0;
}

int64_t swarm_node::await_sessions(std::chrono::milliseconds timeout) {
  const server_actor serving = server();
  auto info = ask<server_record>(*system_, serving, info_atom::value);
  int64_t open = info ? info->sessions : 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    auto now = ask<server_record>(*system_, serving, info_atom::value);
    open = now ? now->sessions : 0;
  }
  return open;
}

uint64_t swarm_node::leave() {
  ask<server_record>(*system_, server(), leave_atom::value);
  auto told = ask<uint64_t>(*system_, table_, flush_atom::value);
  return told ? *told : 0;
}

void swarm_node::stop() {
  if (balancer_) caf::anon_send_exit(balancer_, caf::exit_reason::user_shutdown);
  balancer_ = nullptr;
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
