// client: the actor a program prompts — it owns the head (embedding, final norm, LM
// head), the tokenizer, the sampler and the conversation, and drives a client
// session through the swarm. Messages: messages/client.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/compute_executor.hpp"
#include "actors/failover_policy.hpp"
#include "actors/spot_check.hpp"
#include "messages/interfaces.hpp"
#include "model/llama_model.hpp"

namespace corolla {

struct client_config {
  std::shared_ptr<const llama_model> head_model;  // loaded with_head
  routing_table_actor routing_table;
  uint64_t session_id = 0;  // 0: a random one
  int64_t max_tokens = 0;   // context of the session; 0: the model's, at most 4096
  tensor_codec codec = tensor_codec::f32;
  std::chrono::milliseconds open_timeout{10000};
  std::chrono::milliseconds step_timeout{60000};
  bool push = false;                // server-to-server push (client_session_config::push)
  int64_t prefill_chunk = 128;      // push mode's pipelined prefill (client_session_config)
  int64_t checkpoint_every = 0;     // standbys' checkpoints, tokens (client_session_config)
  failover_settings failover;       // bans and retries when a server fails (seeded by session_id)
  spot_check_settings spot_checks;  // outputs recomputed elsewhere and compared; off by default
  // Where the head's kernels run: the process's compute thread when it has one (one
  // OpenMP team per process); null: the client's own thread.
  std::shared_ptr<compute_executor> executor;
  // Speculation's drafts from this model (loaded whole, with the model's vocabulary) run in
  // the client, rather than from the context; null: the context (model/draft_model.hpp).
  std::shared_ptr<const llama_model> draft_model;
};

// Spawns the client (on its own thread: it computes the head) and opens its session.
// Errors: the session's (no route, a server refusing it), as a status.
result<caf::actor> start_client(caf::actor_system& system, client_config cfg);

// Asks `client` to finish: it closes its session on every server and exits.
void stop_client(const caf::actor& client);

// Owns a started client and stops it when it goes out of scope (an actor system
// waits for its blocking actors before it can shut down).
class client_handle {
 public:
  explicit client_handle(caf::actor client) : client_(std::move(client)) {}
  client_handle(client_handle&&) = default;
  client_handle& operator=(client_handle&&) = default;
  ~client_handle() {
    if (client_) stop_client(client_);
  }
  const caf::actor& actor() const { return client_; }

 private:
  caf::actor client_;
};

}  // namespace corolla
