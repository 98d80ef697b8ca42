// matmul_quant: its layout against ggml's dequantisation, its products against exact
// arithmetic on the quantised activations and on hand-worked blocks, and its paths
// against each other bit for bit. ctest runs this suite again under each lower
// DNNL_MAX_CPU_ISA cap (tests/kernels/CMakeLists.txt), so each path is also the
// process's.
#include "kernels/matmul_quant.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/half.hpp"
#include "model/dequantize.hpp"
#include "model/ggml_type.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using quant::format;

const format kFormats[] = {format::q4_0, format::q4_1, format::q5_0, format::q5_1,
                           format::q4_k, format::q5_k, format::q6_k};

ggml_type ggml_of(format f) {
  switch (f) {
    case format::q4_0:
      return ggml_type::q4_0;
    case format::q4_1:
      return ggml_type::q4_1;
    case format::q5_0:
      return ggml_type::q5_0;
    case format::q5_1:
      return ggml_type::q5_1;
    case format::q4_k:
      return ggml_type::q4_k;
    case format::q5_k:
      return ggml_type::q5_k;
    case format::q6_k:
      return ggml_type::q6_k;
  }
  return ggml_type::f32;
}

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  p[0] = uint8_t(h & 0xff);
  p[1] = uint8_t(h >> 8);
}

// Rows of random ggml blocks: random bits everywhere, then finite, moderate f16 factors.
std::vector<uint8_t> random_rows(format f, int64_t rows, int64_t cols, std::mt19937_64& rng) {
  const int64_t row_bytes = quant::ggml_row_bytes(f, cols);
  std::vector<uint8_t> bytes(size_t(rows * row_bytes));
  for (auto& b : bytes) b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(0.002f, 0.05f), offset(-0.1f, 0.1f);
  const int64_t block = quant::is_k(f) ? quant::kSuper : quant::kGroup;
  const int64_t block_bytes = row_bytes / (cols / block);
  for (int64_t b = 0; b < rows * cols / block; ++b) {
    uint8_t* p = &bytes[size_t(b * block_bytes)];
    if (f == format::q6_k) {
      put_f16(p + 208, scale(rng) / 16);
    } else if (quant::is_k(f)) {
      put_f16(p, scale(rng) / 16);
      put_f16(p + 2, scale(rng) / 16);
    } else {
      put_f16(p, scale(rng));
      if (quant::has_min(f)) put_f16(p + 2, offset(rng));
    }
  }
  return bytes;
}

quant_matrix pack(format f, const std::vector<uint8_t>& bytes, int64_t rows, int64_t cols,
                  int8_path path = process_int8_path()) {
  const int64_t row_bytes = quant::ggml_row_bytes(f, cols);
  return quant_matrix::pack(
      cols, {{f, rows, [&bytes, row_bytes](int64_t r) { return &bytes[size_t(r * row_bytes)]; }}},
      path);
}

// The kernel's per-group activation quantisation, written out again.
std::vector<double> quantized_activations(const std::vector<float>& x) {
  std::vector<double> q(x.size());
  for (size_t g = 0; g < x.size(); g += 32) {
    float amax = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[g + j]));
    const float scale = amax / 127.0f;
    const float inverse = amax > 0 ? 1.0f / scale : 0.0f;
    for (size_t j = 0; j < 32; ++j) q[g + j] = double(scale) * std::nearbyint(x[g + j] * inverse);
  }
  return q;
}

TEST(MatmulQuant, LayoutHoldsExactlyGgmlsValues) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (format f : kFormats) {
    SCOPED_TRACE(to_string(f));
    const int64_t rows = 13, cols = 512;
    const auto bytes = random_rows(f, rows, cols, rng);
    const quant_matrix w = pack(f, bytes, rows, cols);
    std::vector<float> ours(cols), ggml(cols);
    const int64_t row_bytes = quant::ggml_row_bytes(f, cols);
    for (int64_t r = 0; r < rows; ++r) {
      w.dequantize_row(r, ours.data());
      ASSERT_TRUE(
          dequantize_row(uint32_t(ggml_of(f)), &bytes[size_t(r * row_bytes)], ggml.data(), cols)
              .ok());
      ASSERT_EQ(std::memcmp(ours.data(), ggml.data(), ours.size() * 4), 0) << "row " << r;
    }
    EXPECT_EQ(w.bytes(), quant_matrix_bytes(f, rows, cols));
  }
}

