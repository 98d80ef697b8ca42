// Row dequantisation on blocks whose values are worked out by hand from ggml's
// block layouts (see model/dequantize.hpp). Scales are chosen as exact f16
// values so every expected float is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/half.hpp"
#include "model/dequantize.hpp"
#include "model/quantize.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

void put_f16(std::vector<uint8_t>& b, size_t at, float v) {
  const uint16_t h = f32_to_f16(v);
  b[at] = uint8_t(h & 0xff);
  b[at + 1] = uint8_t(h >> 8);
}

std::vector<float> dequant(ggml_type t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  const status st = dequantize_row(uint32_t(t), bytes.data(), out.data(), n);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return out;
}

TEST(Dequantize, F32IsCopied) {
  const float v[3] = {1.5f, -2.25f, 0.0f};
  std::vector<uint8_t> b(sizeof v);
  std::memcpy(b.data(), v, sizeof v);
  EXPECT_EQ(dequant(ggml_type::f32, b, 3), (std::vector<float>{1.5f, -2.25f, 0.0f}));
}

TEST(Dequantize, F16AndBf16BitPatterns) {
  // f16 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24 (smallest subnormal), 0x7BFF = 65504.
  const std::vector<uint8_t> f16 = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0xFF, 0x7B};
  EXPECT_EQ(dequant(ggml_type::f16, f16, 4),
            (std::vector<float>{1.0f, -2.0f, 0x1.0p-24f, 65504.0f}));
  // bf16 0x3F80 = 1, 0xC040 = -3, 0x4049 = 3.140625.
  const std::vector<uint8_t> bf16 = {0x80, 0x3F, 0x40, 0xC0, 0x49, 0x40};
  EXPECT_EQ(dequant(ggml_type::bf16, bf16, 3), (std::vector<float>{1.0f, -3.0f, 3.140625f}));
}

TEST(Dequantize, Q8_0IsScaleTimesInt8) {
  std::vector<uint8_t> b(34);
  put_f16(b, 0, 0.5f);
  for (int i = 0; i < 32; ++i) b[2 + size_t(i)] = uint8_t(int8_t(i - 16));
  const auto out = dequant(ggml_type::q8_0, b, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(out[size_t(i)], 0.5f * float(i - 16)) << i;
}

TEST(Dequantize, Q4_0LowNibblesFirstThenHigh) {
  std::vector<uint8_t> b(18);
  put_f16(b, 0, 2.0f);
  // byte j: low nibble j (value j - 8 at position j), high nibble 15 - j (at j + 16).
  for (int j = 0; j < 16; ++j) b[2 + size_t(j)] = uint8_t(j | ((15 - j) << 4));
  const auto out = dequant(ggml_type::q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[size_t(j)], 2.0f * float(j - 8)) << j;
    EXPECT_EQ(out[size_t(j) + 16], 2.0f * float(15 - j - 8)) << j;
  }
}

TEST(Dequantize, Q4_KUnpacksSixBitScalesAndMins) {
  std::vector<uint8_t> b(144, 0);
  put_f16(b, 0, 0.25f);  // d
  put_f16(b, 2, 0.5f);   // dmin
  uint8_t* s = b.data() + 4;
  // Sub-blocks 0-3: scale = s[j] & 63, min = s[j+4] & 63.
  // Sub-block 0: scale 1, min 2. Sub-block 1: scale 3, min 0.
  s[0] = 1, s[4] = 2, s[1] = 3, s[5] = 0;
  // Sub-block 4: scale = (s[8] & 15) | (s[0] >> 6) << 4, min = (s[8] >> 4) | (s[4] >> 6) << 4.
  // Want scale 21 = 0b01'0101 and min 34 = 0b10'0010: s[8] = 0x25, s[0] |= 1 << 6, s[4] |= 2 << 6.
  s[8] = 0x25;
  s[0] |= 1 << 6;
  s[4] |= 2 << 6;
  uint8_t* q = b.data() + 16;
  // First 32 bytes: low nibbles -> values 0-31 (sub-block 0), high -> 32-63 (sub-block 1).
  for (int l = 0; l < 32; ++l) q[l] = uint8_t((l % 16) | (((l + 1) % 16) << 4));
  // Bytes 64-95: low nibbles -> values 128-159 (sub-block 4).
  for (int l = 0; l < 32; ++l) q[64 + l] = uint8_t(l % 16);
  const auto out = dequant(ggml_type::q4_k, b, 256);
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(out[size_t(l)], 0.25f * 1 * float(l % 16) - 0.5f * 2) << l;
    EXPECT_EQ(out[32 + size_t(l)], 0.25f * 3 * float((l + 1) % 16) - 0.0f) << l;
    EXPECT_EQ(out[128 + size_t(l)], 0.25f * 21 * float(l % 16) - 0.5f * 34) << l;
  }
  // Sub-block 2 has scale 0 and min 0 here: all zeros.
  for (int l = 64; l < 96; ++l) EXPECT_EQ(out[size_t(l)], 0.0f) << l;
}

