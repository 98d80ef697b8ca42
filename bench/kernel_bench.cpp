#include <omp.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <vector>

#include "bench/bench_commands.hpp"
#include "kernels/matmul_int8.hpp"
#include "kernels/matmul_quant.hpp"
#include "model/block_weights.hpp"
#include "model/quantize.hpp"

namespace corolla {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct gemv_result {
  double ms;
  double weight_gbs;
  double gops;
};

// out = x W^T for W [rows, cols], rotating through enough copies of W that each call
// reads its weights from memory, not from the 32 MiB L3 (a warm GEMV looks 4-5x faster).
gemv_result time_matmul(int64_t m, int64_t rows, int64_t cols, int iterations) {
  const size_t bytes = size_t(rows) * size_t(cols);
  const int copies = int((size_t(256) << 20) / bytes) + 2;
  std::vector<int8_matrix> weights;
  for (int c = 0; c < copies; ++c) {
    weights.push_back(int8_matrix::quantize(rows, cols, [&](int64_t r, float* row) {
      for (int64_t i = 0; i < cols; ++i) row[i] = float((r * 31 + i * 7 + c) % 255) - 127.0f;
    }));
  }
  std::vector<float> x(size_t(m * cols), 0.25f), out(size_t(m * rows));
  matmul_workspace ws;
  // The kernels on the whole team: an epoch that never ends never tries one thread.
  ws.decode_team = ws.batch_team = team_policy(std::numeric_limits<int>::max());
  for (int i = 0; i < copies; ++i) matmul_int8(out.data(), x.data(), m, weights[i], ws);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    matmul_int8(out.data(), x.data(), m, weights[i % copies], ws);
  }
  const double s = seconds_since(start) / iterations;
  return {s * 1e3, double(bytes) / s / 1e9, 2.0 * double(m) * double(bytes) / s / 1e9};
}

// The same for a native quantised matrix of ggml type `type` (random weights quantised
// by the model maker's quantiser); the GB/s are of the layout's bytes.
gemv_result time_native(ggml_type type, int64_t m, int64_t rows, int64_t cols, int iterations) {
  const quant::format format = *native_format_of(uint32_t(type));
  const int64_t row_bytes = quant::ggml_row_bytes(format, cols);
  std::vector<uint8_t> blocks(size_t(rows * row_bytes));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < cols; ++i) row[size_t(i)] = float((r * 31 + i * 7) % 255) / 127.0f - 1;
    if (!quantize_row(type, row.data(), cols, &blocks[size_t(r * row_bytes)]).ok()) return {};
  }
  const size_t bytes = quant_matrix_bytes(format, rows, cols);
  const int copies = int((size_t(256) << 20) / bytes) + 2;
  std::vector<quant_matrix> weights;
  for (int c = 0; c < copies; ++c) {
    weights.push_back(quant_matrix::pack(
        cols, {{format, rows, [&](int64_t r) { return &blocks[size_t(r * row_bytes)]; }}}));
  }
  std::vector<float> x(size_t(m * cols), 0.25f), out(size_t(m * rows));
  matmul_workspace ws;
  ws.decode_team = ws.batch_team = team_policy(std::numeric_limits<int>::max());
  for (int i = 0; i < copies; ++i) matmul_quant(out.data(), x.data(), m, weights[size_t(i)], ws);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    matmul_quant(out.data(), x.data(), m, weights[size_t(i % copies)], ws);
  }
  const double s = seconds_since(start) / iterations;
  return {s * 1e3, double(bytes) / s / 1e9, 2.0 * double(m * rows * cols) / s / 1e9};
}

}  // namespace

double read_bandwidth_gbs(int threads, size_t bytes) {
  std::vector<uint64_t> buffer(bytes / sizeof(uint64_t), 1);
  const int64_t n = int64_t(buffer.size());
  double best = 0;
  uint64_t checksum = 0;
  for (int pass = 0; pass < 4; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    uint64_t total = 0;
    // 8 independent sums per thread so the loop vectorises and is load-bound.
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      uint64_t lanes[8] = {};
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; i += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] += buffer[i + l];
      }
      for (uint64_t v : lanes) total += v;
    }
    checksum += total;
    best = std::max(best, double(bytes) / seconds_since(start) / 1e9);
  }
  if (checksum == 0) std::fprintf(stderr, "bandwidth: empty buffer\n");
  return best;
}

int run_kernel_bench(const kernel_bench_options& options, std::ostream& out) {
  const int iterations = options.iterations;
  const int threads = omp_get_max_threads();
  const double bw1 = read_bandwidth_gbs(1);
  const double bw_all = read_bandwidth_gbs(threads);
  char line[256];
  out << "int8 matmul: " << int8_path_summary() << ", kernels "
      << matmul_int8_kernel_name(1, 2048, 2048) << "; weights cold (rotated past L3), " << threads
      << " threads\n";
  std::snprintf(line, sizeof line, "memory read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (%d)\n",
                bw1, bw_all, threads);
  out << line;
  out << "| op | m | shape [rows, cols] | ms | weight GB/s | % of read bandwidth | GOPS |\n"
      << "| --- | --- | --- | --- | --- | --- | --- |\n";
  struct shape {
    const char* name;
    int64_t rows, cols;
  };
  // TinyLlama-1.1B's matrices in [out, in] form: wq/wo, wk/wv, ffn gate/up, ffn down.
  const shape shapes[] = {{"wq, wo", 2048, 2048},
                          {"wk, wv", 256, 2048},
                          {"gate, up", 5632, 2048},
                          {"down", 2048, 5632}};
  auto row = [&](const std::string& name, int64_t m, const shape& s, const gemv_result& r) {
    std::snprintf(line, sizeof line, "| %s | %lld | [%lld, %lld] | %.3f | %.1f | %.0f%% | %.0f |\n",
                  name.c_str(), (long long)m, (long long)s.rows, (long long)s.cols, r.ms,
                  r.weight_gbs, 100.0 * r.weight_gbs / bw_all, r.gops);
    out << line;
  };
  for (int64_t m : {1, 64}) {
    for (const shape& s : shapes) {
      row(std::string("int8 ") + s.name, m, s,
          time_matmul(m, s.rows, s.cols, m == 1 ? iterations : iterations / 10 + 1));
    }
  }
  // The native path (kernels/matmul_quant.hpp) on the types of Q4_0 and Q4_K_M files.
  for (const ggml_type type : {ggml_type::q4_0, ggml_type::q4_k, ggml_type::q6_k}) {
    for (int64_t m : {1, 64}) {
      for (const shape& s : shapes) {
        row(ggml_type_name(uint32_t(type)) + " " + s.name, m, s,
            time_native(type, m, s.rows, s.cols, m == 1 ? iterations : iterations / 10 + 1));
      }
    }
  }
  return 0;
}

}  // namespace corolla
