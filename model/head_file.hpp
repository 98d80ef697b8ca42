// head_file: what a client of a swarm needs of a model and nothing more — the token
// embedding, the final norm, the LM head, the tokenizer and chat template (all metadata)
// — as a GGUF of its own, carrying the whole model's fingerprint. A laptop driving a
// 70B swarm keeps ~1 GB instead of 40. Tensors are copied byte for byte, so a head file's
// logits are the whole file's.
//
// Invariants:
//  1. model_fingerprint() of a head file is the fingerprint of the model it was cut from
//     (key corolla.head_of), so the swarm takes its client as one of the model's.
//  2. A head file has no blocks: loading any block from it is refused, naming the file.
#pragma once

#include <string>

#include "model/gguf_file.hpp"
#include "model/status.hpp"

namespace corolla {

// The metadata key holding the source model's fingerprint.
inline constexpr const char* head_of_key = "corolla.head_of";

bool is_head_file(const gguf_file& file);

// Writes the head of the model at `model_path` to `out_path`. Errors: the model's (it
// must load as a Llama), io_error naming out_path, invalid_argument for a head file.
status write_head_file(const std::string& model_path, const std::string& out_path);

}  // namespace corolla
