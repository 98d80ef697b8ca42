// actor-chat: a REPL on a Corolla swarm. With --local the whole swarm runs inside this
// process — a routing table, N servers splitting the model's blocks, a client — so a
// new user sees it work without a second machine or a model download: without
// --model, the first run makes a demo model with the model maker. With --peer (or a
// node's --config file) it joins a swarm of actor-node processes as a client.
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>
#include <caf/actor_system.hpp>

#include "actors/client.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "apps/chat_repl.hpp"
#include "apps/command_line.hpp"
#include "apps/http_face.hpp"
#include "apps/node_options.hpp"
#include "apps/openmp_spin.hpp"
#include "model/model_maker.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

// The model's chat template as the banner shows it; an unrecognised one is said aloud,
// since the chat then runs as plain completion.
std::string chat_template_label(const llama_model& model) {
  if (model.chat_template_recognised()) return to_string(model.chat());
  return "not recognised (the file's tokenizer.chat_template is none of llama2, llama3, chatml, "
         "zephyr, mistral, phi3, gemma): chatting as plain completion";
}

// The demo model, made on first use: stories260K's shape, seeded random weights.
result<std::string> demo_model() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path dir =
      cache && *cache ? std::filesystem::path(cache) / "corolla"
                      : std::filesystem::path(home && *home ? home : ".") / ".cache" / "corolla";
  const std::string path = (dir / "stories260k-q8_0.gguf").string();
  if (std::filesystem::exists(path)) return path;
  std::cerr << "making the demo model " << path << " (first run)\n";
  COROLLA_RETURN_IF_ERROR(make_preset_model("stories260k", ggml_type::q8_0, 42, path));
  return path;
}

// --http: what to serve it on; the signals that end it, blocked before any thread starts.
struct http_mode {
  bool on = false;
  http_settings settings;
  sigset_t stop_signals;
};

// Serves the HTTP face until SIGINT or SIGTERM.
int serve(caf::actor_system& system, const client_config& client_cfg, const repl_options& repl,
          const http_mode& http, const std::string& model_path) {
  auto gateway = start_http(system, http.settings, client_cfg, model_path, repl.generation);
  if (!gateway.ok()) {
    std::cerr << "actor-chat: " << gateway.error().message() << "\n";
    return 1;
  }
  std::cout << "actor-chat: " << http_banner(**gateway) << std::endl;
  int signal_number = 0;
  sigwait(&http.stop_signals, &signal_number);
  (*gateway)->stop();
  return 0;
}

// Where the REPL keeps its history across runs: $XDG_STATE_HOME/corolla, else
// ~/.local/state/corolla.
std::string history_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  const char* home = std::getenv("HOME");
  if (state && *state) return (std::filesystem::path(state) / "corolla" / "chat_history").string();
  if (home && *home) {
    return (std::filesystem::path(home) / ".local" / "state" / "corolla" / "chat_history").string();
  }
  return "";
}

// Starts the client and runs the REPL until the user quits (or serves --http).
int chat(caf::actor_system& system, const client_config& client_cfg, const repl_options& repl,
         const http_mode& http, const std::string& model_path) {
  if (http.on) return serve(system, client_cfg, repl, http, model_path);
  auto client = start_client(system, client_cfg);
  if (!client.ok()) {
    std::cerr << "actor-chat: " << client.error().message() << "\n";
    return 1;
  }
  client_handle owner(*client);
  return run_repl(system, *client, repl, std::cin, std::cout);
}

// The swarm behind --peer / --config: the config file's model, seeds, node address,
// heartbeats and TLS files; --peer and --model on the command line win.
struct peer_settings {
  remote_swarm_options swarm;
  network_options network;
};

