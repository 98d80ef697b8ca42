#include "apps/plan_command.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <thread>

#include "actors/balance_plan.hpp"
#include "actors/membership.hpp"
#include "actors/node_config.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "actors/route_planner.hpp"
#include "actors/span_planner.hpp"
#include "apps/command_line.hpp"
#include "messages/caf_types.hpp"
#include "model/block_weights.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

constexpr double mib = 1 << 20;

bool parse_number(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && value >= 0;
}

bool parse_int(const std::string& text, int64_t& value) {
  const auto [stop, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && err == std::errc() && stop == text.data() + text.size() && value >= 0;
}

// "NAME,MEMORY_MIB,THROUGHPUT[,START:END]"
result<plan_node> parse_node(const std::string& spec) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t comma; (comma = spec.find(',', from)) != std::string::npos; from = comma + 1) {
    parts.push_back(spec.substr(from, comma - from));
  }
  parts.push_back(spec.substr(from));
  auto bad = [&](const std::string& why) {
    return status::invalid_argument("--node '" + spec + "': " + why +
                                    " (expected NAME,MEMORY_MIB,THROUGHPUT[,START:END])");
  };
  if (parts.size() < 3 || parts.size() > 4 || parts[0].empty()) return bad("wrong fields");
  plan_node n;
  n.name = parts[0];
  double memory = 0;
  if (!parse_number(parts[1], memory)) return bad("memory is not a number of MiB");
  n.memory_bytes = int64_t(memory * mib);
  if (!parse_number(parts[2], n.throughput)) return bad("throughput is not a number");
  if (parts.size() == 4) {
    const size_t colon = parts[3].find(':');
    if (colon == std::string::npos || !parse_int(parts[3].substr(0, colon), n.start) ||
        !parse_int(parts[3].substr(colon + 1), n.end) || n.end <= n.start) {
      return bad("the current span is not START:END");
    }
  }
  return n;
}

// Blocks and the bytes of the largest block loaded with `weights`, from a GGUF file.
status read_model(const std::string& path, precision weights, int64_t& n_blocks,
                  int64_t& block_bytes) {
  COROLLA_ASSIGN_OR_RETURN(gguf_file file, gguf_file::open(path));
  COROLLA_ASSIGN_OR_RETURN(const llama_config config, read_llama_config(file));
  n_blocks = config.n_blocks;
  const std::vector<int64_t> bytes = block_resident_bytes(file, config, weights);
  block_bytes = *std::max_element(bytes.begin(), bytes.end());
  return status();
}

// What one session's decode steps through the swarm as it is cost: the route this
// process would take (announced block times, its measured round trips).
void print_session_route(const std::vector<server_record>& records, int64_t n_blocks,
                         std::ostream& out) {
  std::vector<route_candidate> candidates;
  for (const server_record& r : records) {
    if (r.state != uint8_t(serving_state::online)) continue;
    candidates.push_back(route_candidate_of(r));
  }
  const auto route = plan_min_latency_route(candidates, 0, n_blocks);
  if (!route) {
    out << "one session: no route (a block has no online server)\n";
    return;
  }
  std::string hops;
  for (const planned_hop& h : *route) {
    const auto r = std::find_if(records.begin(), records.end(),
                                [&](const server_record& x) { return x.server_id == h.server_id; });
    hops += (hops.empty() ? "" : ", ") + r->name + " " + span_text(h.start_block, h.end_block);
  }
  const route_cost cost = cost_of(*route, candidates);
  char line[256];
  std::snprintf(line, sizeof line,
                ": %.1f ms compute + %.1f ms round trips a step = %.1f decode steps/s\n",
                cost.compute_ms, cost.rtt_ms, 1000.0 / cost.total_ms());
  out << "one session now: " << hops << line;
}

