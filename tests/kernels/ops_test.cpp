// The fast element-wise kernels against their f32 reference twins (corolla::ref),
// seeded random inputs, odd sizes for the tails. Each tolerance says where it comes from.
#include <gtest/gtest.h>

#include <cstring>

#include <algorithm>
#include <array>

#include <cmath>

#include "kernels/attention.hpp"
#include "kernels/geglu.hpp"
#include "kernels/half.hpp"
#include "kernels/reference.hpp"
#include "kernels/rmsnorm.hpp"
#include "kernels/rope.hpp"
#include "kernels/softmax.hpp"
#include "kernels/swiglu.hpp"
#include "kernels/vec_math.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

class Ops : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = testing::test_seed();
    rng_.seed(seed_);
  }
  std::vector<float> random(size_t n, float lo = -2.0f, float hi = 2.0f) {
    return testing::uniform_floats(rng_, n, lo, hi);
  }
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

void expect_close(const std::vector<float>& fast, const std::vector<float>& ref, double rel,
                  double abs) {
  ASSERT_EQ(fast.size(), ref.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    ASSERT_NEAR(fast[i], ref[i], abs + rel * std::fabs(ref[i])) << "at " << i;
  }
}

TEST(VecMath, ExpApproxIsWithin3e7RelativeOverTheFloatRange) {
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 0.00137) {
    const float xf = float(x);
    const double exact = std::exp(double(xf));
    worst = std::max(worst, std::fabs(exp_approx(xf) - exact) / exact);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_GT(exp_approx(-1000.0f), 0.0f);  // clamped, never a denormal or NaN
  EXPECT_TRUE(std::isfinite(exp_approx(1000.0f)));
}

TEST_F(Ops, RmsnormMatchesReference) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (int64_t dim : {7, 64, 2048, 4099}) {
    const int64_t rows = 3;
    const auto x = random(rows * dim);
    const auto w = random(dim, 0.5f, 1.5f);
    std::vector<float> fast(x.size()), ref(x.size());
    rmsnorm(fast.data(), x.data(), w.data(), rows, dim, 1e-5f);
    ref::rmsnorm(ref.data(), x.data(), w.data(), rows, dim, 1e-5f);
    // f32 lane sums of dim positive terms vs a double sum: relative error of the mean
    // below (dim / 16 + 16) * 2^-24 ~ 2e-5 at dim 4099; the scale takes half of it.
    expect_close(fast, ref, 2e-5, 1e-7);
  }
}

TEST_F(Ops, SoftmaxMatchesReferenceAndSumsToOne) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (int64_t n : {1, 5, 33, 1000}) {
    auto fast = random(n, -20.0f, 20.0f);
    auto ref = fast;
    softmax(fast.data(), n);
    ref::softmax(ref.data(), n);
    // exp_approx is within 3e-7 relative; f32 sum of n terms adds n * 2^-24 at worst.
    expect_close(fast, ref, 3e-7 + n * 6e-8, 1e-12);
    double sum = 0;
    for (float p : fast) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

TEST_F(Ops, RopeMatchesReferenceAtFarPositions) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const int64_t n_heads = 5, head_dim = 12;
  for (bool neox : {false, true}) {
    for (int64_t rope_dim : {12, 8}) {
      for (int64_t pos0 : {0, 3, 4000}) {
        const int64_t n = 4;
        auto fast = random(n * n_heads * head_dim);
        auto ref = fast;
        rope(fast.data(), n, pos0, n_heads,
             make_rope_table(head_dim, rope_dim, 10000.0f, {}, neox));
        ref::rope(ref.data(), n, pos0, n_heads, head_dim, rope_dim, 10000.0f, nullptr, neox);
        // Both compute theta in double from the same pow; cos/sin then round to f32:
        // the outputs differ by f32 rounding of two products and a sum (~3 ulp).
        expect_close(fast, ref, 1e-6, 1e-6);
      }
    }
  }
}