// `kind` and `kv` are the command line's, already checked; they win over the file's
// when given.
result<peer_settings> read_peer_settings(const po::variables_map& vm, precision kind,
                                         std::optional<kv_type> kv) {
  peer_settings out;
  if (vm.count("config")) {
    std::vector<std::string> args{"--config", vm["config"].as<std::string>()};
    if (vm.count("model")) args.insert(args.end(), {"--model", vm["model"].as<std::string>()});
    COROLLA_ASSIGN_OR_RETURN(node_options node, read_node_options(args));
    out.swarm.model_path = node.model;
    out.swarm.peers = node.seeds;
    if (node.port != 0)
      out.swarm.peers.insert(out.swarm.peers.begin(), node.host + ":" + std::to_string(node.port));
    out.swarm.gossip_period = std::chrono::milliseconds(node.gossip_period_ms);
    out.swarm.record_ttl = std::chrono::milliseconds(node.record_ttl_ms);
    out.swarm.peer_timeout = std::chrono::milliseconds(node.heartbeat_timeout_ms);
    out.network = network_settings(node);
    out.swarm.kind = node.weights;
    out.swarm.servers_kv = node.kv;
  }
  if (!vm["kv-type"].defaulted()) out.swarm.servers_kv = kv.value_or(kv_type::f16);
  if (!vm["weights"].defaulted() || vm.count("f32")) out.swarm.kind = kind;
  if (vm.count("model")) out.swarm.model_path = vm["model"].as<std::string>();
  if (vm.count("peer")) out.swarm.peers = vm["peer"].as<std::vector<std::string>>();
  if (vm.count("swarm-key")) {
    auto key = load_swarm_key(vm["swarm-key"].as<std::string>());
    if (!key.ok()) return status::invalid_argument("--swarm-key: " + key.error().message());
    out.network.key = *key;
  }
  if (out.swarm.peers.empty()) {
    return status::invalid_argument("--peer: no node to join through (the config file gives none)");
  }
  return out;
}

int run_peer(const po::variables_map& vm, precision kind, std::optional<kv_type> kv,
             std::shared_ptr<const llama_model> draft, repl_options repl, int64_t context,
             const http_mode& http) {
  auto settings = read_peer_settings(vm, kind, kv);
  if (!settings.ok()) {
    std::cerr << "actor-chat: " << settings.error().message() << "\n";
    return 2;
  }
  node_config cfg;
  enable_network(cfg, settings->network);
  caf::actor_system system{cfg};
  auto swarm = remote_swarm::join(system, settings->swarm);
  if (!swarm.ok()) {
    std::cerr << "actor-chat: " << swarm.error().message() << "\n";
    return 1;
  }
  const llama_model& head = *swarm->head_model();
  if (const fetched_head& f = swarm->head_fetch(); !f.path.empty()) {
    std::cerr << (f.from_cache ? "the head of " + f.model_id + " from the cache: " + f.path
                               : "fetched the head of " + f.model_id + " from " + f.peer + " (" +
                                     std::to_string(f.bytes) + " bytes in " +
                                     std::to_string(f.seconds) + " s) into " + f.path)
              << "\n";
  }
  std::cerr << "joined the swarm through " << swarm->joined_through() << ": " << swarm->model_path()
            << ", " << head.config().n_blocks << " blocks, dim " << head.config().dim << ", codec "
            << to_string(swarm->codec()) << "; chat template " << chat_template_label(head) << "\n";
  client_config client_cfg = swarm->client_defaults();
  client_cfg.max_tokens = context;
  client_cfg.push = !vm.count("round-trips");
  client_cfg.prefill_chunk = vm["prefill-chunk"].as<int64_t>();
  client_cfg.checkpoint_every = vm["checkpoint-every"].as<int64_t>();
  client_cfg.draft_model = draft;
  client_cfg.spot_checks.fraction = vm["spot-check"].as<double>();
  if (!vm["codec"].defaulted())
    client_cfg.codec = *parse_tensor_codec(vm["codec"].as<std::string>());
  return chat(system, client_cfg, repl, http, swarm->model_path());
}

