// actor-node: one node of a swarm — a server for a span of the model's blocks and a
// routing-table replica, published on host:port, joined to the swarm through its seeds.
//
// Lifecycle: read options (config file, command line wins) -> load the span on the
// compute thread -> publish the table -> join through the seeds -> serve until SIGINT or
// SIGTERM -> drain (no new sessions; open ones may finish within drain-timeout-ms) ->
// announce offline -> exit. Startup and shutdown lines go to stdout; errors to stderr.
#include <omp.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <random>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/compute_executor.hpp"
#include "actors/membership.hpp"
#include "actors/node_network.hpp"
#include "actors/routing_table.hpp"
#include "actors/server.hpp"
#include "apps/node_options.hpp"
#include "apps/openmp_spin.hpp"
#include "model/llama_config.hpp"
#include "model/model_id.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

int fail(const std::string& text) {
  std::cerr << "actor-node: " << text << "\n";
  return 1;
}

// Asks `whom` and waits for the answer (at most `timeout`).
template <class Reply, class Handle, class... Ts>
caf::expected<Reply> ask(caf::scoped_actor& self, const Handle& whom,
                         std::chrono::milliseconds timeout, Ts&&... xs) {
  caf::expected<Reply> out{caf::error{}};
  self->request(whom, timeout, std::forward<Ts>(xs)...)
      .receive([&](Reply& reply) { out = std::move(reply); },
               [&](caf::error& err) { out = std::move(err); });
  return out;
}

// The blocks to serve: the configured span, or for `auto` the swarm's largest gap.
result<std::pair<int64_t, int64_t>> choose_span(caf::scoped_actor& self,
                                                const routing_table_actor& table,
                                                const node_options& o, int64_t n_blocks) {
  if (o.span_start >= 0) {
    if (o.span_end > n_blocks) {
      return status::invalid_argument("span: [" + std::to_string(o.span_start) + ", " +
                                      std::to_string(o.span_end) + ") is outside the model's " +
                                      std::to_string(n_blocks) + " blocks");
    }
    return std::make_pair(o.span_start, o.span_end);
  }
  auto records = ask<std::vector<server_record>>(self, table, 10s, list_atom::value);
  if (!records) return status::io_error("the routing table did not answer");
  std::map<uint64_t, server_record> by_id;
  for (const server_record& r : *records) by_id[r.server_id] = r;
  return uncovered_span(block_coverage(by_id, n_blocks));
}

