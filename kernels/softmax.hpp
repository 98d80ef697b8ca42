// softmax: x[0, n) <- exp(x - max) / sum(exp(x - max)), in place.
//
// The fast twin of ref::softmax: exp_approx (relative error < 3e-7) and f32 sums,
// so the loops vectorise. Single-threaded: callers parallelise over rows. Any thread.
#pragma once

#include <cstdint>

namespace corolla {

void softmax(float* x, int64_t n);

}  // namespace corolla
