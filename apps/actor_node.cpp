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
#include <cmath>
#include <iostream>

#include <caf/actor_system.hpp>

#include "actors/compute_executor.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "actors/swarm_node.hpp"
#include "apps/command_line.hpp"
#include "apps/http_face.hpp"
#include "apps/node_options.hpp"
#include "apps/openmp_spin.hpp"
#include "kernels/cpu_isa.hpp"

namespace corolla {
namespace {

int fail(const std::string& text) {
  std::cerr << "actor-node: " << text << "\n";
  return 1;
}

http_settings http_of(const node_options& o) {
  http_settings h;
  h.host = o.http_host;
  h.port = o.http_port;
  h.api_key = o.http_api_key;
  h.max_requests = o.http_max_requests;
  h.kept_sessions = o.http_kept_sessions;
  return h;
}

// The HTTP face on a swarm reached through `swarm` (joined, or this node's own table).
result<std::unique_ptr<http_gateway>> serve_http(caf::actor_system& system, const node_options& o,
                                                 const remote_swarm& swarm) {
  client_config client = swarm.client_defaults();
  client.push = true;
  client.spot_checks.fraction = o.spot_check;
  client.checkpoint_every = o.checkpoint_every;
  return start_http(system, http_of(o), client, o.model, generation_options{});
}

// The HTTP face's view of the swarm: the head of o.model, the swarm's codec, no waiting for
// coverage (/health answers 503 meanwhile); the caller adds the table or the seeds.
remote_swarm_options head_side_options(const node_options& o,
                                       std::shared_ptr<compute_executor> executor) {
  remote_swarm_options ro;
  ro.model_path = o.model;
  ro.kind = o.weights;
  ro.servers_kv = o.kv;
  ro.gossip_period = std::chrono::milliseconds(o.gossip_period_ms);
  ro.record_ttl = std::chrono::milliseconds(o.record_ttl_ms);
  ro.peer_timeout = std::chrono::milliseconds(o.heartbeat_timeout_ms);
  ro.executor = std::move(executor);
  ro.wait_for_coverage = false;
  ro.codec = o.codec;
  return ro;
}

sigset_t blocked_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

// span = none: no blocks, a client of the swarm serving the HTTP face until a signal.
int run_gateway(const node_options& o, sigset_t stop_signals) {
  node_config cfg;
  enable_network(cfg, network_settings(o));
  caf::actor_system system{cfg};
  auto executor = std::make_shared<compute_executor>();
  if (o.threads > 0) executor->run([&] { omp_set_num_threads(int(o.threads)); });
  remote_swarm_options ro = head_side_options(o, executor);
  ro.peers = o.seeds;
  auto swarm = remote_swarm::join(system, ro);
  if (!swarm.ok()) return fail(swarm.error().message());
  auto gateway = serve_http(system, o, *swarm);
  if (!gateway.ok()) return fail(gateway.error().message());
  const std::string name = o.name.empty() ? "gateway" : o.name;
  std::cout << name << ": a gateway (no blocks) joined the swarm through "
            << swarm->joined_through() << "\n"
            << name << ": " << http_banner(**gateway) << std::endl;
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*gateway)->stop();
  swarm->stop();
  executor->stop();
  std::cout << name << ": stopped on " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
            << std::endl;
  return 0;
}

int run(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (wants_version(args)) {
    std::cout << version_text("actor-node") << "\n";
    return 0;
  }
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
  const sigset_t stop_signals = blocked_stop_signals();
  if (o.gateway_only) return run_gateway(o, stop_signals);

  node_config cfg;
  enable_network(cfg, network_settings(o));
  caf::actor_system system{cfg};
  compute_options compute;
  compute.min_block_time =
      std::chrono::microseconds(int64_t(std::llround(o.fault_block_ms * 1000)));
  auto executor = std::make_shared<compute_executor>(compute);
  if (o.threads > 0) executor->run([&] { omp_set_num_threads(int(o.threads)); });

  swarm_node_options node_cfg;
  node_cfg.name = o.name;
  node_cfg.host = o.host;
  node_cfg.advertise_host = o.advertise_host;
  node_cfg.advertise_port = o.advertise_port;
  node_cfg.port = uint16_t(o.port);
  node_cfg.seeds = o.seeds;
  node_cfg.model_path = o.model;
  node_cfg.weights = o.weights;
  node_cfg.kv = o.kv;
  node_cfg.span_start = o.span_start;
  node_cfg.span_end = o.span_end;
  node_cfg.kv_budget_bytes = o.kv_budget_mib << 20;
  node_cfg.codec = o.codec;
  node_cfg.gossip_period = std::chrono::milliseconds(o.gossip_period_ms);
  node_cfg.record_ttl = std::chrono::milliseconds(o.record_ttl_ms);
  node_cfg.peer_timeout = std::chrono::milliseconds(o.heartbeat_timeout_ms);
  node_cfg.executor = executor;
  node_cfg.faults = fault_settings(o);
  node_cfg.host_budget_bytes = o.host_budget_mib << 20;
  node_cfg.throughput_cache = o.throughput_cache;
  node_cfg.balance = o.balancing;
  node_cfg.num_blocks = o.num_blocks;
  node_cfg.memory_budget_bytes = o.memory_mib << 20;
  node_cfg.join_delay = std::chrono::milliseconds(o.join_delay_ms);
  node_cfg.balancing.check_period = std::chrono::milliseconds(o.mean_balance_check_period_ms);
  node_cfg.balancing.hole_watch = std::chrono::milliseconds(o.gossip_period_ms);
  node_cfg.balancing.move_stagger = std::chrono::milliseconds(2 * o.gossip_period_ms);
  node_cfg.balancing.plan_mode = o.balance_mode == "plan";
  node_cfg.balancing.balance_quality =
      o.balance_mode == "plan" ? o.plan_quality : o.balance_quality;
  node_cfg.balancing.max_moves_per_hour = int(o.max_moves_per_hour);
  node_cfg.balancing.grace = std::chrono::milliseconds(o.balance_grace_ms);
  node_cfg.network_mbps = o.network_mbps;
  auto started = swarm_node::start(system, node_cfg);
  if (!started.ok()) return fail(started.error().message());
  swarm_node& node = *started;
  const std::string& name = node.name();
  std::cout << name << ": listening on " << node.address() << (o.tls_cert.empty() ? "" : " (TLS)")
            << (o.advertise.empty() ? "" : ", advertised as " + o.advertise) << "\n"
            << name << ": serving blocks [" << node.span_start() << ", " << node.span_end()
            << ") of " << o.model << " (model " << node.model_id() << ", codec "
            << to_string(o.codec) << ", " << int8_path_summary() << ")" << std::endl;
  if (node.planned_from() >= 0) {
    const int64_t length = node.span_end() - node.span_start();
    std::cout << name << ": the swarm's plan put it there instead of rule 1's "
              << span_text(node.planned_from(), node.planned_from() + length) << std::endl;
  }
  if (node_cfg.faults.any()) {
    const fault_injection& f = node_cfg.faults;
    std::cout << name << ": fault injection on: crash after " << f.crash_after_steps
              << " steps, stall after " << f.stall_after_steps << ", delay "
              << f.reply_delay.count() << " ms, drop " << f.drop_fraction << ", block "
              << f.crash_block << " throws after " << f.block_crash_after_steps << " steps in "
              << f.block_crashes << " lives" << std::endl;
  }
  if (node.joined_through().empty()) {
    std::cout << name << ": started a new swarm" << std::endl;
  } else {
    std::cout << name << ": joined the swarm through " << node.joined_through() << " ("
              << node.servers_known_at_join() << " servers known)" << std::endl;
  }
  std::cout << name << ": one block runs " << node.block_speed().decode_steps_per_s
            << " decode steps/s, " << node.block_speed().prefill_tokens_per_s
            << " prefill tokens/s (" << node.block_speed_source() << ")" << std::endl;
  if (node.network_steps_per_s() > 0) {
    std::cout << name << ": its link carries " << node.network_bytes_per_s() * 8 / 1e6
              << " Mbit/s, " << node.network_steps_per_s() << " decode steps/s ("
              << (o.network_mbps > 0 ? "configured" : "measured against " + node.joined_through())
              << ")" << std::endl;
  }

  std::unique_ptr<http_gateway> gateway;
  remote_swarm head_side;  // the gateway's view of the swarm: this node's own table
  if (!o.http.empty()) {
    remote_swarm_options ro = head_side_options(o, executor);
    ro.table = node.routing_table();
    auto joined = remote_swarm::join(system, ro);
    if (!joined.ok()) return fail(joined.error().message());
    head_side = std::move(*joined);
    auto served = serve_http(system, o, head_side);
    if (!served.ok()) return fail(served.error().message());
    gateway = std::move(*served);
    std::cout << name << ": " << http_banner(*gateway) << std::endl;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  if (gateway) gateway->stop();
  const int64_t open = node.drain();
  std::cout << name << ": draining on " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << " ("
            << open << " sessions open)" << std::endl;
  const int64_t cut_off = node.await_sessions(std::chrono::milliseconds(o.drain_timeout_ms));
  const uint64_t told = node.leave();
  std::cout << name << ": left the swarm (" << told << " peers told"
            << (cut_off > 0 ? ", " + std::to_string(cut_off) + " sessions cut off" : "") << ")"
            << std::endl;
  node.stop();
  executor->stop();
  return 0;
}

}  // namespace
}  // namespace corolla

int main(int argc, char** argv) {
  corolla::limit_openmp_spinning(argv);
  return corolla::run(argc, argv);
}
