// swiglu: out [n, hidden] = silu(gate) * up, the Llama MLP's gate, from one fused
// gate/up projection gate_up [n, 2 * hidden] (per token: hidden gate values, then
// hidden up values). See ref::swiglu.
//
// The fast twin uses exp_approx so the loop vectorises; tokens in parallel when n > 1
// (one OpenMP loop). Any thread.
#pragma once

#include <cstdint>

namespace corolla {

void swiglu(float* out, const float* gate_up, int64_t n, int64_t hidden);

}  // namespace corolla
