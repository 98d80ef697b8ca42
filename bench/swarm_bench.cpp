// `corolla bench swarm`: real actor-node processes on this machine (started from the
// actor-node next to this program, on ports the system picks) and a client in this
// process.
#include <omp.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/client_session.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "bench/bench_commands.hpp"
#include "bench/client_answer.hpp"
#include "bench/node_process.hpp"
#include "messages/caf_types.hpp"
#include "model/generator.hpp"
#include "model/llama_config.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

// n actor-node processes splitting the model evenly; the first starts the swarm.
result<std::vector<std::unique_ptr<node_process>>> start_nodes(const std::string& model,
                                                               int64_t n_blocks, int n,
                                                               const std::string& key_file) {
  std::vector<std::unique_ptr<node_process>> nodes;
  for (const auto& [start, end] : even_spans(n_blocks, n)) {
    std::vector<std::string> args{"--model", model,
                                  "--port",  "0",
                                  "--codec", "f32",
                                  "--span",  std::to_string(start) + ":" + std::to_string(end),
                                  "--name",  "node-" + std::to_string(nodes.size() + 1)};
    if (!nodes.empty()) args.insert(args.end(), {"--seed", nodes.front()->address()});
    if (!key_file.empty()) args.insert(args.end(), {"--swarm-key", key_file});
    nodes.push_back(std::make_unique<node_process>(program_beside_this_one("actor-node"), args));
    if (!nodes.back()->wait_for("serving blocks", 120s)) {
      return status::io_error("actor-node did not start: " + nodes.back()->output());
    }
  }
  return nodes;
}

struct decode_figures {
  double tokens_per_second = 0;
  double compute_ms = 0, transfer_ms = 0;  // per token, summed over hops
};

