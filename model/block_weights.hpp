// block_weights: one transformer block's weights, converted at load from whatever
// type the GGUF holds (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K) into int8 per output
// channel, or into f32 for the reference path.
//
// Projections that read the same input are fused into one matrix, so each step makes
// one matmul call (and oneDNN reads one weight stream) where llama.cpp makes two or three:
//   qkv     [dim + 2 kv_dim, dim]   rows: attn_q, then attn_k, then attn_v
//   wo      [dim, dim]              attn_output
//   gate_up [2 hidden, dim]         rows: ffn_gate, then ffn_up (swiglu's layout)
//   down    [dim, hidden]           ffn_down
// Norm weights stay f32. Immutable after load; shared by the threads that run it.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/rope.hpp"
#include "model/gguf_file.hpp"
#include "model/linear.hpp"
#include "model/llama_config.hpp"
#include "model/status.hpp"

namespace corolla {

struct block_weights {
  llama_config config;
  int64_t index = 0;  // block number in the model
  precision kind = precision::int8;
  std::vector<float> attn_norm;  // [dim]
  std::vector<float> ffn_norm;   // [dim]
  linear qkv, wo, gate_up, down;
  rope_table rope;  // the model's rotary frequencies, shared by all blocks

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

// Loads W [rows, cols] made of the given tensors' rows stacked in order, in form `kind`,
// then releases those tensors' mapped pages. Errors name the first tensor that is
// missing, misshapen or undecodable.
result<linear> load_stacked(const gguf_file& file, const std::vector<std::string>& names,
                            int64_t cols, precision kind);

}  // namespace corolla
