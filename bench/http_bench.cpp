// `corolla bench http`: the HTTP face against the REPL's own path in the same run — one
// streamed session, 16 concurrent streams, the second turn of a long conversation — and
// the head of a model fetched by a client that has no model file.
#include <omp.h>

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/client.hpp"
#include "actors/head_transfer.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "bench/bench_commands.hpp"
#include "bench/client_answer.hpp"
#include "bench/node_process.hpp"
#include "http/gateway.hpp"
#include "messages/caf_types.hpp"
#include "model/model_id.hpp"

namespace corolla {
namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

double seconds(clock_type::duration d) {
  return std::chrono::duration<double>(d).count();
}

// One streamed request as a client sees it.
struct stream_timing {
  clock_type::time_point sent, first, last;
  int pieces = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  std::string text;
  bool ok = false;
};

stream_timing stream_completion(uint16_t port, const json& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(std::chrono::minutes(5));
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  stream_timing t;
  std::string buffer;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    const auto now = clock_type::now();
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
      const std::string event = buffer.substr(0, end);
      if (event.rfind("data: {", 0) != 0) continue;
      const json chunk = json::parse(event.substr(6), nullptr, false);
      if (chunk.contains("usage")) {
        t.completion_tokens = chunk["usage"]["completion_tokens"].get<int64_t>();
        t.cached_tokens = chunk["usage"]["prompt_tokens_details"]["cached_tokens"].get<int64_t>();
      }
      if (!chunk.contains("choices") || chunk["choices"].empty()) continue;
      const std::string piece = chunk["choices"][0]["text"].get<std::string>();
      if (piece.empty()) continue;
      t.text += piece;
      if (t.pieces++ == 0) t.first = now;
      t.last = now;
    }
    return true;
  };
  t.sent = clock_type::now();
  auto res = client.send(req);
  t.ok = res && res->status == 200 && t.pieces > 0;
  if (!t.ok) {
    std::cerr << "a stream failed: "
              << (res ? std::to_string(res->status) + " " + res->body + buffer
                      : httplib::to_string(res.error()))
              << "\n";
  }
  return t;
}

json streamed(const std::string& prompt, int max_tokens) {
  return json{{"prompt", prompt}, {"max_tokens", max_tokens},
              {"temperature", 0}, {"ignore_eos", true},
              {"stream", true},   {"stream_options", {{"include_usage", true}}}};
}

// Decode tokens/s of one answer the REPL's way: a client actor streaming to this thread.
double repl_rate(caf::actor_system& system, const caf::actor& client, const std::string& prompt,
                 int tokens) {
  generate_request req;
  req.prompt = prompt;
  req.options.sampling.temperature = 0;
  req.options.max_tokens = tokens;
  req.options.stop_at_eos = false;
  const auto answer = ask_client(system, client, req);
  if (!answer.ok()) {
    std::cerr << "repl path failed: " << answer.error().message() << "\n";
    return 0;
  }
  return answer->stats.decode_tokens_per_second();
}

// Tokens per second between a stream's first and last piece.
double stream_rate(const stream_timing& t) {
  const double s = seconds(t.last - t.first);
  return s > 0 && t.completion_tokens > 1 ? double(t.completion_tokens - 1) / s : 0;
}

