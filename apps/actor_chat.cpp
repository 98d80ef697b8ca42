// actor-chat: a REPL on a Corolla swarm. With --local the whole swarm runs inside this
// process — a routing table, N servers splitting the model's blocks, a client — so a
// new user sees it work without a second machine or a model download: without
// --model, the first run makes a demo model with the model maker.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>
#include <caf/actor_system.hpp>

#include "actors/client.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "apps/chat_repl.hpp"
#include "apps/command_line.hpp"
#include "model/model_maker.hpp"

namespace po = boost::program_options;

namespace corolla {
namespace {

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

int run(int argc, char** argv) {
  po::options_description opts("actor-chat --local [--model FILE] [--servers N]");
  local_swarm_options swarm_options;
  repl_options repl;
  int64_t context = 0, kv_budget_mib = 1024;
  std::string codec_name = "f32";
  opts.add_options()("help,h", "show this help")(
      "local", "run the whole swarm in this process (the embedded default)")(
      "model,m", po::value(&swarm_options.model_path),
      "GGUF file (default: a demo model, made on first run)")(
      "servers", po::value(&swarm_options.servers)->default_value(3),
      "servers splitting the blocks")("f32", "run the f32 reference kernels instead of int8")(
      "kv-budget-mib", po::value(&kv_budget_mib)->default_value(1024),
      "KV-cache budget of each server")(
      "context,c", po::value(&context),
      "tokens of the session (default: the model's, at most 4096)")(
      "codec", po::value(&codec_name)->default_value("f32"),
      "hidden states between client and servers: f32, f16 or int8")(
      "raw", "raw completion even when the model has a chat template")(
      "max-tokens,n", po::value(&repl.generation.max_tokens)->default_value(256),
      "new tokens per answer at most")(
      "temperature", po::value(&repl.generation.sampling.temperature)->default_value(0.8f, "0.8"),
      "0 = greedy")("top-k", po::value(&repl.generation.sampling.top_k)->default_value(40),
                    "0 = off")(
      "top-p", po::value(&repl.generation.sampling.top_p)->default_value(0.95f, "0.95"), "1 = off")(
      "min-p", po::value(&repl.generation.sampling.min_p)->default_value(0.05f, "0.05"), "0 = off")(
      "repeat-penalty",
      po::value(&repl.generation.sampling.repeat_penalty)->default_value(1.0f, "1.0"), "1 = off")(
      "seed", po::value(&repl.generation.sampling.seed)->default_value(0), "sampling seed")(
      "stop", po::value(&repl.generation.stop_strings)->composing(), "stop string (repeatable)");
  po::variables_map vm;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (auto done = parse_command_line(opts, args, "actor-chat", std::cout, vm)) return *done;
  if (!vm.count("local")) {
    std::cerr << "actor-chat: give --local (the whole swarm in this process); joining a "
                 "running swarm of actor-node processes is not available in this build\n";
    return 2;
  }
  auto codec = parse_tensor_codec(codec_name);
  if (!codec.ok()) {
    std::cerr << "actor-chat: --codec: " << codec.error().message() << "\n";
    return 2;
  }
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
  swarm_options.kind = vm.count("f32") ? precision::f32 : precision::int8;
  swarm_options.kv_budget_bytes = kv_budget_mib << 20;
  repl.chat = !vm.count("raw");

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
            << to_string(head.chat()) << "\n";
  for (size_t i = 0; i < swarm->spans().size(); ++i) {
    std::cerr << "server-" << i + 1 << ": blocks [" << swarm->spans()[i].first << ", "
              << swarm->spans()[i].second << ")\n";
  }
  client_config client_cfg = swarm->client_defaults();
  client_cfg.max_tokens = context;
  client_cfg.codec = *codec;
  auto client = start_client(system, client_cfg);
  if (!client.ok()) {
    std::cerr << "actor-chat: " << client.error().message() << "\n";
    return 1;
  }
  client_handle owner(*client);
  return run_repl(system, *client, repl, std::cin, std::cout);
}

}  // namespace
}  // namespace corolla

int main(int argc, char** argv) {
  return corolla::run(argc, argv);
}
