// client messages: what a program (the REPL, or an application embedding Corolla)
// says to a client actor, and what it hears back.
//
//   program ──generate_request──▶ client      (sent, not requested: the answer streams)
//           ◀─text_chunk ...───── client      text as it becomes final
//           ◀─generate_reply───── client      or an error, once the answer is over
//           ──stop_atom─────────▶ client      ends the current answer early (Ctrl-C)
// Node-local, but serialisable like every message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/wire_fields.hpp"
#include "model/generator.hpp"

namespace corolla {

// Hops a route may have, and failovers an answer may report.
constexpr size_t max_route_hops = 4096;

// The generator's own option and result structs travel as they are; their fields are
// listed here, in wire order (new fields at the end).
template <class Archive>
void serialize(Archive& ar, sampling_params& p) {
  ar(p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, p.repeat_last_n, p.seed);
}

template <class Archive>
void serialize(Archive& ar, generation_options& o) {
  ar(o.sampling, o.max_tokens, text_list<64>(o.stop_strings), o.stop_at_eos, o.draft_tokens);
}

template <class Archive>
void save(Archive& ar, const generation_stats& s) {
  ar(s.prompt_tokens, s.prompt_ms, s.generate_ms, uint8_t(s.reason),
     bounded_values<max_wire_tokens>(s.tokens), s.drafted, s.accepted, s.decode_steps);
}

template <class Archive>
void load(Archive& ar, generation_stats& s) {
  uint8_t reason = 0;
  ar(s.prompt_tokens, s.prompt_ms, s.generate_ms, reason, bounded_values<max_wire_tokens>(s.tokens),
     s.drafted, s.accepted, s.decode_steps);
  if (reason > uint8_t(stop_reason::cancelled)) {
    throw cereal::Exception("unknown stop reason " + std::to_string(reason));
  }
  s.reason = stop_reason(reason);
}

struct generate_request {
  std::string prompt;  // the user's text (chat) or the text to continue (raw)
  bool chat = false;   // true: a turn of the conversation, in the model's template
  generation_options options;
  // When not empty: the whole context, already tokenised (prompt and chat are unused).
  // The HTTP face renders conversations itself and resends them whole every turn; the
  // client's generator reuses what its caches already hold of them.
  std::vector<int32_t> tokens;
  std::string system;  // chat: the system prompt heading the conversation ("" for none)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(bounded_text<max_wire_text>{prompt}, chat, options, bounded_values<max_wire_tokens>(tokens),
       bounded_text<max_wire_text>{system});
  }
};

struct text_chunk {
  std::string text;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(bounded_text<max_wire_text>{text});
  }
};

// Per token, where its time went (distributed-llama prints the same per token).
struct hop_timing {
  std::string server_name;
  int64_t start_block = 0;
  int64_t end_block = 0;
  double compute_ms = 0;   // the server's blocks
  double transfer_ms = 0;  // round trip minus compute: queueing, messaging, codecs
  // Push mode: from the previous sender's send to this server's receipt (hop_output's
  // inbound_us; meaningful when both ran on one machine).
  double inbound_ms = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(text_field(server_name), start_block, end_block, compute_ms, transfer_ms, inbound_ms);
  }
};

// A failover a client session went through: the server it gave up on, what replaced
// it, and where the time went (Petals' replay, with positions explicit).
struct recovery_report {
  std::string failed_server;
  int64_t start_block = 0;  // the blocks rerouted: the failed server's part of the route
  int64_t end_block = 0;
  std::string cause;                     // the error, timeout or lost connection
  std::vector<std::string> replaced_by;  // the servers now running those blocks, in order
  int64_t replayed_tokens = 0;           // cached inputs replayed to them, one prefill
  int64_t attempts = 0;                  // tries it took (route, open, replay)
  int64_t noticed_ns = 0;  // steady clock (push_clock_ns) when the failure was noticed
  double reroute_ms = 0;   // from noticing to the replacement sessions open (backoff included)
  double replay_ms = 0;    // replaying the cached inputs, or taking the caches over
  // A planned leave: tokens whose caches the replacement took over from the leaving
  // server (replayed_tokens is then 0), and whether it was planned at all.
  int64_t handed_over_tokens = 0;
  bool planned = false;
  // A crash with checkpoints on: tokens the replacement (the failed server's standby) held
  // from its last checkpoint, so that only the rest was replayed.
  int64_t checkpoint_tokens = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(text_field(failed_server), start_block, end_block, text_field(cause),
       text_list<max_route_hops>(replaced_by), replayed_tokens, attempts, noticed_ns, reroute_ms,
       replay_ms, handed_over_tokens, planned, checkpoint_tokens);
  }
};

// A client session's spot checks so far (actors/spot_check.hpp), with the compute its
// route did, so their cost is a ratio of two measured times.
struct spot_check_totals {
  int64_t checks = 0;           // windows compared
  int64_t positions = 0;        // outputs compared, summed over hops
  int64_t mismatches = 0;       // windows whose outputs differed
  int64_t unchecked = 0;        // checks skipped: no second server for the span
  double check_compute_ms = 0;  // the checkers' and referees' compute
  double route_compute_ms = 0;  // the route's own, every step
  int64_t steps = 0;            // the session's completed steps
  int64_t first_ban_step = 0;   // the step after which a server was first banned; 0: none

  template <class Archive>
  void serialize(Archive& ar) {
    ar(checks, positions, mismatches, unchecked, check_compute_ms, route_compute_ms, steps,
       first_ban_step);
  }
};

struct generate_reply {
  generation_stats stats;
  std::vector<hop_timing> last_token;       // the last decode step, hop by hop
  std::vector<hop_timing> mean_token;       // averaged over the decode steps
  std::vector<recovery_report> recoveries;  // failovers during the answer, in order
  // Chat: messages dropped from the conversation's start to fit it in the context.
  int64_t dropped_messages = 0;
  spot_check_totals spot_checks;  // the session's, at the answer's end

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stats, bounded_list<max_route_hops>(last_token), bounded_list<max_route_hops>(mean_token),
       bounded_list<max_route_hops>(recoveries), dropped_messages, spot_checks);
  }
};

// client -> client_session: run hidden states through the whole route.
struct session_step {
  int64_t pos = 0;
  int64_t n = 0;
  std::vector<float> hidden;  // [n, dim] embeddings of the new tokens

  template <class Archive>
  void serialize(Archive& ar) {
    ar(pos, n, bounded_values<max_wire_values>(hidden));
  }
};

struct session_step_result {
  std::vector<float> hidden;                // [n, dim] outputs of the last block
  std::vector<hop_timing> timing;           // one per hop of the route
  std::vector<recovery_report> recoveries;  // failovers the step went through
  spot_check_totals spot_checks;            // the session's so far

  template <class Archive>
  void serialize(Archive& ar) {
    ar(bounded_values<max_wire_values>(hidden), bounded_list<max_route_hops>(timing),
       bounded_list<max_route_hops>(recoveries), spot_checks);
  }
};

}  // namespace corolla
