// `corolla bench wan`: the model over 1, 2 and 3 actor-node processes on this machine
// whose every link — client to server, server to server — runs through a relay shaped
// like a cluster's or the internet's (bench/tcp_relay.hpp; each node advertises its
// relay's address, so the swarm reaches it only through it). Per setting: decode steps/s
// with push and with round trips, and the time to first token of a 128- and a 512-token
// prompt, each beside the physical limit of that setting.
//
// The limit of a decode step: its one-way trips (push: client -> s1 -> ... -> sN ->
// client, N + 1; round trips: 2N), each one latency plus one token's hidden state over the
// bandwidth, plus the step's compute as one process does it (measured in the same run).
// Of a first token: the prompt's hidden states over the same trips, plus one process's
// prefill of the prompt; pipelined (push, in chunks), first_token_limit's. The route may
// beat neither.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/client.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "bench/bench_commands.hpp"
#include "bench/client_answer.hpp"
#include "bench/node_process.hpp"
#include "bench/tcp_relay.hpp"
#include "messages/caf_types.hpp"
#include "messages/tensor_codec.hpp"
#include "model/llama_config.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

// One actor-node behind the relay it advertises.
struct relayed_node {
  std::unique_ptr<tcp_relay> relay;
  std::unique_ptr<node_process> process;
};

