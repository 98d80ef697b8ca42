// What the actor tests share: an actor system configured like a node, a local swarm
// on stories260K, and a blocking way to ask a client for an answer.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/client.hpp"
#include "actors/local_swarm.hpp"
#include "actors/node_config.hpp"
#include "messages/client.hpp"

namespace corolla::testing {

// ../shared's real model; tests skip when it is absent.
std::string stories_path();

struct answer {
  std::string text;
  generate_reply reply;
  std::string error;  // empty when the answer completed
};

// Sends `req` to `client` and collects the streamed text and the reply; `on_chunk`, when
// given, is called with the number of text chunks received so far after each one.
answer ask(caf::actor_system& system, const caf::actor& client, const generate_request& req,
           std::chrono::seconds timeout = std::chrono::seconds(60),
           const std::function<void(int)>& on_chunk = nullptr);

// A stories260K-shaped Q8_0 model with random weights at temp_path(name-SEED.gguf), SEED
// being test_seed(default_seed) (printed); empty when it could not be made.
std::string made_stories_model(const std::string& name, uint64_t default_seed);

// A swarm in this process of `model` over `spans`, server i with faults[i].
result<local_swarm> start_swarm(caf::actor_system& system, const std::string& model,
                                const std::vector<block_span>& spans,
                                std::vector<fault_injection> faults);

// A greedy request of `max_tokens` raw-completion tokens.
generate_request greedy(const std::string& prompt, int32_t max_tokens);

// The tokens the single-process generator produces for `req` (raw completion), and
// into `text` (when given) the text it streams.
std::vector<int32_t> single_process_tokens(const std::string& model_path, precision kind,
                                           const generate_request& req, std::string* text = nullptr,
                                           std::optional<kv_type> kv = std::nullopt);

}  // namespace corolla::testing
