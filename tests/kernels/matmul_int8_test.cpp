// matmul_int8 against exact integer arithmetic and against the f32 reference, and its
// paths against each other. The process path is the best the CPU and DNNL_MAX_CPU_ISA
// allow; ctest runs this suite again under each lower cap (tests/kernels/CMakeLists.txt).
#include "kernels/matmul_int8.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/reference.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

struct shape {
  int64_t m, rows, cols;
};

// Odd sizes exercise oneDNN's tails; 172 and 64 are stories260K's, 2560x2048 a fused QKV.
const shape kShapes[] = {{1, 64, 64}, {3, 172, 64}, {17, 67, 45}, {1, 2560, 2048}, {5, 96, 300}};

// The kernel's per-row quantisation, written out again (same operations, same rounding).
std::vector<float> quantized_row(const float* x, int64_t n, float* scale) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  *scale = amax / 127.0f;
  const float inverse = amax > 0 ? 1.0f / *scale : 0.0f;
  std::vector<float> q(n);
  for (int64_t i = 0; i < n; ++i) q[i] = std::nearbyint(x[i] * inverse);
  return q;
}

TEST(MatmulInt8, ComputesExactlyTheQuantizedProduct) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  matmul_workspace ws;
  for (const shape& s : kShapes) {
    SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.rows) + "x" + std::to_string(s.cols));
    const auto w = testing::uniform_floats(rng, s.rows * s.cols, -1.0f, 1.0f);
    const auto x = testing::uniform_floats(rng, s.m * s.cols, -3.0f, 3.0f);
    const auto matrix = int8_matrix::quantize(
        s.rows, s.cols, [&](int64_t r, float* out) { std::copy_n(&w[r * s.cols], s.cols, out); });
    std::vector<float> out(s.m * s.rows);
    matmul_int8(out.data(), x.data(), s.m, matrix, ws);
    // The integer dot product is exact; only the epilogue's two f32 multiplications
    // round, so the result matches to a few ulp (relative 1e-6).
    for (int64_t i = 0; i < s.m; ++i) {
      float sx;
      const auto qx = quantized_row(&x[i * s.cols], s.cols, &sx);
      for (int64_t r = 0; r < s.rows; ++r) {
        float sw;
        const auto qw = quantized_row(&w[r * s.cols], s.cols, &sw);
        ASSERT_FLOAT_EQ(sw, matrix.scales()[r]);
        double acc = 0;
        for (int64_t c = 0; c < s.cols; ++c) acc += double(qx[c]) * qw[c];
        const double expected = acc * sx * sw;
        ASSERT_NEAR(out[i * s.rows + r], expected, 1e-6 * std::fabs(expected) + 1e-30)
            << "row " << i << " channel " << r;
      }
    }
  }
}

TEST(MatmulInt8, StaysWithinTheQuantizationBoundOfTheReference) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed + 1);
  matmul_workspace ws;
  for (const shape& s : kShapes) {
    const auto w = testing::uniform_floats(rng, s.rows * s.cols, -1.0f, 1.0f);
    const auto x = testing::uniform_floats(rng, s.m * s.cols, -3.0f, 3.0f);
    const auto matrix = int8_matrix::quantize(
        s.rows, s.cols, [&](int64_t r, float* out) { std::copy_n(&w[r * s.cols], s.cols, out); });
    std::vector<float> fast(s.m * s.rows), ref(s.m * s.rows);
    matmul_int8(fast.data(), x.data(), s.m, matrix, ws);
    ref::matmul(ref.data(), x.data(), s.m, w.data(), s.rows, s.cols);
    // Rounding moves each weight by at most sw/2 and each activation by at most sx/2,
    // so |error| <= sw/2 sum|x| + sx/2 sum|w| + sx sw cols / 4 (plus f32 rounding).
    for (int64_t i = 0; i < s.m; ++i) {
      double sum_x = 0, amax_x = 0;
      for (int64_t c = 0; c < s.cols; ++c) {
        sum_x += std::fabs(x[i * s.cols + c]);
        amax_x = std::max<double>(amax_x, std::fabs(x[i * s.cols + c]));
      }
      const double sx = amax_x / 127;
      for (int64_t r = 0; r < s.rows; ++r) {
        double sum_w = 0;
        for (int64_t c = 0; c < s.cols; ++c) sum_w += std::fabs(w[r * s.cols + c]);
        const double sw = matrix.scales()[r];
        const double bound = sw / 2 * sum_x + sx / 2 * sum_w + sx * sw * s.cols / 4 + 1e-4;
        ASSERT_LE(std::fabs(fast[i * s.rows + r] - ref[i * s.rows + r]), bound);
      }
    }
  }
}

