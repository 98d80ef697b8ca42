// `corolla bench recovery`: a server killed (SIGKILL), stopped (SIGSTOP) or told to
// leave (SIGTERM: it drains and hands its sessions over) under a generating session, and
// the time from the fault to the next token the client delivers, split into detection
// (the fault to the session noticing), rerouting (a route for the lost blocks, sessions
// opened on the spare) and replay (the cached inputs through the spare as one prefill) or
// hand-over (the spare taking the leaver's caches), then the step again.
//
// Processes: node a serves the first half of the blocks, two nodes the second half (the
// route uses one, the other is the spare); after each fault the dead or stopped node
// is replaced by a new spare. The client is in this process, with heartbeats at
// actor-node's defaults.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/local_swarm.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "bench/bench_commands.hpp"
#include "bench/node_process.hpp"
#include "messages/caf_types.hpp"
#include "model/llama_config.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

int64_t steady_ns(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::unique_ptr<node_process> start_node(const std::string& model, const std::string& name,
                                         int64_t start, int64_t end, const std::string& seed) {
  std::vector<std::string> args{
      "--model", model,    "--port", "0",      "--codec",
      "f16",     "--name", name,     "--span", std::to_string(start) + ":" + std::to_string(end)};
  if (!seed.empty()) args.insert(args.end(), {"--seed", seed});
  auto node = std::make_unique<node_process>(program_beside_this_one("actor-node"), args);
  if (!node->wait_for("serving blocks", 180s)) {
    std::cerr << "corolla bench recovery: " << name << " did not start:\n" << node->output();
    return nullptr;
  }
  return node;
}

// A prompt of at most `tokens` tokens for `model` (whole words; within a word of it).
std::string prompt_of(const llama_model& model, int64_t tokens) {
  static const char* const words[] = {"once",   "upon", "a",   "time",  "there", "was", "a",
                                      "little", "dog",  "who", "liked", "to",    "run"};
  auto count = [&](const std::string& text) {
    return int64_t(model.tokenizer().encode(text, true, false).size());
  };
  std::vector<std::string> chosen;
  std::string text;
  size_t i = 0;
  // Words a hundred at a time (encoding the whole text per word would be quadratic),
  // then back to the last word that fits.
  while (count(text) < tokens) {
    for (int k = 0; k < 100; ++k) {
      chosen.push_back(words[i++ % std::size(words)]);
      text += " " + chosen.back();
    }
  }
  while (!chosen.empty() && count(text) > tokens) {
    text.resize(text.size() - chosen.back().size() - 1);
    chosen.pop_back();
  }
  return text;
}

struct recovery_row {
  std::string fault;
  int64_t session_tokens = 0;
  recovery_report report;
  double detection_ms = 0, total_ms = 0, token_ms = 0;
};

// One session of about `tokens` tokens; the route's second server gets `signal_number`
// after the second generated token — or, with checkpoints (every `checkpoint_every`
// tokens), after the tenth, once the spare standing by has taken the prompt's rows.
result<recovery_row> measure(caf::actor_system& system, const remote_swarm& swarm,
                             std::vector<std::unique_ptr<node_process>>& spares, int64_t tokens,
                             int signal_number, int64_t checkpoint_every) {
  client_config cfg = swarm.client_defaults();
  cfg.push = true;
  cfg.checkpoint_every = checkpoint_every;
  const int fault_chunk = checkpoint_every > 0 ? 10 : 2;
  const int64_t context = swarm.head_model()->config().context_length;
  cfg.max_tokens = std::min<int64_t>(context, tokens + 16);
  COROLLA_ASSIGN_OR_RETURN(caf::actor client, start_client(system, cfg));
  client_handle owner(client);
  caf::scoped_actor self{system};
  std::string victim;
  self->request(client, 10s, route_atom::value)
      .receive([&](const std::vector<hop_timing>& hops) { victim = hops.back().server_name; },
               [](const caf::error&) {});
  node_process* target = nullptr;
  for (auto& n : spares) {
    if (n && n->output().rfind(victim + ":", 0) == 0) target = n.get();
  }
  if (!target) return status::internal("the route's last server '" + victim + "' is not ours");

  generate_request req;
  req.prompt = prompt_of(*swarm.head_model(), std::min(tokens, cfg.max_tokens - 8) - 3);
  req.options.sampling.temperature = 0;
  req.options.stop_at_eos = false;
  req.options.max_tokens = fault_chunk + 4;
  self->send(client, req);
  int chunks = 0;
  steady::time_point previous, fault_at, next_at;
  double token_ms = 0;
  generate_reply reply;
  caf::error failed;
  bool done = false;
  self->receive_while([&] { return !done; })(
      [&](const text_chunk&) {
        const auto now = steady::now();
        ++chunks;
        if (chunks == fault_chunk) {
          token_ms = std::chrono::duration<double, std::milli>(now - previous).count();
          target->signal(signal_number);
          fault_at = steady::now();
        } else if (chunks == fault_chunk + 1) {
          next_at = now;
        }
        previous = now;
      },
      [&](generate_reply& r) {
        reply = std::move(r);
        done = true;
      },
      [&](caf::error& e) {
        failed = std::move(e);
        done = true;
      },
      caf::after(120s) >> [&] { done = true; });
  if (failed) return status::internal("generation failed: " + describe(failed));
  if (reply.recoveries.size() != 1 || chunks <= fault_chunk) {
    return status::internal("expected one recovery, saw " +
                            std::to_string(reply.recoveries.size()));
  }
  recovery_row row;
  row.fault = signal_number == SIGKILL   ? "kill -9"
              : signal_number == SIGSTOP ? "SIGSTOP"
                                         : "SIGTERM (hand-over)";
  if (checkpoint_every > 0) row.fault += ", checkpoints /" + std::to_string(checkpoint_every);
  row.session_tokens = reply.recoveries[0].replayed_tokens +
                       reply.recoveries[0].handed_over_tokens +
                       reply.recoveries[0].checkpoint_tokens;
  row.report = reply.recoveries[0];
  row.detection_ms = double(row.report.noticed_ns - steady_ns(fault_at)) / 1e6;
  row.total_ms = std::chrono::duration<double, std::milli>(next_at - fault_at).count();
  row.token_ms = token_ms;
  if (signal_number == SIGSTOP) target->signal(SIGKILL);
  // A leaver drains its (now moved) sessions, then leaves by itself.
  if (signal_number == SIGTERM) target->wait_exit(30s);
  for (auto& n : spares) {
    if (n.get() == target) n.reset();
  }
  return row;
}

}  // namespace