TEST_F(Ops, RopeRotatesAdjacentPairsAndKeepsTheRest) {
  std::vector<float> x = {1, 0, 1, 0, 7, 9};  // one head, head_dim 6, rope_dim 4
  rope(x.data(), 1, /*pos0=*/1, /*n_heads=*/1, make_rope_table(6, 4, 10000.0f, {}, false));
  EXPECT_NEAR(x[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(1.0), 1e-6);
  EXPECT_NEAR(x[2], std::cos(0.01), 1e-6);  // theta = 1 * 10000^(-2/4)
  EXPECT_NEAR(x[3], std::sin(0.01), 1e-6);
  EXPECT_EQ(x[4], 7.0f);
  EXPECT_EQ(x[5], 9.0f);
}

TEST_F(Ops, NeoxRopePairsTheHalvesOfTheRotatedPart) {
  std::vector<float> x = {1, 1, 0, 0, 7, 9};  // pairs (0, 2) and (1, 3); 4 and 5 stay
  rope(x.data(), 1, /*pos0=*/1, /*n_heads=*/1, make_rope_table(6, 4, 10000.0f, {}, true));
  EXPECT_NEAR(x[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(x[2], std::sin(1.0), 1e-6);
  EXPECT_NEAR(x[1], std::cos(0.01), 1e-6);
  EXPECT_NEAR(x[3], std::sin(0.01), 1e-6);
  EXPECT_EQ(x[4], 7.0f);
  EXPECT_EQ(x[5], 9.0f);
}

TEST_F(Ops, AttentionMatchesReferenceWithGroupedHeads) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  struct config {
    int64_t n, pos0, n_heads, n_kv_heads, head_dim;
    float softcap = 0;
    int64_t window = 0;
  };
  attention_workspace ws;
  // Windows that start inside a tile, cover exactly one, or exceed the context; a
  // soft-cap small enough to bend the scores.
  for (const config& c : {config{1, 0, 4, 4, 8}, config{1, 37, 8, 2, 12}, config{6, 0, 8, 4, 8},
                          config{5, 11, 6, 3, 64}, config{1, 300, 32, 4, 64},
                          config{40, 3, 4, 2, 16, 0, 5}, config{1, 70, 4, 1, 8, 0, 16},
                          config{20, 50, 2, 1, 48, 1.5f, 16}, config{3, 4, 4, 2, 8, 0.5f, 1000}}) {
    const int64_t context = c.pos0 + c.n;
    const auto q = random(c.n * c.n_heads * c.head_dim);
    const auto k = random(context * c.n_kv_heads * c.head_dim);
    const auto v = random(context * c.n_kv_heads * c.head_dim);
    std::vector<float> fast(q.size()), ref(q.size());
    const attention_params p{c.n_heads,  c.n_kv_heads,
                             c.head_dim, 1.0f / std::sqrt(float(c.head_dim)),
                             c.softcap,  c.window};
    attention(fast.data(), q.data(), k.data(), v.data(), c.n, c.pos0, p, ws);
    ref::attention(ref.data(), q.data(), k.data(), v.data(), c.n, c.pos0, p);
    // Same dot products; the softmax weights differ by <= ~1e-6 relative (see the
    // softmax test) and the outputs are weighted means of values in [-2, 2].
    expect_close(fast, ref, 1e-5, 1e-5);
  }
}

// A stored cache is read back exactly: its attention is the f32 attention of the values
// its rows hold, bit for bit (head_dim 12 and 20 leave tails after 8 lanes; kv_dim 24
// and 40 end q8_0 rows in a partial block; head_dim 20 puts heads across block edges).
TEST_F(Ops, AttentionOverAStoredCacheIsTheF32AttentionOfItsValues) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  attention_workspace ws;
  for (const kv_type type : {kv_type::f16, kv_type::q8_0}) {
    for (const auto& [n, pos0, heads, kv_heads, head_dim] :
         {std::array<int64_t, 5>{1, 37, 8, 2, 12}, std::array<int64_t, 5>{6, 40, 4, 4, 64},
          std::array<int64_t, 5>{17, 3, 6, 2, 20}}) {
      SCOPED_TRACE(std::string(to_string(type)) + " head_dim " + std::to_string(head_dim));
      const int64_t context = pos0 + n, kv_dim = kv_heads * head_dim;
      const size_t row_bytes = kv_row_bytes(kv_dim, type);
      const auto q = random(n * heads * head_dim);
      auto k = random(context * kv_dim);
      auto v = random(context * kv_dim);
      std::vector<unsigned char> k_rows(size_t(context) * row_bytes), v_rows(k_rows.size());
      for (int64_t r = 0; r < context; ++r) {
        kv_encode_row(type, &k[size_t(r * kv_dim)], kv_dim, &k_rows[size_t(r) * row_bytes]);
        kv_encode_row(type, &v[size_t(r * kv_dim)], kv_dim, &v_rows[size_t(r) * row_bytes]);
        kv_decode_row(type, &k_rows[size_t(r) * row_bytes], kv_dim, 0, kv_dim,
                      &k[size_t(r * kv_dim)]);
        kv_decode_row(type, &v_rows[size_t(r) * row_bytes], kv_dim, 0, kv_dim,
                      &v[size_t(r * kv_dim)]);
      }
      const attention_params p{heads, kv_heads, head_dim, 1.0f / std::sqrt(float(head_dim)), 0, 0};
      std::vector<float> stored(q.size()), from32(q.size());
      attention(stored.data(), q.data(), kv_view{type, k_rows.data(), v_rows.data()}, n, pos0, p,
                ws);
      attention(from32.data(), q.data(), k.data(), v.data(), n, pos0, p, ws);
      ASSERT_EQ(std::memcmp(stored.data(), from32.data(), stored.size() * 4), 0);
    }
  }
}

// q8_0 rows are llama.cpp's blocks: d = f16(amax / 127), q = round(x / d), so every value
// comes back within half a step of its block's scale and the block's extreme exactly
// (up to d's f16 rounding); f16 rows round each value to nearest even.
TEST_F(Ops, StoredRowsRoundEachValueOnce) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const int64_t kv_dim = 72;  // two whole q8_0 blocks and a partial one
  const auto x = random(kv_dim);
  std::vector<unsigned char> row(kv_row_bytes(kv_dim, kv_type::q8_0));
  EXPECT_EQ(row.size() % 4, 0u);
  EXPECT_EQ(row.size(), 8u + 72u);  // three f16 scales padded to 8 bytes, then the values
  kv_encode_row(kv_type::q8_0, x.data(), kv_dim, row.data());
  std::vector<float> back(kv_dim);
  kv_decode_row(kv_type::q8_0, row.data(), kv_dim, 0, kv_dim, back.data());
  for (int64_t b = 0; b * 32 < kv_dim; ++b) {
    float amax = 0;
    for (int64_t i = b * 32; i < std::min<int64_t>(kv_dim, b * 32 + 32); ++i) {
      amax = std::max(amax, std::fabs(x[size_t(i)]));
    }
    const float d = f16_to_f32(f32_to_f16(amax / 127.0f));
    for (int64_t i = b * 32; i < std::min<int64_t>(kv_dim, b * 32 + 32); ++i) {
      const float q = std::round(x[size_t(i)] * (1.0f / (amax / 127.0f)));
      EXPECT_EQ(back[size_t(i)], d * q) << "value " << i;
    }
  }
  std::vector<float> part(5);
  kv_decode_row(kv_type::q8_0, row.data(), kv_dim, 30, 5, part.data());
  EXPECT_TRUE(std::equal(part.begin(), part.end(), back.begin() + 30));
  std::vector<unsigned char> half_row(kv_row_bytes(kv_dim, kv_type::f16));
  kv_encode_row(kv_type::f16, x.data(), kv_dim, half_row.data());
  kv_decode_row(kv_type::f16, half_row.data(), kv_dim, 0, kv_dim, back.data());
  for (int64_t i = 0; i < kv_dim; ++i)
    EXPECT_EQ(back[size_t(i)], f16_to_f32(f32_to_f16(x[size_t(i)])));
}

