// `corolla bench kernels` and `corolla bench generate`: benchmarks that print one
// table each, every figure next to the limit this machine sets, measured in the same
// run (memory read bandwidth). Speed is reported here, never asserted in tests.
// Flags are parsed by apps/bench_command; each suite returns the process exit code.
#pragma once

#include <ostream>
#include <string>

namespace corolla {

struct kernel_bench_options {
  int iterations = 200;  // GEMV calls per shape (GEMM: a tenth)
};
int run_kernel_bench(const kernel_bench_options& options, std::ostream& out);

struct generate_bench_options {
  // Empty: demo/tinyllama-1.1b-q8_0.gguf, made by the model maker when absent.
  std::string model_path;
  int decode_tokens = 128;  // decode steps timed
};
int run_generate_bench(const generate_bench_options& options, std::ostream& out);

// Read-only memory bandwidth in GB/s with `threads` OpenMP threads: the best of a few
// passes summing a buffer of `bytes` (well past the L3).
double read_bandwidth_gbs(int threads, size_t bytes = size_t(1) << 30);

}  // namespace corolla
