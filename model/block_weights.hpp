// block_weights: one transformer block's weights, loaded from whatever type the GGUF
// holds (model/ggml_type.hpp's dequantisable types) in the form its precision asks:
// native keeps Q4_0 .. Q6_K matrices in their blocks and converts the rest to int8 per
// output channel, int8 converts all, f32 dequantises for the reference path.
//
// Projections that read the same input are fused into one matrix, so each step makes
// one matmul call (and oneDNN reads one weight stream) where llama.cpp makes two or three:
//   qkv     [q_dim + 2 kv_dim, dim]  rows: attn_q, then attn_k, then attn_v (phi3's
//                                    attn_qkv already is this)
//   wo      [dim, q_dim]             attn_output
//   gate_up [2 hidden, dim]          rows: ffn_gate, then ffn_up (phi3's fused ffn_up
//                                    already is this)
//   down    [dim, hidden]            ffn_down
// Norm weights and biases stay f32; the ones a family does not have are empty. The
// layer's own attention (window, soft-cap) and rotation (base, scaling) are resolved
// here from the config. Immutable after load; shared by the threads that run it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/attention_params.hpp"
#include "kernels/rope.hpp"
#include "model/gguf_file.hpp"
#include "model/kv_cache.hpp"
#include "model/linear.hpp"
#include "model/llama_config.hpp"
#include "model/status.hpp"

namespace corolla {

struct block_weights {
  llama_config config;
  int64_t index = 0;  // block number in the model
  precision kind = precision::native;
  kv_type cache_type = kv_type::f16;  // of the caches sessions of this block get
  std::vector<float> attn_norm;       // [dim]
  std::vector<float> ffn_norm;        // [dim]
  linear qkv, wo, gate_up, down;
  std::vector<float> qkv_bias;        // [q_dim + 2 kv_dim] (qwen2), or empty
  std::vector<float> wo_bias;         // [dim], or empty
  std::vector<float> q_norm, k_norm;  // [head_dim] each (qwen3, gemma3), or empty
  std::vector<float> post_attn_norm;  // [dim] (gemma), or empty
  std::vector<float> post_ffn_norm;   // [dim] (gemma), or empty
  attention_params attention;         // this layer's
  float rope_base = 0;                // this layer's frequency base ...
  std::vector<float> rope_factors;    // ... and scaling (ref::rope's factors), or empty
  rope_table rope;                    // the same, precomputed for the fast path

  size_t bytes() const;  // resident bytes of the converted weights
};

// Converts block `index` of `file`. REQUIRES: check_llama_tensors(file, config) passed.
// Errors: out_of_range for a bad index; corruption or not_supported naming the tensor
// when a row can not be dequantised.
result<block_weights> load_block_weights(const gguf_file& file, const llama_config& config,
                                         int64_t index, precision kind);

// Reads a 1-D f32-convertible tensor of `length` values (a norm weight).
result<std::vector<float>> load_vector(const gguf_file& file, const std::string& name,
                                       int64_t length);

// One of a block's four matrices (see the top of this file): its tensors' names, stacked
// in order, and its row length.
struct stacked_matrix {
  std::vector<std::string> names;
  int64_t cols = 0;
};
// qkv, wo, gate_up, down of block `index`.
std::array<stacked_matrix, 4> block_matrices(const llama_config& config, int64_t index);

// Bytes each block takes loaded in `kind` (block_weights::bytes() of the loaded block),
// computed from the file's tensor table alone; a block whose tensors are missing or
// misshapen counts its file bytes (loading it will fail and say why).
std::vector<int64_t> block_resident_bytes(const gguf_file& file, const llama_config& config,
                                          precision kind);

// The kernels' format for tensors of ggml type `type` on the native path, or nullopt
// when the type has none (it goes to int8).
std::optional<quant::format> native_format_of(uint32_t type);

// Bytes load_stacked will take for these tensors stacked, rows `cols` long, in `kind`.
size_t stacked_bytes(const std::vector<const gguf_tensor*>& tensors, int64_t cols, precision kind);

// Loads W [rows, cols] made of the given tensors' rows stacked in order, in form `kind`
// (native when every tensor has native kernels, else int8), then releases those
// tensors' mapped pages. Errors name the first tensor that is
// missing, misshapen or undecodable.
result<linear> load_stacked(const gguf_file& file, const std::vector<std::string>& names,
                            int64_t cols, precision kind);

}  // namespace corolla