result<decode_figures> decode(caf::actor_system& system, const remote_swarm& swarm, bool push,
                              int tokens) {
  client_config cfg = swarm.client_defaults();
  cfg.push = push;
  cfg.max_tokens = 256;
  COROLLA_ASSIGN_OR_RETURN(caf::actor client, start_client(system, cfg));
  client_handle owner(client);
  generate_request req;
  req.prompt = bench_prompt;
  req.options.sampling.temperature = 0;
  req.options.stop_at_eos = false;
  req.options.max_tokens = 4;  // a warm-up
  COROLLA_RETURN_IF_ERROR(ask_client(system, client, req).error());
  req.options.max_tokens = tokens;
  COROLLA_ASSIGN_OR_RETURN(const generate_reply reply, ask_client(system, client, req));
  decode_figures f;
  f.tokens_per_second = reply.stats.decode_tokens_per_second();
  for (const hop_timing& h : reply.mean_token) {
    f.compute_ms += h.compute_ms;
    f.transfer_ms += h.transfer_ms;
  }
  return f;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

// One-way latency per hop of a 1-token activation in push mode: the client session's
// steps through the route, each hop's inbound time (one machine: one monotonic clock).
result<std::vector<std::vector<double>>> hop_latencies(caf::actor_system& system,
                                                       const remote_swarm& swarm, int steps) {
  const llama_config& c = swarm.head_model()->config();
  client_session_config sc;
  sc.routing_table = swarm.routing_table();
  sc.session_id = std::random_device{}();
  sc.n_blocks = c.n_blocks;
  sc.dim = c.dim;
  sc.max_tokens = steps + 1;
  sc.codec = tensor_codec::f32;
  sc.push = true;
  const client_session_actor session = spawn_client_session(system, sc);
  caf::scoped_actor self{system};
  caf::error failed;
  self->request(session, 30s, open_atom::value)
      .receive([](const std::vector<hop_timing>&) {}, [&](caf::error& e) { failed = e; });
  std::vector<std::vector<double>> per_hop;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> value(-1, 1);
  for (int pos = 0; pos < steps && !failed; ++pos) {
    std::vector<float> x(size_t(c.dim));
    for (float& v : x) v = value(rng);
    self->request(session, 30s, session_step{pos, 1, std::move(x)})
        .receive(
            [&](const session_step_result& r) {
              per_hop.resize(r.timing.size());
              for (size_t h = 0; h < r.timing.size(); ++h) {
                per_hop[h].push_back(r.timing[h].inbound_ms);
              }
            },
            [&](caf::error& e) { failed = e; });
  }
  self->send(session, close_atom::value);
  if (failed) return status::internal("latency probe failed: " + describe(failed));
  return per_hop;
}

struct codec_error {
  double max_abs = 0, mean_abs = 0;
  int top1_same = 0, positions = 0;
};

// Teacher-forced logits of `tokens` with hidden states passed through `codec` where they
// would cross the wire in a 3-server split (client -> s1, s1 -> s2, s2 -> s3, s3 ->
// client), against the same run in f32.
codec_error logit_error(const llama_model& m, tensor_codec codec,
                        const std::vector<int32_t>& tokens) {
  const llama_config& c = m.config();
  const int64_t n = int64_t(tokens.size());
  const auto spans = even_spans(c.n_blocks, 3);
  auto run = [&](tensor_codec wire) {
    std::vector<float> x(size_t(n * c.dim));
    m.head().embed(tokens.data(), n, x.data());
    block_workspace ws;
    auto cross = [&] {
      std::vector<float> back;
      decode_tensor(encode_tensor(wire, x.data(), n, c.dim), c.dim, n, back);
      x = std::move(back);
    };
    for (const auto& [start, end] : spans) {
      cross();
      for (int64_t b = start; b < end; ++b) {
        kv_cache cache(c.kv_dim(), n, m.blocks()[size_t(b)].cache_type);
        block_forward(m.blocks()[size_t(b)], cache, x.data(), 0, n, ws);
      }
    }
    cross();
    std::vector<float> logits(size_t(n * c.vocab_size));
    head_workspace hws;
    m.head().logits(x.data(), n, logits.data(), hws);
    return logits;
  };
  const std::vector<float> reference = run(tensor_codec::f32), got = run(codec);
  codec_error e;
  e.positions = int(n);
  double sum = 0;
  for (int64_t t = 0; t < n; ++t) {
    const float* r = &reference[size_t(t * c.vocab_size)];
    const float* g = &got[size_t(t * c.vocab_size)];
    for (int64_t v = 0; v < c.vocab_size; ++v) {
      const double d = std::fabs(double(r[v]) - double(g[v]));
      e.max_abs = std::max(e.max_abs, d);
      sum += d;
    }
    e.top1_same +=
        std::max_element(r, r + c.vocab_size) - r == std::max_element(g, g + c.vocab_size) - g;
  }
  e.mean_abs = sum / double(n * c.vocab_size);
  return e;
}

void print_codecs(const swarm_bench_options& options, int64_t dim, std::ostream& out) {
  char line[256];
  out << "\nwire codecs: bytes per token per hop (this model, dim " << dim
      << "), and the logit error on " << options.stories_path
      << " (teacher-forced, f32 kernels, 3-server split, vs f32)\n\n"
      << "| codec | bytes/token/hop | max abs logit error | mean abs | top-1 same |\n"
      << "| --- | ---: | ---: | ---: | ---: |\n";
  std::shared_ptr<const llama_model> stories;
  std::vector<int32_t> tokens;
  if (std::filesystem::exists(options.stories_path)) {
    // The f32 kernels: with int8 ones, any change to a block's input moves the rounding of
    // its activation quantisation, which would hide the codec's own error.
    model_options f32;
    f32.kind = precision::f32;
    auto loaded = llama_model::load(options.stories_path, f32);
    if (loaded.ok()) {
      stories = std::make_shared<const llama_model>(std::move(*loaded));
      tokens = stories->tokenizer().encode(
          "Once upon a time, there was a little girl named Lily. She loved to play outside "
          "in the park with her friends.",
          true, true);
    }
  }
  std::vector<float> row(size_t(dim), 0.5f);
  for (tensor_codec codec : {tensor_codec::f32, tensor_codec::f16, tensor_codec::int8_block}) {
    const size_t bytes = encode_tensor(codec, row.data(), 1, dim).data.size();
    if (stories) {
      const codec_error e = logit_error(*stories, codec, tokens);
      std::snprintf(line, sizeof line, "| %s | %zu | %.2e | %.2e | %d / %d |\n", to_string(codec),
                    bytes, e.max_abs, e.mean_abs, e.top1_same, e.positions);
    } else {
      std::snprintf(line, sizeof line, "| %s | %zu | (stories260K absent) | | |\n",
                    to_string(codec), bytes);
    }
    out << line;
  }
}

}  // namespace