TEST(MatmulQuant, KeepsAboutTheFilesBytes) {
  // Bytes per 256 values in the layout against ggml's: the same, but for the K types'
  // 6-bit scales kept as bytes (Q4_K 148 vs 144, Q5_K 180 vs 176).
  for (format f : kFormats) {
    const double ours = double(quant_matrix_bytes(f, 8, 4096)) / 8 / 16;
    const double file = double(quant::ggml_row_bytes(f, 4096)) / 16;
    EXPECT_LE(ours, file * 1.03) << to_string(f);
    EXPECT_GE(ours, file) << to_string(f);
  }
}

TEST(MatmulQuant, ComputesTheProductOfTheQuantisedActivations) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  matmul_workspace ws;
  struct shape {
    int64_t m, rows, cols;
  };
  for (format f : kFormats) {
    for (const shape s : {shape{1, 21, 256}, shape{3, 64, 512}, shape{40, 9, 768}}) {
      SCOPED_TRACE(std::string(to_string(f)) + " " + std::to_string(s.m) + "x" +
                   std::to_string(s.rows) + "x" + std::to_string(s.cols));
      const auto bytes = random_rows(f, s.rows, s.cols, rng);
      const quant_matrix w = pack(f, bytes, s.rows, s.cols);
      const auto x = testing::uniform_floats(rng, s.m * s.cols, -2.0f, 2.0f);
      std::vector<float> out(size_t(s.m * s.rows));
      matmul_quant(out.data(), x.data(), s.m, w, ws);
      const auto xq = quantized_activations(x);
      std::vector<float> row(size_t(s.cols));
      for (int64_t r = 0; r < s.rows; ++r) {
        w.dequantize_row(r, row.data());
        for (int64_t i = 0; i < s.m; ++i) {
          double exact = 0, magnitude = 0;
          for (int64_t c = 0; c < s.cols; ++c) {
            exact += double(row[size_t(c)]) * xq[size_t(i * s.cols + c)];
            magnitude += std::fabs(double(row[size_t(c)]) * xq[size_t(i * s.cols + c)]);
          }
          // Integer sums are exact; the f32 combination rounds once or twice per group.
          ASSERT_NEAR(out[size_t(i * s.rows + r)], exact, 1e-5 * magnitude + 1e-6)
              << "row " << r << " token " << i;
        }
      }
    }
  }
}

TEST(MatmulQuant, HandWorkedBlocks) {
  // Activations 0, 1, ..., 31 twice, scaled so that max |x| = 127: quantised exactly.
  std::vector<float> x(64);
  for (int j = 0; j < 64; ++j) x[size_t(j)] = float((j % 32) * 127 / 31);
  matmul_workspace ws;
  float out = 0;
  {
    // Q4_0, d = 0.5: values q = j % 16 -> w = 0.5 (q - 8).
    std::vector<uint8_t> blocks(36);
    for (int b = 0; b < 2; ++b) {
      put_f16(&blocks[size_t(18 * b)], 0.5f);
      for (int j = 0; j < 16; ++j) blocks[size_t(18 * b + 2 + j)] = uint8_t(j | (j << 4));
    }
    const quant_matrix w = pack(format::q4_0, blocks, 1, 64);
    matmul_quant(&out, x.data(), 1, w, ws);
    double expected = 0;
    for (int j = 0; j < 64; ++j) expected += 0.5 * ((j % 16) - 8) * double(x[size_t(j)]);
    EXPECT_EQ(out, float(expected));
  }
  {
    // Q4_K: one super-block per row would need 256 values; d = 1, dmin = 0.25, every
    // sub-block's scale 2 and min 4, values q = 3: w = 1 * 2 * 3 - 0.25 * 4 = 5.
    std::vector<uint8_t> block(144, 0);
    put_f16(&block[0], 1.0f);
    put_f16(&block[2], 0.25f);
    for (int j = 0; j < 4; ++j) {
      block[size_t(4 + j)] = 2;              // scales 0-3
      block[size_t(8 + j)] = 4;              // mins 0-3
      block[size_t(12 + j)] = 2 | (4 << 4);  // scales and mins 4-7 (low 4 bits)
    }
    for (int j = 0; j < 128; ++j) block[size_t(16 + j)] = 3 | (3 << 4);
    const quant_matrix w = pack(format::q4_k, block, 1, 256);
    std::vector<float> row(256);
    w.dequantize_row(0, row.data());
    for (float v : row) ASSERT_EQ(v, 5.0f);
    std::vector<float> ones(256, 1.0f);
    matmul_quant(&out, ones.data(), 1, w, ws);
    EXPECT_EQ(out, 5.0f * 256);
  }
}

