// server_state: the server actor's state and what its two translation units share —
// server.cpp (sessions, steps, blocks and their supervision) and server_handover.cpp (a
// session's caches handed to another server: messages/session.hpp, Hand-over). Internal
// to the server: nothing else includes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/block.hpp"
#include "actors/server.hpp"

namespace corolla {

using step_done = std::function<void(caf::expected<step_reply>)>;

// A step the span's blocks run: kept by the server until they answer, so that a
// restart of the blocks can run it again.
struct block_job {
  uint64_t session_id = 0;
  uint64_t step_id = 0;
  int64_t pos = 0;
  int64_t n = 0;
  std::vector<float> input;  // [n, dim] for the session's first block
  step_done done;
  std::chrono::steady_clock::time_point arrived;
};

struct server_state {
  struct session {
    int64_t start_block = 0;
    int64_t end_block = 0;
    int64_t max_tokens = 0;
    tensor_codec codec = tensor_codec::f32;
    std::vector<float> history;  // [length, dim] inputs of its first block
    int64_t reserved_bytes = 0;
    bool busy = false;
    uint64_t last_step_id = 0;  // steps arrive with increasing ids; others are dropped
    std::deque<std::pair<step_request, step_done>> waiting;  // while busy
    caf::actor_addr client;  // the client session that opened it (monitored)

    // Tokens in the caches of the session's blocks: one per input row kept.
    int64_t length(int64_t dim) const { return int64_t(history.size()) / dim; }
  };
  std::vector<block_actor> blocks;                             // the span's, in order
  std::vector<std::shared_ptr<compute_executor::lane>> lanes;  // theirs, where the caches are
  // A span given up after block crashes keeps its last lanes, whole caches, readable for
  // hand-overs until its sessions end.
  std::vector<std::shared_ptr<compute_executor::lane>> kept_lanes;
  std::unordered_map<uint64_t, session> sessions;
  int64_t reserved_bytes = 0;
  double compute_ms_per_block = 0;  // moving average over decode steps
  uint64_t record_version = 0;      // raised before each announcement
  serving_state state = serving_state::online;
  int64_t next_start = -1;  // while draining to move (move_atom)
  int64_t next_end = -1;
  // Supervision of the blocks: replies from blocks of an earlier epoch (before a
  // restart) are ignored; jobs wait in after_restart while the caches are rebuilt.
  uint64_t epoch = 0;
  std::unordered_map<uint64_t, block_job> jobs;  // running on the blocks, by session
  bool restarting = false;
  std::vector<block_job> after_restart;
  supervision_policy supervision;
  int64_t block_restarts = 0;
  int64_t crashing_lives = 0;  // block lives spawned with fault injection's crash
  // Fault injection (server_config::faults).
  int64_t steps_seen = 0;
  int64_t outputs_made = 0;
  int64_t handovers = 0;
  bool stalled = false;
  std::mt19937_64 fault_rng;
  uint64_t next_ticket = 0;
  std::unordered_map<uint64_t, std::function<void()>> held;  // outputs held back, by ticket
  static inline const char* name = "server";
};

using server_pointer = server_actor::stateful_pointer<server_state>;

namespace server_detail {

inline int64_t span_start(const server_config& cfg) {
  return cfg.model->first_block();
}
inline int64_t span_end(const server_config& cfg) {
  return cfg.model->first_block() + int64_t(cfg.model->blocks().size());
}
// The row format of the span's KV caches (the swarm's kv-type).
inline kv_type cache_type(const server_config& cfg) {
  return cfg.model->blocks().front().cache_type;
}

// Keeps `run` until a tick_atom with the returned ticket reaches the server (a delayed
// send, or the executor's thread handing a result back): then it runs in the actor.
inline uint64_t hold(server_pointer self, std::function<void()> run) {
  const uint64_t ticket = ++self->state.next_ticket;
  self->state.held.emplace(ticket, std::move(run));
  return ticket;
}

// server.cpp: a new version of the record, sent to the routing table; and the session's
// next waiting step, run once the one before it is done.
server_record announce(server_pointer self, const server_config& cfg);
void run_waiting(server_pointer self, const server_config& cfg, uint64_t session_id);

// server_handover.cpp. Draining: no new sessions, and each open session's client is told
// to move it off.
void start_draining(server_pointer self, const server_config& cfg);
// Rows of a session's caches and inputs, for the server taking it over.
caf::result<kv_chunk> send_kv(server_pointer self, const server_config& cfg, const kv_request& req);
// Takes a session's rows over from the server `from` (adopt_request).
caf::result<int64_t> adopt(server_pointer self, const server_config& cfg, const adopt_request& req,
                           const caf::actor& from);

}  // namespace server_detail
}  // namespace corolla
