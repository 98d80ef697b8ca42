// `corolla bench kernels` and `corolla bench generate`: benchmarks that print one
// table each, every figure next to the limit this machine sets, measured in the same
// run (memory read bandwidth). Speed is reported here, never asserted in tests.
// Each returns the process exit code.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace corolla {

int run_kernel_bench(const std::vector<std::string>& args, std::ostream& out);
int run_generate_bench(const std::vector<std::string>& args, std::ostream& out);

// Read-only memory bandwidth in GB/s with `threads` OpenMP threads: the best of a few
// passes summing a buffer of `bytes` (well past the L3).
double read_bandwidth_gbs(int threads, size_t bytes = size_t(1) << 30);

}  // namespace corolla