int run_recovery_bench(const recovery_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench recovery: " << path.error().message() << "\n";
    return 1;
  }
  const auto blocks = model_blocks(*path);
  if (!blocks.ok()) {
    std::cerr << "corolla bench recovery: " << blocks.error().message() << "\n";
    return 1;
  }
  const int64_t n_blocks = *blocks;
  const int64_t half = n_blocks / 2;
  node_config cfg;
  const network_options network{};
  enable_network(cfg, network);
  caf::actor_system system{cfg};

  auto a = start_node(*path, "a", 0, half, "");
  if (!a) return 1;
  std::vector<std::unique_ptr<node_process>> spares;
  int made = 0;
  auto add_spare = [&] {
    spares.push_back(start_node(*path, "b" + std::to_string(++made), half, n_blocks, a->address()));
    return spares.back() != nullptr;
  };
  if (!add_spare() || !add_spare()) return 1;
  remote_swarm_options ro;
  ro.peers = {a->address()};
  ro.model_path = *path;
  auto swarm = remote_swarm::join(system, ro);
  if (!swarm.ok()) {
    std::cerr << "corolla bench recovery: " << swarm.error().message() << "\n";
    return 1;
  }
  out << *path << ": node a serves blocks [0, " << half << "), two nodes [" << half << ", "
      << n_blocks << ") (one the spare); push, codec f16; heartbeat "
      << network.heartbeat_interval.count() << " ms, timeout " << network.connection_timeout.count()
      << " ms. The route's second server gets the signal after a token; the next token's\n"
         "wait is the recovery.\n\n"
      << "| fault | session tokens | replayed | detection ms | rerouting ms | replay or "
         "hand-over ms | fault to next token ms | a token without fault ms |\n"
      << "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  char line[256];
  struct run {
    int64_t tokens;
    int signal_number;
    int64_t checkpoint_every;
  };
  std::vector<run> runs;
  for (int64_t t : options.session_tokens) runs.push_back({t, SIGKILL, 0});
  if (options.checkpoint_every > 0) {
    for (int64_t t : options.session_tokens) runs.push_back({t, SIGKILL, options.checkpoint_every});
  }
  for (int64_t t : options.session_tokens) runs.push_back({t, SIGTERM, 0});
  runs.push_back({options.session_tokens.front(), SIGSTOP, 0});
  for (const auto& [tokens, signal_number, checkpoint_every] : runs) {
    // Both spares in every table before the session routes.
    const auto deadline = steady::now() + 10s;
    for (;;) {
      caf::scoped_actor self{system};
      size_t known = 0;
      self->request(swarm->routing_table(), 5s, list_atom::value)
          .receive([&](const std::vector<server_record>& r) { known = r.size(); },
                   [](const caf::error&) {});
      if (known == 3 || steady::now() > deadline) break;
      std::this_thread::sleep_for(20ms);
    }
    auto row = measure(system, *swarm, spares, tokens, signal_number, checkpoint_every);
    if (!row.ok()) {
      std::cerr << "corolla bench recovery: " << row.error().message() << "\n";
      return 1;
    }
    std::snprintf(line, sizeof line, "| %s | %lld | %lld | %.1f | %.1f | %.1f | %.1f | %.1f |\n",
                  row->fault.c_str(), static_cast<long long>(row->session_tokens),
                  static_cast<long long>(row->report.replayed_tokens), row->detection_ms,
                  row->report.reroute_ms, row->report.replay_ms, row->total_ms, row->token_ms);
    out << line << std::flush;
    spares.erase(std::remove(spares.begin(), spares.end(), nullptr), spares.end());
    if (!add_spare()) return 1;
  }
  out << "\ndetection: from the signal to the session noticing (a lost connection, or the "
         "leaver's notice); rerouting: noticing to the spare's session open; replay: the cached "
         "inputs through the spare, or hand-over: the spare taking the leaver's caches; the rest "
         "of the total is the step run again and the head.\n";
  swarm->stop();
  return 0;
}

}  // namespace corolla
