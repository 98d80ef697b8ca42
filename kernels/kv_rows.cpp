#include "kernels/kv_rows.hpp"

#include <cmath>
#include <cstring>

#include "kernels/half.hpp"

namespace corolla {
namespace {

int64_t q8_blocks(int64_t kv_dim) {
  return (kv_dim + kKvQ8Block - 1) / kKvQ8Block;
}

size_t round_up4(size_t n) {
  return (n + 3) / 4 * 4;
}

}  // namespace

const char* to_string(kv_type t) {
  switch (t) {
    case kv_type::f32:
      return "f32";
    case kv_type::f16:
      return "f16";
    case kv_type::q8_0:
      return "q8_0";
  }
  return "?";
}

std::optional<kv_type> kv_type_from_name(const std::string& name) {
  for (const kv_type t : {kv_type::f32, kv_type::f16, kv_type::q8_0}) {
    if (name == to_string(t)) return t;
  }
  return std::nullopt;
}

size_t kv_q8_values_offset(int64_t kv_dim) {
  return round_up4(size_t(q8_blocks(kv_dim)) * sizeof(uint16_t));
}

size_t kv_row_bytes(int64_t kv_dim, kv_type t) {
  switch (t) {
    case kv_type::f32:
      return size_t(kv_dim) * sizeof(float);
    case kv_type::f16:
      return round_up4(size_t(kv_dim) * sizeof(uint16_t));
    case kv_type::q8_0:
      return kv_q8_values_offset(kv_dim) + round_up4(size_t(kv_dim));
  }
  return 0;
}

void kv_encode_row(kv_type t, const float* x, int64_t kv_dim, void* row) {
  unsigned char* out = static_cast<unsigned char*>(row);
  if (t == kv_type::f32) {
    std::memcpy(out, x, size_t(kv_dim) * sizeof(float));
  } else if (t == kv_type::f16) {
    for (int64_t i = 0; i < kv_dim; ++i) {
      const uint16_t h = f32_to_f16(x[i]);
      std::memcpy(out + 2 * i, &h, sizeof h);
    }
  } else {
    // As llama.cpp's quantize_row_q8_0: q rounded half away from zero from the unrounded
    // scale, d stored as f16.
    int8_t* q = reinterpret_cast<int8_t*>(out + kv_q8_values_offset(kv_dim));
    for (int64_t b = 0; b < q8_blocks(kv_dim); ++b) {
      const int64_t begin = b * kKvQ8Block;
      const int64_t end = begin + kKvQ8Block < kv_dim ? begin + kKvQ8Block : kv_dim;
      float amax = 0.0f;
      for (int64_t i = begin; i < end; ++i) amax = std::fmax(amax, std::fabs(x[i]));
      const float d = amax / 127.0f;
      const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
      for (int64_t i = begin; i < end; ++i) q[i] = int8_t(std::round(x[i] * inverse));
      const uint16_t h = f32_to_f16(d);
      std::memcpy(out + 2 * b, &h, sizeof h);
    }
  }
}

void kv_decode_row(kv_type t, const void* row, int64_t kv_dim, int64_t first, int64_t n,
                   float* out) {
  const unsigned char* in = static_cast<const unsigned char*>(row);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = first + i;
    if (t == kv_type::f32) {
      std::memcpy(&out[i], in + 4 * j, sizeof(float));
    } else {
      uint16_t h;
      std::memcpy(&h, in + 2 * (t == kv_type::f16 ? j : j / kKvQ8Block), sizeof h);
      out[i] = t == kv_type::f16
                   ? f16_to_f32(h)
                   : f16_to_f32(h) * float(int8_t(in[kv_q8_values_offset(kv_dim) + size_t(j)]));
    }
  }
}

}  // namespace corolla
