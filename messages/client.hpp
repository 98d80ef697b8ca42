// client messages: what a program (the REPL, or an application embedding Corolla)
// says to a client actor, and what it hears back.
//
//   program ──generate_request──▶ client      (sent, not requested: the answer streams)
//           ◀─text_chunk ...───── client      text as it becomes final
//           ◀─generate_reply───── client      or an error, once the answer is over
//           ──stop_generation───▶ client      ends the current answer early (Ctrl-C)
// Node-local, but serialisable like every message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/wire_fields.hpp"

namespace corolla {

struct sampling_settings {
  float temperature = 0.8f;  // 0 = greedy
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  uint64_t seed = 0;
  int32_t max_tokens = 256;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(temperature, top_k, top_p, min_p, repeat_penalty, seed, max_tokens);
  }
};

struct generate_request {
  std::string prompt;  // the user's text (chat) or the text to continue (raw)
  bool chat = false;   // true: a turn of the conversation, in the model's template
  sampling_settings sampling;
  std::vector<std::string> stop_strings;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(prompt, chat, sampling, stop_strings);
  }
};

struct text_chunk {
  std::string text;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(text);
  }
};

// Per token, where its time went (distributed-llama prints the same per token).
struct hop_timing {
  std::string server_name;
  int64_t start_block = 0;
  int64_t end_block = 0;
  double compute_ms = 0;   // the server's blocks
  double transfer_ms = 0;  // round trip minus compute: queueing, messaging, codecs

  template <class Archive>
  void serialize(Archive& ar) {
    ar(server_name, start_block, end_block, compute_ms, transfer_ms);
  }
};

struct generate_reply {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prompt_ms = 0;
  double generate_ms = 0;
  std::string stop_reason;
  std::vector<int32_t> tokens;
  std::vector<hop_timing> last_token;  // the last decode step, hop by hop
  std::vector<hop_timing> mean_token;  // averaged over the decode steps

  template <class Archive>
  void serialize(Archive& ar) {
    ar(prompt_tokens, generated_tokens, prompt_ms, generate_ms, stop_reason, tokens, last_token,
       mean_token);
  }
};

// client -> client_session: run hidden states through the whole route.
struct session_step {
  int64_t pos = 0;
  int64_t n = 0;
  std::vector<float> hidden;  // [n, dim] embeddings of the new tokens

  template <class Archive>
  void serialize(Archive& ar) {
    ar(pos, n, hidden);
  }
};

struct session_step_result {
  std::vector<float> hidden;       // [n, dim] outputs of the last block
  std::vector<hop_timing> timing;  // one per hop of the route

  template <class Archive>
  void serialize(Archive& ar) {
    ar(hidden, timing);
  }
};

}  // namespace corolla
