#include "kernels/half.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace corolla {
namespace {

uint16_t load_u16(const uint8_t* p) {
  return uint16_t(p[0] | (p[1] << 8));
}

void f16_to_f32_scalar(float* out, const uint8_t* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = f16_to_f32(load_u16(in + 2 * i));
}

#if defined(__x86_64__)
// CPUID leaf 1: F16C and AVX, and the OS saving YMM state (OSXSAVE + XCR0 bits 1-2).
// Read directly because clang 14's __builtin_cpu_supports does not know "f16c".
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const unsigned needed = (1u << 27) | (1u << 28) | (1u << 29);  // OSXSAVE, AVX, F16C
  if ((ecx & needed) != needed) return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  return (xcr0_lo & 6u) == 6u;
}

__attribute__((target("avx,f16c"))) void f16_to_f32_f16c(float* out, const uint8_t* in, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  f16_to_f32_scalar(out + i, in + 2 * i, n - i);
}
#endif

}  // namespace

void f16_to_f32_row(float* out, const void* in, size_t n) {
  const auto* bytes = static_cast<const uint8_t*>(in);
#if defined(__x86_64__)
  static const bool has_f16c = cpu_has_f16c();
  if (has_f16c) return f16_to_f32_f16c(out, bytes, n);
#endif
  f16_to_f32_scalar(out, bytes, n);
}

void bf16_to_f32_row(float* out, const void* in, size_t n) {
  const auto* bytes = static_cast<const uint8_t*>(in);
  for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(load_u16(bytes + 2 * i));
}

}  // namespace corolla
