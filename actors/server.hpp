// server: the actor that serves a span of blocks to client sessions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <caf/fwd.hpp>

#include "actors/compute_executor.hpp"
#include "actors/supervision_policy.hpp"
#include "messages/interfaces.hpp"
#include "model/llama_model.hpp"

namespace corolla {

// Faults a server can be told to have, for tests and for operators trying their swarm's
// failover (actor-node's fault-* keys). All off by default. Steps count both round-trip
// and pushed steps, replays included.
struct fault_injection {
  int64_t crash_after_steps = -1;  // then the server exits with an error (its blocks with it)
  int64_t stall_after_steps = -1;  // then it answers nothing more (and stays connected)
  std::chrono::milliseconds reply_delay{0};  // every step's output held back this long
  double drop_fraction = 0;                  // of incoming steps, ignored without a word
  uint64_t seed = 0;                         // which steps are dropped
  // A liar: every alter_every-th step's output has its last row's first value negated
  // (1 where it was 0). 0: never.
  int64_t alter_every = 0;
  // A liar to the next server only: every alter_handover_every-th output pushed on has a
  // byte changed, while the session is sent the true one. 0: never.
  int64_t alter_handover_every = 0;
  // The actor of block `crash_block` throws after taking block_crash_after_steps steps,
  // in its first `block_crashes` lives (a restart spawns it again).
  int64_t crash_block = -1;
  int64_t block_crash_after_steps = 0;
  int64_t block_crashes = 1;
  // Hand-overs: the server exits with an error when asked to adopt a session (the
  // receiver dying under it), or answers every request for its caches with an error (a
  // transfer that fails).
  bool crash_on_adopt = false;
  bool fail_kv_requests = false;
  bool any() const {
    return crash_after_steps >= 0 || stall_after_steps >= 0 || reply_delay.count() > 0 ||
           drop_fraction > 0 || crash_block >= 0 || alter_every > 0 || alter_handover_every > 0 ||
           crash_on_adopt || fail_kv_requests;
  }
};

struct server_config {
  uint64_t server_id = 0;
  std::string name;
  std::shared_ptr<const llama_model> model;    // the span: model->first_block(), its blocks()
  int64_t kv_budget_bytes = int64_t(1) << 30;  // KV caches plus input histories of sessions
  double compute_ms_per_block = 1.0;           // announced until steps have been measured
  // Steps per second the node's links carry (measured or configured); 0: unknown, the
  // announced throughput is the compute side's alone.
  double network_steps_per_s = 0;
  routing_table_actor routing_table;           // announced to at start, when set
  std::shared_ptr<compute_executor> executor;  // the node's compute thread; made when null
  // What the record announces: where the node listens ("" in an in-process swarm) and
  // the model's fingerprint (model/model_id.hpp).
  std::string host;
  uint16_t port = 0;
  std::string model_id;
  // How spans this node loads later (hand-overs, balancer moves) keep their weights.
  precision weights = precision::native;
  kv_type kv = kv_type::f16;
  // The swarm's wire codec: sessions asking another are refused. None: any codec.
  std::optional<tensor_codec> codec;
  // The record is re-announced (its version raised) this often, so that replicas whose
  // TTL would drop it see it refreshed; 0: only when it changes.
  std::chrono::milliseconds announce_period{0};
  fault_injection faults;
  // A balancer owns this server and may move it from may_move_at on (its move limit);
  // the record announces whether it may now (re-announced every announce_period).
  bool balances = false;
  std::chrono::steady_clock::time_point may_move_at{};
  // When a block actor crashes: restart the span's blocks (replaying every session's
  // inputs) or, past this intensity, hand the span over (drain; clients fail over).
  supervision_settings supervision;
};

server_actor spawn_server(caf::actor_system& system, server_config cfg);

// What a server of `blocks` blocks announces as its throughput: decode steps/s through
// its whole span, at most what its links carry (network_steps_per_s; 0: unknown).
double announced_throughput(double compute_ms_per_block, int64_t blocks,
                            double network_steps_per_s);

// What admission reserves for a session: its KV cache (of type `cache`) in every block
// it uses plus the input history the server keeps for replay.
int64_t session_reservation_bytes(const llama_config& c, int64_t blocks, int64_t max_tokens,
                                  kv_type cache = kv_type::f16);

}  // namespace corolla