TEST(MatmulQuant, EveryPathGivesTheSameBits) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const auto paths = available_int8_paths();
  for (format f : kFormats) {
    for (const int64_t m : {1, 5, 37}) {
      const int64_t rows = 27, cols = 1024;
      const auto bytes = random_rows(f, rows, cols, rng);
      const auto x = testing::uniform_floats(rng, m * cols, -4.0f, 4.0f);
      std::vector<float> first;
      for (int8_path p : paths) {
        SCOPED_TRACE(std::string(to_string(f)) + " on " + to_string(p) + ", m " +
                     std::to_string(m));
        const quant_matrix w = pack(f, bytes, rows, cols, p);
        ASSERT_EQ(w.path(), p);
        matmul_workspace ws;
        std::vector<float> out(size_t(m * rows));
        matmul_quant(out.data(), x.data(), m, w, ws);
        if (first.empty()) {
          first = out;
        } else {
          ASSERT_EQ(std::memcmp(out.data(), first.data(), out.size() * 4), 0);
        }
      }
    }
  }
  std::cout << "paths compared:";
  for (int8_path p : paths) std::cout << ' ' << to_string(p);
  std::cout << '\n';
}

TEST(MatmulQuant, PartsOfDifferentFormatsStack) {
  // A Q4_K_M attention: q and k in Q4_K, v in Q6_K, as one fused matrix.
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int64_t cols = 512;
  const auto a = random_rows(format::q4_k, 20, cols, rng);
  const auto b = random_rows(format::q6_k, 12, cols, rng);
  const int64_t ra = quant::ggml_row_bytes(format::q4_k, cols);
  const int64_t rb = quant::ggml_row_bytes(format::q6_k, cols);
  const quant_matrix fused =
      quant_matrix::pack(cols, {{format::q4_k, 20, [&](int64_t r) { return &a[size_t(r * ra)]; }},
                                {format::q6_k, 12, [&](int64_t r) { return &b[size_t(r * rb)]; }}});
  const quant_matrix qa = pack(format::q4_k, a, 20, cols), qb = pack(format::q6_k, b, 12, cols);
  ASSERT_EQ(fused.rows(), 32);
  const int64_t m = 3;
  const auto x = testing::uniform_floats(rng, m * cols, -1.0f, 1.0f);
  matmul_workspace ws;
  std::vector<float> out(size_t(m * 32)), oa(size_t(m * 20)), ob(size_t(m * 12));
  matmul_quant(out.data(), x.data(), m, fused, ws);
  matmul_quant(oa.data(), x.data(), m, qa, ws);
  matmul_quant(ob.data(), x.data(), m, qb, ws);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t r = 0; r < 20; ++r) ASSERT_EQ(out[size_t(i * 32 + r)], oa[size_t(i * 20 + r)]);
    for (int64_t r = 0; r < 12; ++r)
      ASSERT_EQ(out[size_t(i * 32 + 20 + r)], ob[size_t(i * 12 + r)]);
  }
}

}  // namespace
}  // namespace corolla