// --peer: the live swarm's spans, as a node's table holds them, beside the placement
// plan mode would move them to (actors/balance_plan.hpp).
int plan_live_swarm(const std::string& peer, const std::string& model, precision kind,
                    std::optional<kv_type> kv, std::ostream& out) {
  node_config cfg;
  enable_network(cfg, network_options{});
  caf::actor_system system{cfg};
  remote_swarm_options o;
  o.peers = {peer};
  o.model_path = model;
  o.kind = kind;
  o.servers_kv = kv.value_or(kv_type::f16);
  o.wait_for_coverage = false;
  auto swarm = remote_swarm::join(system, o);
  if (!swarm.ok()) {
    std::cerr << "corolla plan: " << swarm.error().message() << "\n";
    return 1;
  }
  // The joining replica learns the others' records by gossip: wait until two periods
  // pass without a new one.
  caf::scoped_actor self{system};
  std::vector<server_record> records;
  for (size_t seen = 0, quiet = 0; quiet < 2; std::this_thread::sleep_for(o.gossip_period)) {
    self->request(swarm->routing_table(), std::chrono::seconds(5), list_atom::value)
        .receive([&](std::vector<server_record>& r) { records = std::move(r); },
                 [&](const caf::error&) { records.clear(); });
    quiet = records.size() == seen ? quiet + 1 : 0;
    seen = records.size();
  }
  const int64_t n_blocks = swarm->head_model()->config().n_blocks;
  // Every server as movable: an operator can restart any node on its planned span; the
  // balancing column says which would move by themselves now.
  std::vector<swarm_span> spans = balancing_spans(records);
  std::vector<bool> balances;
  for (swarm_span& sp : spans) {
    balances.push_back(sp.can_move);
    sp.can_move = true;
  }
  const placement plan = plan_placement(spans, n_blocks);
  double spread = 0;
  for (const swarm_span& sp : spans) spread += sp.throughput * double(sp.end - sp.start);
  spread /= double(n_blocks);
  char line[256];
  out << "the swarm through " << swarm->joined_through() << ": " << spans.size() << " servers over "
      << n_blocks << " blocks\n\n"
      << "| server | balancing | throughput | serves now | plan |\n| --- | --- | ---: | --- | --- "
         "|\n";
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto r = std::find_if(records.begin(), records.end(), [&](const server_record& x) {
      return x.server_id == spans[i].server_id;
    });
    const int64_t length = spans[i].end - spans[i].start;
    const std::string now = std::to_string(spans[i].start) + ":" + std::to_string(spans[i].end);
    const std::string to =
        plan.starts[i] == spans[i].start
            ? "stays"
            : std::to_string(plan.starts[i]) + ":" + std::to_string(plan.starts[i] + length);
    std::snprintf(line, sizeof line, "| %s | %s | %.1f | %s | %s |\n",
                  r == records.end() ? "?" : r->name.c_str(), balances[i] ? "yes" : "no",
                  spans[i].throughput, now.c_str(), to.c_str());
    out << line;
  }
  std::snprintf(line, sizeof line,
                "\nweakest block: %.1f steps/s now, %.1f with the plan (%d moves); even-spread "
                "bound %.1f\n",
                swarm_throughput(spans, n_blocks), plan.throughput, plan.moves, spread);
  out << line;
  print_session_route(records, n_blocks, out);
  return 0;
}

}  // namespace