int run(int argc, char** argv) {
  po::options_description opts(
      "actor-chat --local [--model FILE] [--servers N]\n"
      "actor-chat --peer HOST:PORT [--model FILE] | --config FILE");
  local_swarm_options swarm_options;
  repl_options repl;
  int64_t context = 0, kv_budget_mib = 1024, prefill_chunk = 128, checkpoint_every = 0;
  std::string codec_name = "f32";
  std::string http_address;
  http_mode http;
  opts.add_options()("help,h", "show this help")("version,V", "print the version")(
      "http", po::value(&http_address),
      "serve the OpenAI-compatible API, status page and metrics on HOST:PORT (PORT 0: a free "
      "one) instead of the REPL")("http-api-key", po::value(&http.settings.api_key),
                                  "require 'Authorization: Bearer KEY' on the API")(
      "http-max-requests", po::value(&http.settings.max_requests)->default_value(16),
      "generations at once; more are answered 503 with Retry-After")(
      "http-kept-sessions", po::value(&http.settings.kept_sessions)->default_value(8),
      "finished sessions kept so a conversation's next turn reuses their caches")(
      "local", "run the whole swarm in this process (the embedded default)")(
      "peer", po::value<std::vector<std::string>>()->composing(),
      "join a swarm of actor-node processes through HOST:PORT (repeatable)")(
      "swarm-key", po::value<std::string>(),
      "--peer: the private swarm's key file (the config file's swarm-key otherwise)")(
      "config", po::value<std::string>(),
      "a node's cluster config file: its model, address, seeds, heartbeats and TLS files")(
      "model,m", po::value(&swarm_options.model_path),
      "GGUF file (--local default: a demo model, made on first run; --peer: the model or its "
      "head file, default: the head fetched from the swarm and cached)")(
      "servers", po::value(&swarm_options.servers)->default_value(3),
      "servers splitting the blocks")("kv-budget-mib",
                                      po::value(&kv_budget_mib)->default_value(1024),
                                      "KV-cache budget of each server")(
      "context,c", po::value(&context),
      "tokens of the session (default: the model's, at most 4096)")(
      "codec", po::value(&codec_name)->default_value("f32"),
      "hidden states between client and servers: f32, f16 or int8 (--peer: the swarm's)")(
      "raw", "raw completion even when the model has a chat template")(
      "spot-check", po::value<double>()->default_value(0, "0"),
      "chance per step that the route's outputs since the last check are recomputed on other "
      "servers of the same spans and compared bit for bit (0..1; a liar is banned)")(
      "round-trips",
      "the client sends each server its input in turn (default: each server pushes its "
      "output straight to the next)")(
      "prefill-chunk", po::value(&prefill_chunk)->default_value(128),
      "push mode: a prompt goes down the route in chunks of this many tokens, each server "
      "computing one while the next chunk crosses a link (0 = the whole prompt at once)")(
      "checkpoint-every", po::value(&checkpoint_every)->default_value(0),
      "every route server gets a standby server of its blocks that takes its new cache rows "
      "over every this many tokens; a crash then replays only the tokens since (0 = off)")(
      "max-tokens,n", po::value(&repl.generation.max_tokens)->default_value(256),
      "new tokens per answer at most")(
      "temperature", po::value(&repl.generation.sampling.temperature)->default_value(0.8f, "0.8"),
      "0 = greedy")("top-k", po::value(&repl.generation.sampling.top_k)->default_value(40),
                    "0 = off")(
      "top-p", po::value(&repl.generation.sampling.top_p)->default_value(0.95f, "0.95"), "1 = off")(
      "min-p", po::value(&repl.generation.sampling.min_p)->default_value(0.05f, "0.05"), "0 = off")(
      "repeat-penalty",
      po::value(&repl.generation.sampling.repeat_penalty)->default_value(1.0f, "1.0"),
      "1 = off")("seed", po::value(&repl.generation.sampling.seed)->default_value(0),
                 "sampling seed (default: a fresh random one for every prompt)")(
      "system", po::value(&repl.system), "the system prompt of a chat")(
      "stop", po::value(&repl.generation.stop_strings)->composing(), "stop string (repeatable)");
  std::string draft_path;
  add_speculation_options(opts, repl.generation.draft_tokens, draft_path);
  std::string weights, kv_name;
  add_precision_options(opts, weights, &kv_name);
  po::variables_map vm;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (wants_version(args)) {
    std::cout << version_text("actor-chat") << "\n";
    return 0;
  }
  if (auto done = parse_command_line(opts, args, "actor-chat", std::cout, vm)) return *done;
  const bool peer = vm.count("peer") || vm.count("config");
  if (vm.count("local") == peer) {
    std::cerr << "actor-chat: give either --local (the whole swarm in this process) or --peer "
                 "HOST:PORT / --config FILE (a swarm of actor-node processes)\n";
    return 2;
  }
  const auto kind = precision_from_options(vm, weights, "actor-chat");
  std::optional<kv_type> kv;
  if (!kind || !kv_from_options(kv_name, "actor-chat", kv)) return 2;
  auto codec = parse_tensor_codec(codec_name);
  if (!codec.ok()) {
    std::cerr << "actor-chat: --codec: " << codec.error().message() << "\n";
    return 2;
  }
  if (const double f = vm["spot-check"].as<double>(); !(f >= 0 && f <= 1)) {
    std::cerr << "actor-chat: --spot-check " << f << " is not a fraction (0..1)\n";
    return 2;
  }
  if (prefill_chunk < 0) {
    std::cerr << "actor-chat: --prefill-chunk " << prefill_chunk
              << " is negative (0: the whole prompt at once)\n";
    return 2;
  }
  if (checkpoint_every < 0) {
    std::cerr << "actor-chat: --checkpoint-every " << checkpoint_every
              << " is negative (0: no checkpoints)\n";
    return 2;
  }
  repl.chat = !vm.count("raw");
  repl.seed_given = !vm["seed"].defaulted();
  repl.history_file = history_path();
  if (vm.count("http")) {
    if (!parse_http_address(http_address, http.settings)) {
      std::cerr << "actor-chat: --http: '" << http_address
                << "' is not HOST:PORT (PORT 0: a free one)\n";
      return 2;
    }
    if (http.settings.max_requests < 1 || http.settings.kept_sessions < 0) {
      std::cerr << "actor-chat: --http-max-requests must be >= 1 and --http-kept-sessions >= 0\n";
      return 2;
    }
    http.on = true;
    // Taken by sigwait in serve(); blocked before the actor system starts its threads.
    sigemptyset(&http.stop_signals);
    sigaddset(&http.stop_signals, SIGINT);
    sigaddset(&http.stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &http.stop_signals, nullptr);
  }
  std::shared_ptr<const llama_model> draft;
  if (!load_draft_model(vm, draft_path, repl.generation.draft_tokens, draft, "actor-chat")) {
    return 1;
  }
  if (peer) return run_peer(vm, *kind, kv, draft, repl, context, http);
  // Every kernel of the process, making the demo model's included, runs on one thread
  // (actors/compute_executor.hpp says why).
  swarm_options.executor = std::make_shared<compute_executor>();
  if (swarm_options.model_path.empty()) {
    result<std::string> made = status::internal("the demo model was not made");
    const status ran = swarm_options.executor->run([&] { made = demo_model(); });
    if (!ran.ok()) made = ran;
    if (!made.ok()) {
      std::cerr << "actor-chat: " << made.error().message() << "\n";
      return 1;
    }
    swarm_options.model_path = *made;
  }
  swarm_options.kind = *kind;
  swarm_options.kv = kv;
  swarm_options.kv_budget_bytes = kv_budget_mib << 20;

  node_config cfg;
  caf::actor_system system{cfg};
  auto swarm = local_swarm::start(system, swarm_options);
  if (!swarm.ok()) {
    std::cerr << "actor-chat: " << swarm.error().message() << "\n";
    return 1;
  }
  const llama_model& head = *swarm->head_model();
  std::cerr << swarm_options.model_path << ": " << head.config().n_blocks << " blocks, dim "
            << head.config().dim << ", " << to_string(swarm_options.kind) << "; chat template "
            << chat_template_label(head) << "\n";
  for (size_t i = 0; i < swarm->spans().size(); ++i) {
    std::cerr << "server-" << i + 1 << ": blocks [" << swarm->spans()[i].first << ", "
              << swarm->spans()[i].second << ")\n";
  }
  client_config client_cfg = swarm->client_defaults();
  client_cfg.max_tokens = context;
  client_cfg.push = !vm.count("round-trips");
  client_cfg.prefill_chunk = prefill_chunk;
  client_cfg.checkpoint_every = checkpoint_every;
  client_cfg.draft_model = draft;
  client_cfg.spot_checks.fraction = vm["spot-check"].as<double>();
  client_cfg.codec = *codec;
  return chat(system, client_cfg, repl, http, swarm_options.model_path);
}

}  // namespace
}  // namespace corolla

int main(int argc, char** argv) {
  corolla::limit_openmp_spinning(argv);
  return corolla::run(argc, argv);
}