int run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      node_options defaults;
      std::cout << "actor-node --config FILE [--key value ...]\n"
                << node_option_descriptions(defaults) << "\n";
      return 0;
    }
  }
  auto read = read_node_options(args);
  if (!read.ok()) {
    std::cerr << "actor-node: " << read.error().message() << "\n";
    return 2;
  }
  const node_options& o = *read;

  // Signals are taken by sigwait below; blocked before any thread starts, so that no
  // other thread of the process is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string model_id;
  int64_t n_blocks = 0;
  {
    auto file = gguf_file::open(o.model);
    if (!file.ok()) return fail(file.error().message());
    auto config = read_llama_config(*file);
    if (!config.ok()) return fail(config.error().message());
    n_blocks = config->n_blocks;
    model_id = model_fingerprint(*file);
  }

  node_config cfg;
  enable_network(cfg, network_settings(o));
  caf::actor_system system{cfg};
  auto executor = std::make_shared<compute_executor>();
  if (o.threads > 0) executor->run([&] { omp_set_num_threads(int(o.threads)); });

  routing_table_config table_cfg;
  table_cfg.model_id = model_id;
  table_cfg.network = network_actor(system);
  table_cfg.gossip_period = std::chrono::milliseconds(o.gossip_period_ms);
  table_cfg.record_ttl = std::chrono::milliseconds(o.record_ttl_ms);
  table_cfg.peer_timeout = std::chrono::milliseconds(o.heartbeat_timeout_ms);
  table_cfg.seed = std::random_device{}();
  const routing_table_actor table = spawn_routing_table(system, table_cfg);
  auto stop_all = [&](const server_actor& server) {
    if (server) caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(table, caf::exit_reason::user_shutdown);
  };
  auto port = publish_table(system, table, o.host, uint16_t(o.port));
  if (!port) {
    stop_all(server_actor{});
    return fail("can not listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                system.render(port.error()));
  }
  const std::string address = o.host + ":" + std::to_string(*port);
  const std::string name = o.name.empty() ? address : o.name;
  std::cout << name << ": listening on " << address << (o.tls_cert.empty() ? "" : " (TLS)")
            << std::endl;

  caf::scoped_actor self{system};
  result<joined_swarm> joined = joined_swarm{};  // no seeds: this node starts a swarm
  if (!o.seeds.empty()) joined = join_swarm(system, table, o.seeds, 10s);
  if (!joined.ok()) {
    stop_all(server_actor{});
    return fail(joined.error().message());
  }
  auto span = choose_span(self, table, o, n_blocks);
  if (!span.ok()) {
    stop_all(server_actor{});
    return fail(span.error().message());
  }
  model_options span_options;
  span_options.first_block = span->first;
  span_options.end_block = span->second;
  span_options.with_head = false;
  result<llama_model> loaded = status::internal("the model was not loaded");
  status ran = executor->run([&] { loaded = llama_model::load(o.model, span_options); });
  if (!ran.ok() || !loaded.ok()) {
    stop_all(server_actor{});
    return fail(ran.ok() ? loaded.error().message() : ran.message());
  }

  server_config server_cfg;
  server_cfg.server_id = std::random_device{}() | (uint64_t(std::random_device{}()) << 32);
  server_cfg.name = name;
  server_cfg.model = std::make_shared<const llama_model>(std::move(*loaded));
  server_cfg.kv_budget_bytes = o.kv_budget_mib << 20;
  server_cfg.routing_table = table;
  server_cfg.executor = executor;
  server_cfg.host = o.host;
  server_cfg.port = *port;
  server_cfg.model_id = model_id;
  server_cfg.codec = o.codec;
  server_cfg.announce_period = std::chrono::milliseconds(o.gossip_period_ms);
  const server_actor server = spawn_server(system, server_cfg);
  ask<server_record>(self, server, 10s, info_atom::value);
  ask<uint64_t>(self, table, 10s, flush_atom::value);
  std::cout << name << ": serving blocks [" << span->first << ", " << span->second << ") of "
            << o.model << " (model " << model_id << ", codec " << to_string(o.codec) << ")"
            << std::endl;
  if (joined->through.empty()) {
    std::cout << name << ": started a new swarm" << std::endl;
  } else {
    std::cout << name << ": joined the swarm through " << joined->through << " ("
              << joined->servers_known << " servers known)" << std::endl;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  auto draining = ask<server_record>(self, server, 10s, drain_atom::value);
  std::cout << name << ": draining on " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << " ("
            << (draining ? draining->sessions : 0) << " sessions open)" << std::endl;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(o.drain_timeout_ms);
  int64_t open = draining ? draining->sessions : 0;
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    auto now = ask<server_record>(self, server, 10s, info_atom::value);
    open = now ? now->sessions : 0;
  }
  ask<server_record>(self, server, 10s, leave_atom::value);
  auto told = ask<uint64_t>(self, table, 10s, flush_atom::value);
  std::cout << name << ": left the swarm (" << (told ? *told : 0) << " peers told"
            << (open > 0 ? ", " + std::to_string(open) + " sessions cut off" : "") << ")"
            << std::endl;
  stop_all(server);
  executor->stop();
  return 0;
}

}  // namespace
}  // namespace corolla

int main(int argc, char** argv) {
  corolla::limit_openmp_spinning(argv);
  return corolla::run(argc, argv);
}
