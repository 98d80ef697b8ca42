// f16 and bf16 conversions: exact decoding of every f16 bit pattern, and
// round-to-nearest-even encoding, checked against the definition of the format.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/half.hpp"

namespace corolla {
namespace {

// The value an f16 bit pattern denotes, straight from IEEE 754's definition.
double f16_by_definition(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  if (e == 0) return sign * std::ldexp(m, -24);
  if (e == 31) return m ? NAN : sign * INFINITY;
  return sign * std::ldexp(1024 + m, e - 25);
}

TEST(Half, EveryF16PatternDecodesExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const double want = f16_by_definition(uint16_t(h));
    const float got = f16_to_f32(uint16_t(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      EXPECT_EQ(double(got), want) << h;
    }
  }
}

TEST(Half, RowConversionMatchesScalarOnUnalignedInput) {
  // Every f16 pattern, one byte past an aligned address, through the row path
  // (F16C when present) and its scalar tail.
  std::vector<uint8_t> bytes(2 * 65536 + 1);
  for (uint32_t h = 0; h < 65536; ++h) {
    bytes[1 + 2 * h] = uint8_t(h & 0xff);
    bytes[2 + 2 * h] = uint8_t(h >> 8);
  }
  std::vector<float> out(65536);
  f16_to_f32_row(out.data(), bytes.data() + 1, out.size());
  for (uint32_t h = 0; h < 65536; ++h) {
    const float want = f16_to_f32(uint16_t(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(out[h])) << h;
    } else {
      EXPECT_EQ(out[h], want) << h;
    }
  }
}

TEST(Half, EveryFiniteF16RoundTrips) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if (((h >> 10) & 0x1f) == 31) continue;
    EXPECT_EQ(f32_to_f16(f16_to_f32(uint16_t(h))), h) << h;
  }
}

TEST(Half, EncodingRoundsToNearestEven) {
  // 1 + 2^-11 lies halfway between 1 (0x3C00, even) and 1 + 2^-10 (0x3C01).
  EXPECT_EQ(f32_to_f16(1.0f + 0x1.0p-11f), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1.0p-11f), 0x3C02);  // halfway to even 0x3C02
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);               // rounds up to infinity
  EXPECT_EQ(f32_to_f16(0x1.0p-25f), 0x0000);             // half the smallest subnormal: even
  EXPECT_EQ(f32_to_f16(0x1.8p-25f), 0x0001);
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1.0p-8f), 0x3F80);  // bf16 tie to even
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1.0p-8f), 0x3F82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

}  // namespace
}  // namespace corolla