TEST(Dequantize, Q6_KCombinesLowAndHighBits) {
  std::vector<uint8_t> b(210, 0);
  uint8_t* ql = b.data();
  uint8_t* qh = b.data() + 128;
  auto* sc = reinterpret_cast<int8_t*>(b.data() + 192);
  put_f16(b, 208, 0.5f);
  for (int i = 0; i < 16; ++i) sc[i] = int8_t(i - 4);
  // Value 0: low 4 bits ql[0] & 15 = 5, high 2 bits qh[0] & 3 = 2 -> q = 5 | 32 = 37, minus 32 = 5.
  // Value 32: ql[32] & 15 = 15, (qh[0] >> 2) & 3 = 3 -> 63 - 32 = 31.
  // Value 64: ql[0] >> 4 = 0, (qh[0] >> 4) & 3 = 0 -> -32.
  // Value 96: ql[32] >> 4 = 1, (qh[0] >> 6) & 3 = 1 -> 17 - 32 = -15.
  ql[0] = 0x05, ql[32] = 0x1F, qh[0] = uint8_t(2 | (3 << 2) | (0 << 4) | (1 << 6));
  // Value 128 (second half): ql[64] & 15 = 7, qh[32] & 3 = 1 -> 23 - 32 = -9, scale sc[8].
  ql[64] = 0x07, qh[32] = 0x01;
  const auto out = dequant(ggml_type::q6_k, b, 256);
  EXPECT_EQ(out[0], 0.5f * float(sc[0]) * 5);
  EXPECT_EQ(out[32], 0.5f * float(sc[2]) * 31);
  EXPECT_EQ(out[64], 0.5f * float(sc[4]) * -32);
  EXPECT_EQ(out[96], 0.5f * float(sc[6]) * -15);
  EXPECT_EQ(out[128], 0.5f * float(sc[8]) * -9);
  // Value 16 uses the next scale (16 values per scale): ql = 0, qh = 0 -> -32 * sc[1].
  EXPECT_EQ(out[16], 0.5f * float(sc[1]) * -32);
}

TEST(Dequantize, RefusesUnsupportedTypesAndPartialBlocks) {
  std::vector<float> out(256);
  const uint8_t zeros[512] = {};
  // The 1-3 bit IQ codebooks are known by name and refused; an unknown id too.
  const status iq2 = dequantize_row(uint32_t(ggml_type::iq2_xxs), zeros, out.data(), 256);
  EXPECT_EQ(iq2.code(), status_code::not_supported);
  EXPECT_NE(iq2.message().find("IQ2_XXS"), std::string::npos) << iq2.message();
  const status unknown = dequantize_row(99, zeros, out.data(), 256);
  EXPECT_EQ(unknown.code(), status_code::not_supported);
  EXPECT_NE(unknown.message().find("type 99"), std::string::npos) << unknown.message();
  EXPECT_EQ(dequantize_row(uint32_t(ggml_type::q8_0), zeros, out.data(), 33).code(),
            status_code::invalid_argument);
}

TEST(Quantize, Q8_0RoundTripsWithinHalfAStep) {
  std::vector<float> in(64);
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(int(i) - 30) * 0.037f;
  std::vector<uint8_t> bytes(2 * 34);
  ASSERT_TRUE(quantize_row(ggml_type::q8_0, in.data(), 64, bytes.data()).ok());
  const auto out = dequant(ggml_type::q8_0, bytes, 64);
  for (size_t b = 0; b < 2; ++b) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(in[b * 32 + i]));
    // One step is amax / 127; rounding adds at most half a step, f16 scale 2^-11 relative.
    const float tolerance = amax / 127.0f * 0.5f + amax * 0x1.0p-10f;
    for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(out[b * 32 + i], in[b * 32 + i], tolerance);
  }
}

// The model maker's 4- to 6-bit quantisers: what they write decodes (by ggml's layouts)
// to within a step of the input, a step being the block's range over its levels
// (K types: plus the 6- or 8-bit coding of the sub-block scales).
TEST(Quantize, FourToSixBitTypesRoundTripWithinAStep) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  struct type_bits {
    ggml_type type;
    int bits;
  };
  for (const auto [type, bits] :
       {type_bits{ggml_type::q4_0, 4}, type_bits{ggml_type::q4_1, 4}, type_bits{ggml_type::q5_0, 5},
        type_bits{ggml_type::q5_1, 5}, type_bits{ggml_type::q4_k, 4}, type_bits{ggml_type::q5_k, 5},
        type_bits{ggml_type::q6_k, 6}}) {
    SCOPED_TRACE(ggml_type_name(uint32_t(type)));
    const int64_t n = 512;
    const auto in = testing::uniform_floats(rng, n, -0.08f, 0.08f);
    const auto info = *ggml_type_info_of(uint32_t(type));
    std::vector<uint8_t> bytes(size_t(n / info.block_size * info.block_bytes));
    ASSERT_TRUE(quantize_row(type, in.data(), n, bytes.data()).ok());
    const auto out = dequant(type, bytes, n);
    const float step = 0.16f / float((1 << bits) - 1);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      worst = std::max(worst, double(std::fabs(out[size_t(i)] - in[size_t(i)])));
    EXPECT_LT(worst, 1.5 * step);
  }
}

}  // namespace
}  // namespace corolla