// Invariant 1 of cpu_isa.hpp: the paths differ in how they add, never in what they get.
TEST(MatmulInt8, EveryAvailablePathGivesTheSameBits) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed + 2);
  const auto paths = available_int8_paths();
  ASSERT_EQ(paths.front(), int8_path::portable);
  std::printf("int8 paths available here: ");
  for (int8_path p : paths) std::printf("%s ", to_string(p));
  std::printf("(%s)\n", int8_path_summary().c_str());
  const shape shapes[] = {{1, 64, 64}, {2, 172, 64},   {3, 67, 45},     {4, 96, 300},
                          {5, 9, 130}, {7, 256, 2048}, {1, 5632, 2048}, {64, 130, 260}};
  for (const shape& s : shapes) {
    SCOPED_TRACE(std::to_string(s.m) + "x" + std::to_string(s.rows) + "x" + std::to_string(s.cols));
    const auto w = testing::uniform_floats(rng, s.rows * s.cols, -1.0f, 1.0f);
    auto x = testing::uniform_floats(rng, s.m * s.cols, -3.0f, 3.0f);
    // Extremes: a row of zeros and a row whose maximum sits at both signs.
    if (s.m > 1) std::fill_n(&x[s.cols], s.cols, 0.0f);
    x[0] = -3.0f;
    x[s.cols - 1] = 3.0f;
    std::vector<float> expected;
    for (int8_path p : paths) {
      SCOPED_TRACE(to_string(p));
      matmul_workspace ws;
      const auto matrix = int8_matrix::quantize(
          s.rows, s.cols, [&](int64_t r, float* out) { std::copy_n(&w[r * s.cols], s.cols, out); },
          p);
      if (p != int8_path::onednn_vnni) {
        ASSERT_EQ(matrix.path(), p);
      }
      std::vector<float> out(s.m * s.rows, -1.0f);
      matmul_int8(out.data(), x.data(), s.m, matrix, ws);
      if (expected.empty()) {
        expected = out;
        continue;
      }
      ASSERT_EQ(std::memcmp(out.data(), expected.data(), out.size() * sizeof(float)), 0);
    }
  }
}

// Symmetric weights of the largest magnitude against activations of the largest
// magnitude and either sign: every int16 pair the avx2 and avx512bw kernels form is at
// its extreme (2 * 127 * 127), where an unsigned activation would have saturated.
TEST(MatmulInt8, ExtremeProductsDoNotSaturate) {
  const int64_t cols = 256;
  std::vector<float> x(cols);
  for (int64_t c = 0; c < cols; ++c) x[c] = (c / 2) % 2 ? -1.0f : 1.0f;
  for (int8_path p : available_int8_paths()) {
    SCOPED_TRACE(to_string(p));
    const auto matrix = int8_matrix::quantize(
        2, cols,
        [&](int64_t r, float* out) {
          for (int64_t c = 0; c < cols; ++c) out[c] = r == 0 ? x[c] : -x[c];
        },
        p);
    matmul_workspace ws;
    std::vector<float> out(2);
    matmul_int8(out.data(), x.data(), 1, matrix, ws);
    const float s = 1.0f / 127.0f;
    EXPECT_EQ(out[0], float(127 * 127 * cols) * s * s);
    EXPECT_EQ(out[1], float(-127 * 127 * cols) * s * s);
  }
}

TEST(MatmulInt8, TheProcessRunsTheBestAvailablePath) {
  const auto paths = available_int8_paths();
  EXPECT_EQ(process_int8_path(), paths.back());
  const auto large = int8_matrix::quantize(1024, 1024, [](int64_t, float* out) {
    for (int c = 0; c < 1024; ++c) out[c] = 1.0f;
  });
  EXPECT_EQ(large.path(), process_int8_path());
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    EXPECT_EQ(process_int8_path(), int8_path::portable);
  }
  const std::string cap = cpu_isa_cap();
  if (cap == "SSE41") {
    EXPECT_EQ(process_int8_path(), int8_path::portable);
  }
  if (cap == "AVX2") {
    EXPECT_LE(process_int8_path(), int8_path::avx2);
  }
  if (cap == "AVX512_CORE") {
    EXPECT_LE(process_int8_path(), int8_path::avx512bw);
  }
}

TEST(MatmulInt8, ZeroRowsGiveZeros) {
  matmul_workspace ws;
  const auto matrix = int8_matrix::quantize(4, 8, [](int64_t r, float* out) {
    for (int c = 0; c < 8; ++c) out[c] = r == 2 ? 0.0f : float(c - r);
  });
  const std::vector<float> x(8, 0.0f);
  std::vector<float> out(4, 1.0f);
  matmul_int8(out.data(), x.data(), 1, matrix, ws);
  for (float v : out) EXPECT_EQ(v, 0.0f);
}

TEST(MatmulInt8, RunsOnTheVnniBrgemmPath) {
  if (!__builtin_cpu_supports("avx512vnni")) GTEST_SKIP() << "CPU has no AVX-512 VNNI";
  if (std::getenv("DNNL_MAX_CPU_ISA") != nullptr) GTEST_SKIP() << "DNNL_MAX_CPU_ISA is set";
  for (int64_t m : {1, 4, 64, 512}) {
    EXPECT_EQ(matmul_int8_implementation(m, 2048, 5632), "brg:avx512_core_vnni") << "m=" << m;
  }
}

TEST(MatmulInt8, CreatesOnePrimitivePerShapeOnly) {
  matmul_workspace ws;
  const auto matrix = int8_matrix::quantize(512, 512, [](int64_t r, float* out) {
    for (int c = 0; c < 512; ++c) out[c] = float((r * 7 + c) % 11) - 5.0f;
  });
  const std::vector<float> x(3 * 512, 0.5f);
  std::vector<float> out(3 * 512);
  matmul_int8(out.data(), x.data(), 3, matrix, ws);
  const int64_t created = matmul_int8_primitives_created();
  for (int i = 0; i < 10; ++i) matmul_int8(out.data(), x.data(), 3, matrix, ws);
  EXPECT_EQ(matmul_int8_primitives_created(), created);
}

}  // namespace
}  // namespace corolla
