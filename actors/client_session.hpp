// client_session: the actor that drives one generation through a route of servers.
#pragma once

#include <chrono>
#include <cstdint>

#include <caf/fwd.hpp>

#include "actors/failover_policy.hpp"
#include "actors/spot_check.hpp"
#include "messages/interfaces.hpp"

namespace corolla {

struct client_session_config {
  routing_table_actor routing_table;
  uint64_t session_id = 0;  // unique in the swarm
  int64_t n_blocks = 0;     // the model's
  int64_t dim = 0;
  int64_t max_tokens = 0;  // KV-cache rows asked of every server
  tensor_codec codec = tensor_codec::f32;
  std::chrono::milliseconds open_timeout{10000};
  std::chrono::milliseconds step_timeout{60000};
  size_t max_queued_steps = 4;  // beyond the one running, refused with busy
  // Push mode: the first server sends its output straight to the next, and so on; every
  // server also sends the session its output (the next server's input, kept for replay).
  // A token then costs one pass along the chain instead of a round trip per server.
  bool push = false;
  // Push mode: a step of more rows than this goes down the route in chunks of this many,
  // so that the servers compute one chunk each at once and the next chunk's bytes cross a
  // link while one computes (0: whole). Decode steps are one row.
  int64_t prefill_chunk = 128;
  // Bans and the retry budget when a server fails (actors/client_session.cpp).
  failover_settings failover;
  // How often the route's outputs are recomputed on other servers of the same spans and
  // compared (actors/spot_check.hpp); a server caught lying is banned for failover.liar_ban.
  spot_check_settings spot_checks;
  uint64_t seed = 0;  // the policy's jitter, the checks' draws
  // Checkpoints (0: off): every route server gets a standby — another server of its blocks,
  // off the route, with the session open — that takes the server's new cache rows over
  // every this many tokens. When the server crashes, its standby replaces it and only the
  // tokens since the last checkpoint are replayed. Costs the standbys' cache memory and
  // the rows' bytes, no compute.
  int64_t checkpoint_every = 0;
};

client_session_actor spawn_client_session(caf::actor_system& system, client_session_config cfg);

}  // namespace corolla
