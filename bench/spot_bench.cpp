// `corolla bench spot`: what spot checks cost and how fast they catch a liar. Three
// servers of the whole model in one process (one compute thread, so a check's compute
// and the route's are measured on the same clock): server-1 serves the route, server-2
// checks it, server-3 referees. Rows: decode with checks off and at each fraction
// (the checkers' compute as a share of the route's), then a liar altering one output in
// `lie_every` caught at each fraction, over several sessions (check phases differ by seed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/client.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "bench/bench_commands.hpp"
#include "bench/client_answer.hpp"
#include "messages/caf_types.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

struct spot_run {
  generate_reply reply;
  double decode_tokens_per_s = 0;
  std::string error;
};

spot_run generate_with_checks(caf::actor_system& system, const local_swarm& swarm, double fraction,
                              uint64_t session_id, int steps) {
  client_config c = swarm.client_defaults();
  c.max_tokens = steps + 64;
  c.session_id = session_id;
  c.spot_checks.fraction = fraction;
  auto client = start_client(system, c);
  if (!client.ok()) return spot_run{{}, 0, client.error().message()};
  client_handle owner(*client);
  generate_request req;
  req.prompt = bench_prompt;
  req.options.sampling.temperature = 0;
  req.options.max_tokens = steps;
  req.options.stop_at_eos = false;
  spot_run run;
  auto answer = ask_client(system, *client, req);
  if (!answer.ok()) {
    run.error = answer.error().message();
    return run;
  }
  run.reply = std::move(*answer);
  const double ms = run.reply.stats.generate_ms;
  run.decode_tokens_per_s = ms > 0 ? 1000.0 * double(run.reply.stats.tokens.size()) / ms : 0;
  return run;
}

result<local_swarm> three_servers(caf::actor_system& system, const std::string& path,
                                  int64_t n_blocks, int64_t lie_every) {
  local_swarm_options o;
  o.model_path = path;
  o.spans = {{0, n_blocks}, {0, n_blocks}, {0, n_blocks}};
  o.faults.resize(3);
  o.faults[0].alter_every = lie_every;
  return local_swarm::start(system, o);
}

}  // namespace

int run_spot_bench(const spot_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench spot: " << path.error().message() << "\n";
    return 1;
  }
  node_config cfg;
  caf::actor_system system{cfg};
  auto fail = [](const std::string& why) {
    std::cerr << "corolla bench spot: " << why << "\n";
    return 1;
  };
  const auto blocks = model_blocks(*path);
  if (!blocks.ok()) return fail(blocks.error().message());
  const int64_t n_blocks = *blocks;
  char line[256];
  out << *path << ": 3 servers of all " << n_blocks << " blocks in one process (route, checker, "
      << "referee), " << options.steps << " greedy decode steps per session\n\n"
      << "| checks | decode tokens/s | checks run | positions compared | check compute ms | "
         "route compute ms | extra compute |\n"
      << "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  {
    auto swarm = three_servers(system, *path, n_blocks, 0);
    if (!swarm.ok()) return fail(swarm.error().message());
    generate_with_checks(system, *swarm, 0, 1, 8);  // warm-up
    std::vector<double> fractions{0};
    fractions.insert(fractions.end(), options.fractions.begin(), options.fractions.end());
    for (double f : fractions) {
      const spot_run r =
          generate_with_checks(system, *swarm, f, 100 + uint64_t(f * 1e6), options.steps);
      if (!r.error.empty()) return fail(r.error);
      const spot_check_totals& t = r.reply.spot_checks;
      char label[64] = "off";
      if (f > 0) {
        std::snprintf(label, sizeof label, "every %lld steps (%g%%)",
                      static_cast<long long>(1 / f + 0.5), f * 100);
      }
      std::snprintf(line, sizeof line, "| %s | %.1f | %lld | %lld | %.1f | %.1f | %.2f%% |\n",
                    label, r.decode_tokens_per_s, static_cast<long long>(t.checks),
                    static_cast<long long>(t.positions), t.check_compute_ms, t.route_compute_ms,
                    t.route_compute_ms > 0 ? 100.0 * t.check_compute_ms / t.route_compute_ms : 0);
      out << line;
    }
  }
  out << "\nA liar (server-1) negating one value of every " << options.lie_every
      << "th output, first at its " << options.lie_every << "th step; " << options.sessions
      << " sessions per fraction, each on a fresh swarm:\n\n"
      << "| checks | banned after steps (per session) | within " << options.ban_within
      << " steps |\n| --- | --- | ---: |\n";
  int worst_exit = 0;
  for (double f : options.fractions) {
    std::string steps_text;
    int within = 0;
    for (int s = 1; s <= options.sessions; ++s) {
      auto swarm = three_servers(system, *path, n_blocks, options.lie_every);
      if (!swarm.ok()) return fail(swarm.error().message());
      const spot_run r = generate_with_checks(system, *swarm, f, 7000 + uint64_t(s), options.steps);
      if (!r.error.empty()) return fail(r.error);
      const int64_t banned = r.reply.spot_checks.first_ban_step;
      steps_text += (steps_text.empty() ? "" : ", ") + (banned ? std::to_string(banned) : "never");
      if (banned > 0 && banned <= options.ban_within) ++within;
      const bool right =
          !r.reply.recoveries.empty() && r.reply.recoveries[0].failed_server == "server-1";
      if (banned > 0 && !right) worst_exit = 1;
    }
    std::snprintf(line, sizeof line, "| every %lld steps | %s | %d of %d |\n",
                  static_cast<long long>(1 / f + 0.5), steps_text.c_str(), within,
                  options.sessions);
    out << line;
  }
  if (worst_exit) std::cerr << "corolla bench spot: a ban named another server than the liar\n";
  return worst_exit;
}

}  // namespace corolla