result<std::vector<relayed_node>> start_nodes(const std::string& model, int64_t n_blocks, int n,
                                              const link_shape& link, tensor_codec codec) {
  std::vector<relayed_node> nodes;
  for (const auto& [start, end] : even_spans(n_blocks, n)) {
    const uint16_t port = free_loopback_port();
    if (port == 0) return status::io_error("no free port on 127.0.0.1");
    relayed_node node;
    node.relay = std::make_unique<tcp_relay>(port);
    node.relay->set_link(link);
    std::vector<std::string> args{"--model",     model,
                                  "--port",      std::to_string(port),
                                  "--advertise", node.relay->address(),
                                  "--span",      std::to_string(start) + ":" + std::to_string(end),
                                  "--name",      "node-" + std::to_string(nodes.size() + 1),
                                  "--codec",     to_string(codec)};
    if (!nodes.empty()) args.insert(args.end(), {"--seed", nodes.front().relay->address()});
    node.process =
        std::make_unique<node_process>(program_beside_this_one("actor-node"), std::move(args));
    if (!node.process->wait_for("serving blocks", 120s)) {
      return status::io_error("actor-node did not start: " + node.process->output());
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

std::vector<int32_t> random_prompt(int64_t tokens, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int32_t& id : ids) id = int32_t(rng() % uint64_t(vocab));
  return ids;
}

struct single_process {
  double decode_ms = 0;            // per step
  std::vector<double> prefill_ms;  // per prompt length
};

struct wan_mode {
  std::string name;
  bool push = false;
  int64_t chunk = 0;  // client_config::prefill_chunk
};

// The first token's limit: a whole prompt crosses every trip, then the route computes;
// in chunks, one chunk's crossing of every trip is what can not overlap, the rest is bound
// by the busier of the compute (one process's prefill: the nodes share the cores) and a
// link carrying the whole prompt.
double first_token_limit(const wan_setting& s, int trips, int64_t prompt, int64_t chunk,
                         double token_bytes, double prefill_ms) {
  const double ms_per_token = token_bytes * 8 / (s.mbps * 1e3);
  if (chunk <= 0 || chunk >= prompt) {
    return trips * (s.latency_ms + double(prompt) * ms_per_token) + prefill_ms;
  }
  return trips * (s.latency_ms + double(chunk) * ms_per_token) +
         std::max(prefill_ms, double(prompt - chunk) * ms_per_token);
}

}  // namespace

int run_wan_bench(const wan_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench wan: " << path.error().message() << "\n";
    return 1;
  }
  node_config cfg;
  enable_network(cfg, network_options{});
  caf::actor_system system{cfg};
  auto executor = std::make_shared<compute_executor>();
  single_process one;
  int64_t n_blocks = 0, dim = 0, vocab = 0;
  const status measured = executor->run([&] {
    auto model = llama_model::load(*path, model_options{});
    if (!model.ok()) return;
    n_blocks = model->config().n_blocks;
    dim = model->config().dim;
    vocab = model->config().vocab_size;
    const double rate = single_process_rate(*model, options.decode_tokens);
    one.decode_ms = rate > 0 ? 1000.0 / rate : 0;
    for (int64_t p : options.prompts) {
      auto stats = run_random_prompt(*model, p, 1, 7);
      one.prefill_ms.push_back(stats.ok() ? stats->prompt_ms : 0);
    }
  });
  if (!measured.ok() || n_blocks == 0 || one.decode_ms == 0) {
    std::cerr << "corolla bench wan: can not run " << *path << "\n";
    return 1;
  }
  const tensor_codec codec = options.codec;
  const double token_bytes = double(encoded_size(codec, 1, dim));
  char line[512];
  out << *path << ": actor-node processes on this machine, every link through a shaped relay "
      << "(both ways), codec " << to_string(codec) << " (" << token_bytes << " bytes a token), "
      << options.decode_tokens
      << (options.draft_tokens > 0 ? " greedy decode tokens\n" : " greedy decode steps\n");
  const bool speculating = options.draft_tokens > 0;
  std::shared_ptr<const llama_model> draft;
  if (!options.draft_path.empty()) {
    auto loaded = llama_model::load(options.draft_path, model_options{});
    if (!loaded.ok()) {
      std::cerr << "corolla bench wan: --draft: " << loaded.error().message() << "\n";
      return 1;
    }
    draft = std::make_shared<const llama_model>(std::move(*loaded));
  }
  if (speculating) {
    out << "speculation: up to " << options.draft_tokens << " tokens drafted a step "
        << (draft ? "by " + options.draft_path + " in the client" : std::string("from the context"))
        << " (the limit counts one token a step)\n";
  }
  out << "one process in the same run: " << one.decode_ms << " ms a decode step";
  for (size_t i = 0; i < options.prompts.size(); ++i) {
    out << ", " << one.prefill_ms[i] << " ms to prefill " << options.prompts[i] << " tokens";
  }
  std::vector<wan_mode> modes;
  if (options.prefill_chunk > 0) {
    modes.push_back({"push", true, options.prefill_chunk});
    modes.push_back({"push, whole prompts", true, 0});
  } else {
    modes.push_back({"push", true, 0});
  }
  modes.push_back({"round trips", false, 0});
  out << "\nlimit = one-way trips x (latency + bytes / bandwidth) + one process's compute";
  if (options.prefill_chunk > 0) {
    out << "; a prompt in chunks of " << options.prefill_chunk
        << " tokens (push): one chunk's trips + the larger of one process's prefill and the "
           "prompt's bytes over one link";
  }
  out << "\n\n"
      << "| one-way latency | bandwidth | servers | mode | decode "
      << (speculating ? "tokens" : "steps") << "/s | limit | share |";
  for (int64_t p : options.prompts) out << " first token, " << p << " tokens | limit | share |";
  out << "\n| ---: | ---: | ---: | --- | ---: | ---: | ---: |";
  for (size_t i = 0; i < options.prompts.size(); ++i) out << " ---: | ---: | ---: |";
  out << "\n";
  for (const wan_setting& setting : options.settings) {
    link_shape link;
    link.latency = std::chrono::microseconds(int64_t(setting.latency_ms * 1000));
    link.mbps = setting.mbps;
    const double trip_ms = setting.latency_ms + token_bytes * 8 / (setting.mbps * 1e3);
    for (int n : options.servers) {
      auto nodes = start_nodes(*path, n_blocks, n, link, codec);
      if (!nodes.ok()) {
        std::cerr << "corolla bench wan: " << nodes.error().message() << "\n";
        return 1;
      }
      remote_swarm_options ro;
      ro.peers = {nodes->front().relay->address()};
      ro.model_path = *path;
      ro.executor = executor;
      auto swarm = remote_swarm::join(system, ro);
      if (!swarm.ok()) {
        std::cerr << "corolla bench wan: " << swarm.error().message() << "\n";
        return 1;
      }
      for (const wan_mode& mode : modes) {
        const bool push = mode.push;
        client_config cc = swarm->client_defaults();
        cc.push = push;
        cc.prefill_chunk = mode.chunk;
        cc.draft_model = draft;
        cc.max_tokens = 1024;
        auto client = start_client(system, cc);
        if (!client.ok()) {
          std::cerr << "corolla bench wan: " << client.error().message() << "\n";
          return 1;
        }
        client_handle owner(*client);
        generate_request req;
        req.prompt = bench_prompt;
        req.options.sampling.temperature = 0;
        req.options.stop_at_eos = false;
        req.options.max_tokens = 4;  // a warm-up
        auto answer = ask_client(system, *client, req);
        req.options.max_tokens = options.decode_tokens;
        req.options.draft_tokens = options.draft_tokens;
        if (answer.ok()) answer = ask_client(system, *client, req);
        if (!answer.ok()) {
          std::cerr << "corolla bench wan: " << answer.error().message() << "\n";
          return 1;
        }
        const generation_stats& stats = answer->stats;
        const int trips = push ? n + 1 : 2 * n;
        const double decode = stats.decode_tokens_per_second();
        const double decode_limit = 1000.0 / (trips * trip_ms + one.decode_ms);
        char taken[64] = "";
        if (speculating) {
          std::snprintf(taken, sizeof taken, " (%lld of %lld drafts taken)",
                        static_cast<long long>(stats.accepted),
                        static_cast<long long>(stats.drafted));
        }
        std::snprintf(line, sizeof line,
                      "| %.1f ms | %.0f Mbit/s | %d | %s | %.2f%s | %.2f | %.0f%% |",
                      setting.latency_ms, setting.mbps, n, mode.name.c_str(), decode, taken,
                      decode_limit, 100 * decode / decode_limit);
        out << line;
        for (size_t i = 0; i < options.prompts.size(); ++i) {
          const int64_t p = options.prompts[i];
          generate_request first;
          first.tokens = random_prompt(p, vocab, 7);
          first.options.sampling.temperature = 0;
          first.options.stop_at_eos = false;
          first.options.max_tokens = 1;
          auto f = ask_client(system, *client, first);
          if (!f.ok()) {
            std::cerr << "corolla bench wan: " << f.error().message() << "\n";
            return 1;
          }
          const double limit =
              first_token_limit(setting, trips, p, mode.chunk, token_bytes, one.prefill_ms[i]);
          std::snprintf(line, sizeof line, " %.0f ms | %.0f ms | %.0f%% |", f->stats.prompt_ms,
                        limit, 100 * limit / f->stats.prompt_ms);
          out << line;
        }
        out << "\n" << std::flush;
      }
    }
  }
  out << "\nshare: the limit over what the route took (decode: steps/s over the limit's).\n";
  return 0;
}

}  // namespace corolla
