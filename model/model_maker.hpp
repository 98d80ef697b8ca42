// The model maker: writes a valid GGUF of any shape and family (shape.arch: llama,
// qwen2, qwen3, phi3, gemma2, gemma3) with seeded random weights, for demos, tests and
// benchmarks on machines that can not download one. Each block's tensors are those
// block_tensors(shape) lists, the table the loader checks a file against; the shape's
// family fields are set_family_defaults' plus what the caller changed (window, head dim).
//
// Weights are uniform with standard deviation 1/sqrt(row length) (norm weights
// 1 ± 0.1), drawn from a counter-based generator keyed by (seed, tensor name, index),
// so the same options always give the same bytes and any row can be made alone.
// The vocabulary is either copied (every tokenizer.* key of another GGUF) or
// synthetic SentencePiece-style: <unk>, <s>, </s>, the 256 byte tokens, printable
// ASCII and U+2581, then merges learned by BPE on a built-in English text, then
// seeded concatenations of existing tokens until the vocabulary is full.
// Tensors whose rows do not fit the type's blocks fall back, as llama.cpp's quantiser's
// do: to Q8_0 when rows are a multiple of 32 values, else to F32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/ggml_type.hpp"
#include "model/llama_config.hpp"
#include "model/status.hpp"

namespace corolla {

struct maker_options {
  llama_config shape;  // arch, n_blocks, dim, hidden_dim, heads, kv heads, vocab, context, ...
  ggml_type type = ggml_type::f32;  // of the 2-D weights: any type quantize_row writes
  // llama.cpp's _M mixes of a K type (Q4_K_M, Q5_K_M): Q6_K for output.weight, and for
  // attn_v and ffn_down in the blocks llama.cpp gives more bits (the first and last
  // eighth, and every third one between).
  bool medium_mix = false;
  uint64_t seed = 1;
  std::string vocab_from;  // a GGUF whose tokenizer to copy; empty for synthetic
  std::string name = "corolla-random";
};

// A weight type by name: "f32", "q8_0", "q4_0", "q4_k_m", ... (case-insensitive), as
// (type, medium_mix). Errors: invalid_argument listing the names.
result<std::pair<ggml_type, bool>> maker_type_from_name(const std::string& name);

// The shape of a named preset ("stories260k", "tinyllama-1.1b", "tiny").
// Errors: not_found listing the presets.
result<llama_config> maker_preset(const std::string& name);
std::vector<std::string> maker_preset_names();

// Writes preset `preset` as `type` with `seed` to `path`, creating its folder: the demo
// and benchmark models. Errors: those of maker_preset, make_model and the folder.
status make_preset_model(const std::string& preset, ggml_type type, uint64_t seed,
                         const std::string& path, bool medium_mix = false);

// Writes the model to `path`. Errors: invalid_argument for an impossible shape
// (naming the field), or a vocabulary too small for the synthetic alphabet;
// whatever opening --vocab-from gives; io_error from writing.
status make_model(const maker_options& options, const std::string& path);

// The synthetic vocabulary alone (tokens, scores, types), for tests.
struct synthetic_vocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
};
result<synthetic_vocabulary> make_synthetic_vocabulary(int64_t size, uint64_t seed);

}  // namespace corolla