TEST_F(Ops, AttentionIsCausal) {
  // Changing the value at the last position must not change earlier tokens' outputs.
  const int64_t n = 4, heads = 2, head_dim = 4;
  const auto q = random(n * heads * head_dim);
  const auto k = random(n * heads * head_dim);
  auto v = random(n * heads * head_dim);
  attention_workspace ws;
  std::vector<float> before(q.size()), after(q.size());
  const attention_params p{heads, heads, head_dim, 0.5f};
  attention(before.data(), q.data(), k.data(), v.data(), n, 0, p, ws);
  for (int64_t d = 0; d < heads * head_dim; ++d) v[(n - 1) * heads * head_dim + d] += 5.0f;
  attention(after.data(), q.data(), k.data(), v.data(), n, 0, p, ws);
  for (int64_t i = 0; i < (n - 1) * heads * head_dim; ++i) EXPECT_EQ(before[i], after[i]);
  EXPECT_NE(before.back(), after.back());
}

TEST_F(Ops, SlidingWindowHidesKeysOlderThanTheWindow) {
  // With window 3, the token at position 9 sees positions 7, 8, 9: changing position 6
  // must not change its output, changing position 7 must.
  const int64_t n = 10, heads = 1, head_dim = 4;
  const auto q = random(n * heads * head_dim);
  const auto k = random(n * heads * head_dim);
  auto v = random(n * heads * head_dim);
  attention_workspace ws;
  const attention_params p{heads, heads, head_dim, 0.5f, 0.0f, 3};
  std::vector<float> before(q.size()), after(q.size());
  attention(before.data(), q.data(), k.data(), v.data(), n, 0, p, ws);
  for (int64_t d = 0; d < head_dim; ++d) v[6 * head_dim + d] += 5.0f;
  attention(after.data(), q.data(), k.data(), v.data(), n, 0, p, ws);
  for (int64_t d = 0; d < head_dim; ++d)
    EXPECT_EQ(before[9 * head_dim + d], after[9 * head_dim + d]);
  for (int64_t d = 0; d < head_dim; ++d) v[7 * head_dim + d] += 5.0f;
  attention(after.data(), q.data(), k.data(), v.data(), n, 0, p, ws);
  EXPECT_NE(before[9 * head_dim], after[9 * head_dim]);
}