// The head of `model` fetched by a client with an empty cache, then again from the cache,
// from an actor-node process serving the whole model.
void head_rows(const std::string& model, std::ostream& out) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("corolla-head-bench-" + std::to_string(getpid())))
          .string();
  node_process node(program_beside_this_one("actor-node"),
                    {"--model", model, "--port", "0", "--span", "0:1", "--throughput-cache", "none",
                     "--balance", "off"},
                    {"XDG_CACHE_HOME=" + dir + "/node"});
  if (!node.wait_for("serving blocks", std::chrono::seconds(120))) {
    out << "head fetch: the node did not start:\n" << node.output() << "\n";
    return;
  }
  char line[256];
  for (int round = 0; round < 2; ++round) {
    node_config cfg;
    enable_network(cfg, network_options{});
    caf::actor_system system{cfg};
    remote_swarm_options o;
    o.peers = {node.address()};
    o.head_cache = dir + "/client";
    o.wait_for_coverage = false;
    const auto start = clock_type::now();
    auto swarm = remote_swarm::join(system, o);
    const double s = seconds(clock_type::now() - start);
    if (!swarm.ok()) {
      out << "head fetch failed: " << swarm.error().message() << "\n";
      break;
    }
    const fetched_head& f = swarm->head_fetch();
    std::snprintf(line, sizeof line, "| %s | %.1f MiB | %.3f s | %.3f s |\n",
                  f.from_cache ? "from the cache" : "fetched from the node",
                  double(f.bytes) / (1 << 20), f.seconds, s);
    out << line;
    swarm->stop();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace

int run_http_bench(const http_bench_options& options, std::ostream& out) {
  auto path = bench_model(options.model_path);
  if (!path.ok()) {
    std::cerr << "corolla bench http: " << path.error().message() << "\n";
    return 1;
  }
  node_config cfg;
  caf::actor_system system{cfg};
  local_swarm_options so;
  so.model_path = *path;
  so.servers = options.servers;
  auto swarm = local_swarm::start(system, so);
  if (!swarm.ok()) {
    std::cerr << "corolla bench http: " << swarm.error().message() << "\n";
    return 1;
  }
  double bandwidth = 0;
  (void)swarm->executor()->run([&] { bandwidth = read_bandwidth_gbs(omp_get_max_threads()); });
  gateway_options g;
  g.client = swarm->client_defaults();
  g.client.push = true;
  g.client.max_tokens = 2048;
  g.max_requests = size_t(std::max(options.concurrent, 1));
  g.kept_sessions = size_t(std::max(options.concurrent, 1));
  g.model_name = std::filesystem::path(*path).stem().string();
  g.model_id = *model_fingerprint(*path);
  auto gateway = http_gateway::start(system, g);
  if (!gateway.ok()) {
    std::cerr << "corolla bench http: " << gateway.error().message() << "\n";
    return 1;
  }
  const uint16_t port = (*gateway)->port();
  const std::string prompt = "Once upon a time, in a quiet town by the sea,";
  char line[320];
  out << *path << ": " << options.servers << " servers and the HTTP gateway in one process, "
      << options.decode_tokens << " greedy tokens per answer, read bandwidth " << bandwidth
      << " GB/s\n\n";

  // One session: the REPL's path (a client actor) and a streamed HTTP request.
  client_config c = swarm->client_defaults();
  c.push = true;
  c.max_tokens = 2048;
  auto client = start_client(system, c);
  if (!client.ok()) {
    std::cerr << "corolla bench http: " << client.error().message() << "\n";
    return 1;
  }
  double repl = 0, http = 0;
  {
    client_handle owner(*client);
    repl_rate(system, *client, prompt, 8);  // warm-up
    stream_completion(port, streamed(prompt, 8));
    for (int i = 0; i < 3; ++i) {  // best of three, alternating
      repl = std::max(repl, repl_rate(system, *client, prompt, options.decode_tokens));
      http = std::max(
          http, stream_rate(stream_completion(port, streamed(prompt, options.decode_tokens))));
    }
  }
  out << "| one session | decode tokens/s |\n| --- | ---: |\n";
  std::snprintf(line, sizeof line,
                "| REPL path (client actor) | %.1f |\n| HTTP stream | %.1f |\n\n"
                "HTTP streaming keeps %.1f%% of the REPL's tokens/s (target >= 95%%)\n\n",
                repl, http, repl > 0 ? 100.0 * http / repl : 0);
  out << line;

  // Concurrent streams: aggregate decode tokens/s against one stream's.
  const int n = options.concurrent;
  std::vector<stream_timing> timings(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {  // warm-up at this batch size
    threads.emplace_back(
        [&, i] { timings[size_t(i)] = stream_completion(port, streamed(prompt, 4)); });
  }
  for (std::thread& t : threads) t.join();
  threads.clear();
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      timings[size_t(i)] = stream_completion(port, streamed(prompt, options.decode_tokens));
    });
  }
  for (std::thread& t : threads) t.join();
  auto first = timings[0].first, last = timings[0].last;
  int64_t tokens = 0;
  int failed = 0;
  for (const stream_timing& t : timings) {
    if (!t.ok) ++failed;
    first = std::min(first, t.first);
    last = std::max(last, t.last);
    tokens += std::max<int64_t>(t.completion_tokens - 1, 0);
  }
  const double aggregate = double(tokens) / std::max(seconds(last - first), 1e-9);
  std::snprintf(line, sizeof line,
                "| %d concurrent streams | aggregate %.1f tokens/s | %.2fx one stream's %.1f "
                "(target >= 3x)%s |\n\n",
                n, aggregate, http > 0 ? aggregate / http : 0, http, failed ? " FAILURES" : "");
  out << line;

  // A conversation's second turn: the first prompt (~1000 tokens), its answer, and a new
  // line resent whole, as chat clients do.
  std::string long_prompt;
  const llama_model& head = *swarm->head_model();
  while (head.tokenizer().encode(long_prompt, true, true).size() < 1000) {
    long_prompt += "The little boat rocked on the water while the children watched the gulls. ";
  }
  json first_turn = streamed(long_prompt, 32);
  const stream_timing t1 = stream_completion(port, first_turn);
  const stream_timing t2 =
      stream_completion(port, streamed(long_prompt + t1.text + "\nWhat did they see next?", 32));
  const double ttft1 = seconds(t1.first - t1.sent) * 1000,
               ttft2 = seconds(t2.first - t2.sent) * 1000;
  std::snprintf(
      line, sizeof line,
      "| conversation of %zu tokens | time to first token |\n| --- | ---: |\n"
      "| first turn | %.1f ms |\n| second turn (%lld tokens cached) | %.1f ms = %.1f%% of "
      "the first (target <= 20%%) |\n\n",
      head.tokenizer().encode(long_prompt, true, true).size(), ttft1,
      static_cast<long long>(t2.cached_tokens), ttft2, ttft1 > 0 ? 100 * ttft2 / ttft1 : 0);
  out << line << std::flush;
  (*gateway)->stop();
  swarm->stop();

  out << "| head for a client without the model | size | fetch | join (head loaded) |\n"
      << "| --- | ---: | ---: | ---: |\n";
  head_rows(*path, out);
  return 0;
}

}  // namespace corolla
