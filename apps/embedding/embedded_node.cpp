// embedded-node: Corolla embedded in a CAF application of its own — the example the
// README's "Embedding" section walks through, built against the installed package
// (`find_package(corolla)`) as any other application would be.
//
// The application has its own configuration (CAF's options: --peer=HOST:PORT and so
// on, or caf-application.ini) and its own actor, a writer. It starts Corolla's actors in
// its actor system: a swarm node that serves a span of the model's blocks, joined to a
// swarm through a peer; and a client that routes through that swarm (through this
// process's own server for its span). The writer asks the client for a completion and
// prints it as it streams. Then the node drains and leaves, as actor-node does.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/client.hpp"
#include "actors/node_config.hpp"
#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "actors/swarm_node.hpp"
#include "messages/caf_types.hpp"
#include "messages/client.hpp"
#include "messages/tensor_codec.hpp"

namespace {

// node_config registers Corolla's messages and its scheduler settings; the
// application adds its own options (and could add its own message types) on top.
class app_config : public corolla::node_config {
 public:
  std::string peer;
  std::string model;
  std::string span = "auto";
  std::string codec = "f16";
  std::string prompt = "Once upon a time";
  int max_tokens = 32;
  double temperature = 0.0;

  app_config() {
    opt_group{custom_options_, "global"}
        .add(peer, "peer", "host:port of a node of the swarm to join through")
        .add(model, "model", "the swarm's GGUF model file")
        .add(span, "span", "blocks this process serves: START:END, or auto (what the swarm lacks)")
        .add(codec, "codec", "the swarm's wire codec: f32, f16 or int8")
        .add(prompt, "prompt", "text to continue")
        .add(max_tokens, "max-tokens", "tokens to generate")
        .add(temperature, "temperature", "sampling temperature (0: greedy)");
    corolla::enable_network(*this, corolla::network_options{});
  }
};

// The application's own actor: it talks to Corolla's client with plain messages
// (messages/client.hpp) — a request, then text as it streams, then the reply.
caf::behavior writer(caf::event_based_actor* self, caf::actor client,
                     corolla::generate_request request, int* exit_code) {
  self->send(client, std::move(request));
  return {
      [](const corolla::text_chunk& chunk) { std::cout << chunk.text << std::flush; },
      [=](const corolla::generate_reply& reply) {
        const corolla::generation_stats& s = reply.stats;
        std::cout << "\n";
        std::cerr << s.tokens.size() << " tokens, "
                  << (s.generate_ms > 0 ? 1000.0 * double(s.tokens.size()) / s.generate_ms : 0.0)
                  << " tokens/s; route:";
        for (const corolla::hop_timing& hop : reply.last_token) {
          std::cerr << " " << hop.server_name << " [" << hop.start_block << ", " << hop.end_block
                    << ")";
        }
        std::cerr << std::endl;
        *exit_code = EXIT_SUCCESS;
        self->quit();
      },
      [=](const caf::error& err) {
        std::cerr << "\nembedded-node: " << corolla::describe(err) << std::endl;
        self->quit();
      }};
}

bool parse_span(const std::string& text, int64_t& start, int64_t& end) {
  if (text == "auto") return true;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  char* rest = nullptr;
  start = std::strtoll(text.c_str(), &rest, 10);
  if (rest != text.c_str() + colon) return false;
  end = std::strtoll(text.c_str() + colon + 1, &rest, 10);
  return *rest == '\0' && 0 <= start && start < end;
}

// Starts a client that routes with the node's own routing table (and shares its compute
// thread), and has a writer ask it for the completion. The client ends with the scope.
int prompt_swarm(caf::actor_system& system, const corolla::swarm_node& node,
                 const app_config& cfg) {
  corolla::remote_swarm_options swarm_options;
  swarm_options.table = node.routing_table();
  swarm_options.model_path = cfg.model;
  swarm_options.executor = node.executor();
  auto swarm = corolla::remote_swarm::join(system, swarm_options);
  if (!swarm.ok()) {
    std::cerr << "embedded-node: " << swarm.error().message() << "\n";
    return EXIT_FAILURE;
  }
  corolla::client_config client_cfg = swarm->client_defaults();
  client_cfg.push = true;
  auto client = corolla::start_client(system, client_cfg);
  if (!client.ok()) {
    std::cerr << "embedded-node: " << client.error().message() << "\n";
    return EXIT_FAILURE;
  }
  corolla::client_handle client_owner(*client);

  corolla::generate_request request;
  request.prompt = cfg.prompt;
  request.options.max_tokens = cfg.max_tokens;
  request.options.sampling.temperature = float(cfg.temperature);
  int exit_code = EXIT_FAILURE;
  std::cout << cfg.prompt << std::flush;
  caf::scoped_actor self{system};
  const caf::actor w = system.spawn(writer, *client, request, &exit_code);
  self->wait_for(w);
  return exit_code;
}

int run(caf::actor_system& system, const app_config& cfg) {
  corolla::swarm_node_options node_options;
  node_options.name = "embedded";
  node_options.model_path = cfg.model;
  if (!cfg.peer.empty()) node_options.seeds = {cfg.peer};
  if (!parse_span(cfg.span, node_options.span_start, node_options.span_end)) {
    std::cerr << "embedded-node: span: '" << cfg.span << "' is not START:END or auto\n";
    return EXIT_FAILURE;
  }
  auto codec = corolla::parse_tensor_codec(cfg.codec);
  if (!codec.ok()) {
    std::cerr << "embedded-node: codec: " << codec.error().message() << "\n";
    return EXIT_FAILURE;
  }
  node_options.codec = *codec;
  auto node = corolla::swarm_node::start(system, node_options);
  if (!node.ok()) {
    std::cerr << "embedded-node: " << node.error().message() << "\n";
    return EXIT_FAILURE;
  }
  std::cerr << "serving blocks [" << node->span_start() << ", " << node->span_end() << ") on "
            << node->address()
            << (node->joined_through().empty() ? ", a new swarm"
                                               : ", joined through " + node->joined_through())
            << std::endl;

  const int exit_code = prompt_swarm(system, *node, cfg);
  node->drain();
  node->await_sessions(std::chrono::seconds(10));
  node->leave();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  app_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "embedded-node: bad command line (see --help): "
              << caf::actor_system_config::render(err) << "\n";
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed) return EXIT_SUCCESS;
  if (cfg.model.empty()) {
    std::cerr << "embedded-node: --model=FILE is required (see --help)\n";
    return EXIT_FAILURE;
  }
  caf::actor_system system{cfg};
  return run(system, cfg);
}
