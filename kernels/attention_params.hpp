// attention_params: what one layer's attention computes besides q, k and v: the head
// layout, the score scale, Gemma 2's soft-cap and a sliding window. Shared by the fast
// kernel (attention.hpp) and its reference twin (reference.hpp).
#pragma once

#include <cstdint>

namespace corolla {

struct attention_params {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // n_heads % n_kv_heads == 0
  int64_t head_dim = 0;
  float scale = 0;     // multiplies q . k; 1 / sqrt(head_dim) for most models
  float softcap = 0;   // > 0: a score s becomes softcap * tanh(s / softcap)
  int64_t window = 0;  // > 0: the query at position i sees keys j with i - j < window
};

}  // namespace corolla
