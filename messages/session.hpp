// session messages: a client session's conversation with a server, and a server's
// with its block actors.
//
//   client_session ──open_session_request──▶ server     admission, protocol check
//                  ──step_request──────────▶ server ──block_step───▶ first block
//                  ◀─step_reply───────────── server ◀─block_output── (runs the span)
//                  ──close_session_request─▶ server
//
// Positions are explicit: a step at pos appends when pos equals the session's cache
// length, truncates then appends when pos is below it, and is refused when above.
// Field order is wire order; new fields go at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/tensor_codec.hpp"
#include "messages/wire_fields.hpp"

namespace corolla {

// A server queues this many of a session's steps behind the one running and refuses more
// (busy); a client session in push mode keeps at most this many chunks of a pipelined
// prefill on its route, so that each server has room for them beside an abandoned
// attempt's step still running after a failover.
constexpr size_t max_waiting_steps = 3;

struct open_session_request {
  uint32_t protocol_version = 0;
  uint64_t session_id = 0;  // chosen by the client, unique in the swarm
  int64_t start_block = 0;  // the blocks of the server's span this session uses,
  int64_t end_block = 0;    // [start, end) in model numbering
  int64_t max_tokens = 0;   // KV-cache rows the session may fill
  uint8_t codec = 0;        // tensor_codec of the server's replies

  template <class Archive>
  void serialize(Archive& ar) {
    ar(protocol_version, session_id, start_block, end_block, max_tokens, codec);
  }
};

struct open_session_reply {
  uint64_t session_id = 0;
  std::string server_name;
  int64_t cache_bytes = 0;  // KV-cache memory reserved for the session

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, text_field(server_name), cache_bytes);
  }
};

struct step_request {
  uint64_t session_id = 0;
  uint64_t step_id = 0;  // increasing per session; echoed in the reply
  int64_t pos = 0;       // position of the first row of `hidden`
  tensor_bytes hidden;   // [n, dim] inputs of the session's first block

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, step_id, pos, hidden);
  }
};

struct step_reply {
  uint64_t session_id = 0;
  uint64_t step_id = 0;
  tensor_bytes hidden;     // [n, dim] outputs of the session's last block
  int64_t compute_us = 0;  // time the blocks computed
  int64_t server_us = 0;   // time from the request's arrival to the reply

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, step_id, hidden, compute_us, server_us);
  }
};

// Push mode: what each server of a route sends the client session for one step — its
// output (the next server's input, which the client keeps for replay; the final hidden
// state after the last server) or the error that stopped the step there.
struct hop_output {
  uint64_t session_id = 0;
  uint64_t step_id = 0;
  uint32_t hop = 0;        // the server's place in the route
  tensor_bytes hidden;     // [n, dim] outputs of the hop's last block; empty on error
  int64_t compute_us = 0;  // time the hop's blocks computed
  int64_t server_us = 0;   // time from the step's arrival to this message
  // From the sender's send to this server's receipt, when both clocks are the machine's
  // one monotonic clock (processes on one host: the benchmark's per-hop latency).
  int64_t inbound_us = 0;
  uint8_t error_code = 0;  // an errc; 0 when the hop ran
  std::string error_text;
  uint64_t input_digest = 0;  // tensor_digest of the input the hop computed on

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, step_id, hop, hidden, compute_us, server_us, inbound_us, error_code,
       text_field(error_text), input_digest);
  }
};

struct close_session_request {
  uint64_t session_id = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id);
  }
};

struct close_session_reply {
  uint64_t session_id = 0;
  int64_t cache_bytes_freed = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, cache_bytes_freed);
  }
};

// Server -> its block actors, inside one node. The hidden states stay f32: they
// never leave the process.
struct block_step {
  uint64_t session_id = 0;
  int64_t pos = 0;
  int64_t n = 0;
  int64_t max_tokens = 0;     // the session's cache limit, for its first step
  int64_t end_block = 0;      // the last block (exclusive) this step runs through
  int64_t compute_us = 0;     // summed along the chain of blocks
  std::vector<float> hidden;  // [n, dim]

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, pos, n, max_tokens, end_block, compute_us,
       bounded_values<max_wire_values>(hidden));
  }
};

struct block_output {
  uint64_t session_id = 0;
  int64_t compute_us = 0;
  std::vector<float> hidden;  // [n, dim]

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, compute_us, bounded_values<max_wire_values>(hidden));
  }
};

// ---- Hand-over: a leaving server's sessions taken over without a replay ----------
//
//   server A (draining) ──drain_atom, A's id──▶ client_session   (move off me)
//   client_session ──open_session_request──▶ server B ──▶ B's session, empty
//                  ──adopt_request, A──────▶ server B ──kv_request──▶ A  (chunk by chunk)
//                  ◀─rows adopted─────────── server B ◀─kv_chunk───── A
//
// B then holds A's caches and input history of the session, bit for bit, and the client
// routes the next step through B; if anything fails it replays to B as after a crash.

// The most bytes one kv_chunk carries: a chunk's rows are chosen to fit.
constexpr uint64_t max_kv_chunk_bytes = uint64_t(64) << 20;

// Rows [from, to) of a session's caches, asked of the server handing it over.
struct kv_request {
  uint64_t session_id = 0;
  int64_t from = 0;
  int64_t to = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, from, to);
  }
};

struct kv_chunk {
  uint64_t session_id = 0;
  int64_t from = 0;  // the rows [from, to)
  int64_t to = 0;
  int64_t start_block = 0;  // the blocks whose rows `kv` holds, in order
  int64_t end_block = 0;
  uint8_t kv_type = 0;    // the caches' row format (every node of a swarm alike)
  std::string kv;         // per block, its keys rows then its values rows, as stored
  tensor_bytes history;   // the first block's inputs of those rows, f32: [to - from, dim]
  uint64_t checksum = 0;  // of kv and history's data (kv_chunk_checksum)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, from, to, start_block, end_block, kv_type, bounded_text<max_kv_chunk_bytes>{kv},
       history, checksum);
  }
};

// FNV-1a over a chunk's cache rows and history: a chunk damaged on the way is refused
// rather than computed on.
uint64_t kv_chunk_checksum(const kv_chunk& chunk);

// Client -> the server taking a session over: fetch rows [from, rows) of the session
// (which the client has opened there) from the server named beside this request, keeping
// its own rows [0, from) — 0 for a hand-over; a checkpoint's earlier rows for a standby
// (actors/client_session.cpp, Checkpoints).
struct adopt_request {
  uint64_t session_id = 0;
  int64_t rows = 0;
  int64_t from = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(session_id, rows, from);
  }
};

}  // namespace corolla