int run_plan(const std::vector<std::string>& args, std::ostream& out) {
  po::options_description opts(
      "corolla plan (--model FILE | --blocks N --block-mib M) --node NAME,MEMORY_MIB,"
      "THROUGHPUT[,START:END] ...\n"
      "corolla plan --peer HOST:PORT [--model FILE]: a live swarm beside its plan\n"
      "THROUGHPUT: block-steps per second on the node (decode steps/s of one block);\n"
      "START:END: the span it serves now (blocks kept in place are counted)");
  std::string model;
  int64_t n_blocks = 0;
  double block_mib = 0;
  std::vector<std::string> specs;
  opts.add_options()("help,h", "show this help")("model", po::value(&model),
                                                 "GGUF file: its blocks and their size")(
      "blocks", po::value(&n_blocks), "blocks of the model (without --model)")(
      "block-mib", po::value(&block_mib), "memory one block takes (without --model)")(
      "node", po::value(&specs)->composing(), "a node (repeatable)")(
      "peer", po::value<std::string>(),
      "HOST:PORT of a node: print the live swarm's spans beside plan mode's placement");
  std::string weights, kv_name;
  add_precision_options(opts, weights, &kv_name);
  po::variables_map vm;
  if (auto done = parse_command_line(opts, args, "corolla plan", out, vm)) return *done;
  const auto kind = precision_from_options(vm, weights, "corolla plan");
  std::optional<kv_type> kv;
  if (!kind || !kv_from_options(kv_name, "corolla plan", kv)) return 2;
  if (vm.count("peer")) return plan_live_swarm(vm["peer"].as<std::string>(), model, *kind, kv, out);
  int64_t block_bytes = int64_t(block_mib * mib);
  if (!model.empty()) {
    if (status s = read_model(model, *kind, n_blocks, block_bytes); !s.ok()) {
      std::cerr << "corolla plan: " << s.message() << "\n";
      return 1;
    }
  }
  if (n_blocks <= 0 || block_bytes <= 0 || specs.empty()) {
    std::cerr << "corolla plan: give --model FILE (or --blocks and --block-mib) and at least "
                 "one --node\n";
    return 2;
  }
  std::vector<plan_node> nodes;
  for (const std::string& spec : specs) {
    auto n = parse_node(spec);
    if (!n.ok()) {
      std::cerr << "corolla plan: " << n.error().message() << "\n";
      return 2;
    }
    nodes.push_back(*n);
  }
  auto counts = best_block_counts(nodes, n_blocks, block_bytes);
  if (!counts) {
    std::cerr << "corolla plan: the nodes' memory holds fewer than the model's " << n_blocks
              << " blocks of " << double(block_bytes) / mib << " MiB\n";
    return 1;
  }
  const span_plan plan = place_spans(nodes, *counts, n_blocks, block_bytes);
  const auto proportional = memory_proportional_counts(nodes, n_blocks, block_bytes);
  const double by_memory =
      proportional ? bottleneck_of(nodes, *proportional, n_blocks, block_bytes) : 0;
  char line[256];
  std::snprintf(line, sizeof line, "%lld blocks of %.1f MiB%s%s\n\n",
                static_cast<long long>(n_blocks), double(block_bytes) / mib,
                model.empty() ? "" : " from ", model.c_str());
  out << line << "| node | memory MiB | throughput | serves now | plan | steps/s |\n"
      << "| --- | ---: | ---: | --- | --- | ---: |\n";
  std::vector<std::string> planned(nodes.size(), "-");
  std::vector<double> pace(nodes.size(), 0);
  for (const planned_span& s : plan.spans) {
    planned[s.node] = std::to_string(s.start) + ":" + std::to_string(s.end);
    pace[s.node] = nodes[s.node].throughput / double(s.end - s.start);
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const plan_node& n = nodes[i];
    const std::string now =
        n.end > n.start ? std::to_string(n.start) + ":" + std::to_string(n.end) : "-";
    std::snprintf(line, sizeof line, "| %s | %.0f | %.2f | %s | %s | %.2f |\n", n.name.c_str(),
                  double(n.memory_bytes) / mib, n.throughput, now.c_str(), planned[i].c_str(),
                  pace[i]);
    out << line;
  }
  std::snprintf(line, sizeof line,
                "\nbottleneck: %.2f steps/s; split by memory (as exo and llama.cpp): %.2f "
                "steps/s\nblocks kept in place: %lld of %lld\n\nactor-node spans:\n",
                plan.bottleneck, by_memory, static_cast<long long>(plan.blocks_kept),
                static_cast<long long>(n_blocks));
  out << line;
  for (const planned_span& s : plan.spans) {
    out << "  " << nodes[s.node].name << ": span = " << s.start << ":" << s.end << "\n";
  }
  return 0;
}

}  // namespace corolla