TEST_F(Ops, GeluIsLlamaCppsFp16Table) {
  // Hand-worked: gelu(1) = 0.841192 in f32; the table rounds input and output to fp16
  // (0.8413 is fp16's nearest of 0.841192); beyond +-10 it is x or 0.
  EXPECT_EQ(gelu(1.0f), f16_to_f32(f32_to_f16(0.841192f)));
  EXPECT_EQ(gelu(12.5f), 12.5f);
  EXPECT_EQ(gelu(-10.0f), 0.0f);
  EXPECT_NEAR(gelu(-1.0f), -0.158808f, 2e-4);
  const std::vector<float> gate_up = {1.0f, -1.0f, 2.0f, 3.0f};  // hidden 2
  std::vector<float> out(2);
  geglu(out.data(), gate_up.data(), 1, 2);
  EXPECT_EQ(out[0], gelu(1.0f) * 2.0f);
  EXPECT_EQ(out[1], gelu(-1.0f) * 3.0f);
}

TEST_F(Ops, SwigluMatchesReference) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  for (int64_t hidden : {1, 17, 172, 5632}) {
    const int64_t n = 3;
    const auto gate_up = random(n * 2 * hidden, -10.0f, 10.0f);
    std::vector<float> fast(n * hidden), ref(n * hidden);
    swiglu(fast.data(), gate_up.data(), n, hidden);
    ref::swiglu(ref.data(), gate_up.data(), n, hidden);
    // exp_approx's 3e-7 relative error passes through 1 / (1 + e) and two products.
    expect_close(fast, ref, 1e-6, 1e-7);
  }
}

}  // namespace
}  // namespace corolla
