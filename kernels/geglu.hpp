// geglu: out [n, hidden] = gelu(gate) * up, Gemma's MLP gate, from one fused gate/up
// projection gate_up [n, 2 * hidden] laid out as swiglu's.
//
// gelu is llama.cpp's CPU GELU, which both of Corolla's paths use so that the f32 path
// can be held to llama.cpp's logits: the tanh approximation
//   gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2)))
// looked up in a table of fp16 inputs and outputs, fp16(gelu(fp16(x))), for -10 < x < 10;
// 0 below and x above. (Exact tanh-GELU moves a 26-layer Gemma's logits by up to 5e-2.)
// The table is built once, on first use; any thread. Tokens in parallel when n > 1.
#pragma once

#include <cstdint>

namespace corolla {

float gelu(float x);

void geglu(float* out, const float* gate_up, int64_t n, int64_t hidden);

}  // namespace corolla