int run_swarm_bench(const swarm_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench swarm: " << path.error().message() << "\n";
    return 1;
  }
  network_options network;
  if (!options.swarm_key_file.empty()) {
    auto key = load_swarm_key(options.swarm_key_file);
    if (!key.ok()) {
      std::cerr << "corolla bench swarm: " << key.error().message() << "\n";
      return 1;
    }
    network.key = *key;
  }
  node_config cfg;
  enable_network(cfg, network);
  caf::actor_system system{cfg};
  auto executor = std::make_shared<compute_executor>();
  double single = 0;
  int64_t n_blocks = 0, dim = 0;
  const status measured = executor->run([&] {
    single = single_process_rate(*path, options.decode_tokens);
    auto file = gguf_file::open(*path);
    if (!file.ok()) return;
    auto config = read_llama_config(*file);
    if (config.ok()) n_blocks = config->n_blocks, dim = config->dim;
  });
  if (!measured.ok() || n_blocks == 0) {
    std::cerr << "corolla bench swarm: can not run " << *path << "\n";
    return 1;
  }
  char line[320];
  out << *path << ": actor-node processes on this machine (" << omp_get_max_threads()
      << " threads each), a client in this process, codec f32, " << options.decode_tokens
      << " greedy decode tokens\nsingle-process generator in the same run: " << single
      << " tokens/s\n\n"
      << "| processes | mode | decode tokens/s | vs single process | per token: compute ms | "
         "transfer ms |\n"
      << "| ---: | --- | ---: | ---: | ---: | ---: |\n";
  std::vector<std::string> latency_lines;
  for (int n : options.processes) {
    auto nodes = start_nodes(*path, n_blocks, n, options.swarm_key_file);
    if (!nodes.ok()) {
      std::cerr << "corolla bench swarm: " << nodes.error().message() << "\n";
      return 1;
    }
    remote_swarm_options ro;
    ro.peers = {nodes->front()->address()};
    ro.model_path = *path;
    ro.executor = executor;
    auto swarm = remote_swarm::join(system, ro);
    if (!swarm.ok()) {
      std::cerr << "corolla bench swarm: " << swarm.error().message() << "\n";
      return 1;
    }
    for (bool push : {true, false}) {
      auto f = decode(system, *swarm, push, options.decode_tokens);
      if (!f.ok()) {
        std::cerr << "corolla bench swarm: " << f.error().message() << "\n";
        return 1;
      }
      std::snprintf(line, sizeof line, "| %d | %s | %.1f | %.1f%% | %.2f | %.2f |\n", n,
                    push ? "push" : "round trips", f->tokens_per_second,
                    single > 0 ? 100.0 * f->tokens_per_second / single : 0, f->compute_ms,
                    f->transfer_ms);
      out << line << std::flush;
    }
    auto latencies = hop_latencies(system, *swarm, options.latency_steps);
    if (!latencies.ok()) {
      std::cerr << "corolla bench swarm: " << latencies.error().message() << "\n";
      return 1;
    }
    for (size_t h = 0; h < latencies->size(); ++h) {
      const auto& v = (*latencies)[h];
      std::snprintf(
          line, sizeof line, "| %d | %s | %.3f | %.3f |\n", n,
          h == 0 ? "client -> node-1"
                 : ("node-" + std::to_string(h) + " -> node-" + std::to_string(h + 1)).c_str(),
          percentile(v, 0.5), percentile(v, 0.99));
      latency_lines.push_back(line);
    }
    swarm->stop();
    for (auto& node : *nodes) node->signal(SIGTERM);
    for (auto& node : *nodes) node->wait_exit();
  }
  out << "\none-way latency per hop of a 1-token activation (" << dim * 4 << " bytes, f32), "
      << options.latency_steps << " push steps\n\n| processes | hop | p50 ms | p99 ms |\n"
      << "| ---: | --- | ---: | ---: |\n";
  for (const std::string& l : latency_lines) out << l;
  print_codecs(options, dim, out);
  return 0;
}

}  // namespace corolla
