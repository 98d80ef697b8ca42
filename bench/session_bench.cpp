#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/client.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "actors/server.hpp"
#include "bench/bench_commands.hpp"
#include "messages/caf_types.hpp"
#include "model/generator.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"

namespace corolla {

const char* const bench_prompt = "Once upon a time, in a quiet town by the sea,";

double single_process_rate(const std::string& path, int tokens) {
  auto model = llama_model::load(path, model_options{});
  return model.ok() ? single_process_rate(*model, tokens) : 0;
}

double single_process_rate(const llama_model& model, int tokens) {
  local_blocks blocks(model.blocks(), 512);
  generator gen(model.head(), model.tokenizer(), blocks, 512);
  generation_options opt;
  opt.sampling.temperature = 0;
  opt.max_tokens = tokens;
  opt.stop_at_eos = false;
  const auto ids = model.tokenizer().encode(bench_prompt, true, true);
  gen.generate(ids, opt, [](const std::string&) { return true; });  // warm-up
  gen.reset();
  auto stats = gen.generate(ids, opt, [](const std::string&) { return true; });
  return stats.ok() ? stats->decode_tokens_per_second() : 0;
}

namespace {

struct round_result {
  double aggregate = 0;                            // decode tokens/s over all sessions
  double per_session = 0;                          // mean of the sessions' own decode tokens/s
  double hop_compute_ms = 0, hop_transfer_ms = 0;  // per token, summed over hops (mean)
  int failed = 0;
};

// `clients` generate at once; aggregate = all decode tokens / the longest decode phase.
round_result run_round(caf::actor_system& system, const std::vector<caf::actor>& clients,
                       int tokens) {
  caf::scoped_actor self{system};
  generate_request req;
  req.prompt = bench_prompt;
  req.options.sampling.temperature = 0;
  req.options.max_tokens = tokens;
  for (const caf::actor& c : clients) {
    self->send(c, reset_atom::value);
    self->send(c, req);
  }
  round_result r;
  double decode_tokens = 0, longest_ms = 0;
  size_t done = 0;
  self->receive_while([&] { return done < clients.size(); })(
      [](const text_chunk&) {},
      [&](const generate_reply& reply) {
        const generation_stats& s = reply.stats;
        decode_tokens += double(std::max<int64_t>(s.generated_tokens() - 1, 1));
        longest_ms = std::max(longest_ms, s.generate_ms);
        r.per_session += s.decode_tokens_per_second() / double(clients.size());
        for (const hop_timing& h : reply.mean_token) {
          r.hop_compute_ms += h.compute_ms / double(clients.size());
          r.hop_transfer_ms += h.transfer_ms / double(clients.size());
        }
        ++done;
      },
      [&](const caf::error& e) {
        std::cerr << "session failed: " << describe(e) << "\n";
        ++r.failed;
        ++done;
      });
  r.aggregate = longest_ms > 0 ? 1000.0 * decode_tokens / longest_ms : 0;
  return r;
}

// What admission reserves for a session of a full context on a server holding every block
// and on one of `servers`, per KV type, and how many fit the default budget.
void admission_table(const std::string& path, int servers, std::ostream& out) {
  auto file = gguf_file::open(path);
  if (!file.ok()) return;
  auto config = read_llama_config(*file);
  if (!config.ok()) return;
  constexpr int64_t kTokens = 2048;
  const int64_t budget = server_config{}.kv_budget_bytes;
  const int64_t share = (config->n_blocks + servers - 1) / servers;
  char line[256];
  std::snprintf(line, sizeof line,
                "\nadmission: a %lld-token session's reservation (KV caches + input history) "
                "against the default %lld MiB budget\n",
                (long long)kTokens, (long long)(budget >> 20));
  out << line << "| KV type | all " << config->n_blocks << " blocks: MB | sessions that fit | "
      << share << " blocks: MB | sessions that fit |\n| --- | ---: | ---: | ---: | ---: |\n";
  for (const kv_type kv : {kv_type::f32, kv_type::f16, kv_type::q8_0}) {
    const int64_t whole = session_reservation_bytes(*config, config->n_blocks, kTokens, kv);
    const int64_t part = session_reservation_bytes(*config, share, kTokens, kv);
    std::snprintf(line, sizeof line, "| %s | %.1f | %lld | %.1f | %lld |\n", to_string(kv),
                  double(whole) / 1e6, (long long)(budget / whole), double(part) / 1e6,
                  (long long)(budget / part));
    out << line;
  }
}

}  // namespace

int run_session_bench(const session_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench sessions: " << path.error().message() << "\n";
    return 1;
  }
  node_config cfg;
  caf::actor_system system{cfg};
  local_swarm_options swarm_options;
  swarm_options.model_path = *path;
  swarm_options.servers = options.servers;
  auto swarm = local_swarm::start(system, swarm_options);
  if (!swarm.ok()) {
    std::cerr << "corolla bench sessions: " << swarm.error().message() << "\n";
    return 1;
  }
  // Measured on the swarm's compute thread, like everything else here: a second thread
  // entering OpenMP would slow every kernel of the process (compute_executor.hpp).
  double bandwidth = 0, single = 0;
  const status measured = swarm->executor()->run([&] {
    bandwidth = read_bandwidth_gbs(omp_get_max_threads());
    single = single_process_rate(*path, options.decode_tokens);
  });
  if (!measured.ok()) {
    std::cerr << "corolla bench sessions: " << measured.message() << "\n";
    return 1;
  }
  int most = 0;
  for (int n : options.sessions) most = std::max(most, n);
  std::vector<client_handle> owners;
  std::vector<caf::actor> clients;
  for (int i = 0; i < most; ++i) {
    client_config c = swarm->client_defaults();
    c.max_tokens = 256;
    auto client = start_client(system, c);
    if (!client.ok()) {
      std::cerr << "corolla bench sessions: " << client.error().message() << "\n";
      return 1;
    }
    owners.emplace_back(*client);
    clients.push_back(*client);
  }

  char line[256];
  out << *path << ": " << options.servers << " servers in one process, " << options.decode_tokens
      << " greedy decode tokens per session, read bandwidth " << bandwidth << " GB/s\n\n"
      << "| sessions | aggregate tokens/s | per session | vs 1 session | per token: compute ms "
         "| transfer ms |\n"
      << "| ---: | ---: | ---: | ---: | ---: | ---: |\n";
  double one = 0;
  for (int n : options.sessions) {
    const std::vector<caf::actor> some(clients.begin(), clients.begin() + n);
    run_round(system, some, 4);  // warm-up: the primitives of this batch size
    const round_result r = run_round(system, some, options.decode_tokens);
    if (n == options.sessions.front()) one = r.aggregate;
    std::snprintf(line, sizeof line, "| %d | %.1f | %.1f | %.2fx | %.2f | %.2f |%s\n", n,
                  r.aggregate, r.per_session, one > 0 ? r.aggregate / one : 0, r.hop_compute_ms,
                  r.hop_transfer_ms, r.failed ? " failures" : "");
    out << line << std::flush;
  }
  std::snprintf(line, sizeof line,
                "\nsingle-process generator: %.1f tokens/s; one session through %d servers: "
                "%.1f tokens/s = %.1f%% of it (target >= 95%%)\n",
                single, options.servers, one, single > 0 ? 100.0 * one / single : 0);
  out << line;
  admission_table(*path, options.servers, out);
  return 0;
}

}  // namespace corolla
