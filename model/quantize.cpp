#include "model/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/half.hpp"

namespace corolla {
namespace {

void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v & 0xff);
  p[1] = uint8_t(v >> 8);
}

void quantize_q8_0(const float* in, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b, in += 32, out += 34) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(in[i]));
    const float d = amax / 127.0f;
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, f32_to_f16(d));
    for (int i = 0; i < 32; ++i) out[2 + i] = uint8_t(int8_t(std::lround(in[i] * inv)));
  }
}

// The values of a Q4_0 .. Q5_1 block after its factors: Q5's fifth bits as one 32-bit
// word, then value j and j + 16 in the low and high nibbles of byte j. Returns the end.
template <int Bits>
uint8_t* store_values(const int q[32], uint8_t* out) {
  if (Bits == 5) {
    uint32_t qh = 0;
    for (int i = 0; i < 32; ++i) qh |= uint32_t((q[i] >> 4) & 1) << i;
    std::memcpy(out, &qh, 4);
    out += 4;
  }
  for (int i = 0; i < 16; ++i) out[i] = uint8_t((q[i] & 0x0f) | ((q[i + 16] & 0x0f) << 4));
  return out + 16;
}

// Q4_0 / Q5_0 (ggml's reference): the value of largest magnitude maps to -2^(bits-1),
// q = x / d + 2^(bits-1), rounded and clamped to the top code.
template <int Bits>
void quantize_offset(const float* in, int64_t blocks, uint8_t* out) {
  constexpr int half = 1 << (Bits - 1), top = (1 << Bits) - 1;
  for (int64_t b = 0; b < blocks; ++b, in += 32) {
    float amax = 0, max = 0;
    for (int i = 0; i < 32; ++i) {
      if (std::fabs(in[i]) > amax) {
        amax = std::fabs(in[i]);
        max = in[i];
      }
    }
    const float d = max / -float(half);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    int q[32];
    for (int i = 0; i < 32; ++i) q[i] = std::min(top, int(in[i] * inv + float(half) + 0.5f));
    store_u16(out, f32_to_f16(d));
    out += 2;
    out = store_values<Bits>(q, out);
  }
}

// Q4_1 / Q5_1: d = (max - min) / top, q = (x - min) / d.
template <int Bits>
void quantize_min(const float* in, int64_t blocks, uint8_t* out) {
  constexpr int top = (1 << Bits) - 1;
  for (int64_t b = 0; b < blocks; ++b, in += 32) {
    float lo = in[0], hi = in[0];
    for (int i = 1; i < 32; ++i) {
      lo = std::min(lo, in[i]);
      hi = std::max(hi, in[i]);
    }
    const float d = (hi - lo) / float(top);
    const float inv = d != 0.0f ? 1.0f / d : 0.0f;
    int q[32];
    for (int i = 0; i < 32; ++i) q[i] = std::clamp(int((in[i] - lo) * inv + 0.5f), 0, top);
    store_u16(out, f32_to_f16(d));
    store_u16(out + 2, f32_to_f16(lo));
    out += 4;
    out = store_values<Bits>(q, out);
  }
}

// Q4_K / Q5_K: per 32 values a scale and a minimum (x ~ s q - m, m >= 0), both coded in
// 6 bits against the super-block's largest (d, dmin), packed as ggml does. Plain
// min/max fitting: llama.cpp's quantiser searches for better scales, this one does not.
template <int Bits>
void quantize_k(const float* in, int64_t blocks, uint8_t* out) {
  constexpr int top = (1 << Bits) - 1;
  for (int64_t b = 0; b < blocks; ++b, in += 256) {
    float scale[8], min[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
      float lo = 0, hi = 0;  // the minimum is never above 0, as in ggml
      for (int i = 0; i < 32; ++i) {
        lo = std::min(lo, in[32 * j + i]);
        hi = std::max(hi, in[32 * j + i]);
      }
      scale[j] = (hi - lo) / float(top);
      min[j] = -lo;
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, min[j]);
    }
    const float d = f16_to_f32(f32_to_f16(max_scale / 63.0f));
    const float dmin = f16_to_f32(f32_to_f16(max_min / 63.0f));
    uint8_t sc[8], mn[8];
    int q[256];
    for (int j = 0; j < 8; ++j) {
      sc[j] = uint8_t(d > 0 ? std::min(63, int(std::lround(scale[j] / d))) : 0);
      mn[j] = uint8_t(dmin > 0 ? std::min(63, int(std::lround(min[j] / dmin))) : 0);
      const float s = d * float(sc[j]), m = dmin * float(mn[j]);
      for (int i = 0; i < 32; ++i) {
        q[32 * j + i] = s > 0 ? std::clamp(int(std::lround((in[32 * j + i] + m) / s)), 0, top) : 0;
      }
    }
    store_u16(out, f32_to_f16(d));
    store_u16(out + 2, f32_to_f16(dmin));
    uint8_t* packed = out + 4;
    for (int j = 0; j < 4; ++j) {
      packed[j] = uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
      packed[j + 4] = uint8_t((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
      packed[j + 8] = uint8_t((sc[j + 4] & 0x0f) | ((mn[j + 4] & 0x0f) << 4));
    }
    uint8_t* qs = out + 16;
    if (Bits == 5) {
      std::memset(qs, 0, 32);
      for (int j = 0; j < 8; ++j) {
        for (int l = 0; l < 32; ++l) qs[l] = uint8_t(qs[l] | (((q[32 * j + l] >> 4) & 1) << j));
      }
      qs += 32;
    }
    for (int p = 0; p < 4; ++p) {
      for (int l = 0; l < 32; ++l) {
        qs[32 * p + l] = uint8_t((q[64 * p + l] & 0x0f) | ((q[64 * p + 32 + l] & 0x0f) << 4));
      }
    }
    out += Bits == 5 ? 176 : 144;
  }
}

// Q6_K: per 16 values a signed 8-bit scale against the super-block's d; q = x / s + 32.
void quantize_q6_k(const float* in, int64_t blocks, uint8_t* out) {
  for (int64_t b = 0; b < blocks; ++b, in += 256, out += 210) {
    float scale[16], max_scale = 0;
    for (int j = 0; j < 16; ++j) {
      float amax = 0, max = 0;
      for (int i = 0; i < 16; ++i) {
        if (std::fabs(in[16 * j + i]) > amax) {
          amax = std::fabs(in[16 * j + i]);
          max = in[16 * j + i];
        }
      }
      scale[j] = max / -32.0f;
      if (std::fabs(scale[j]) > std::fabs(max_scale)) max_scale = scale[j];
    }
    const float d = f16_to_f32(f32_to_f16(max_scale / -128.0f));
    int8_t sc[16];
    int q[256];
    for (int j = 0; j < 16; ++j) {
      sc[j] = int8_t(d != 0 ? std::clamp(int(std::lround(scale[j] / d)), -128, 127) : 0);
      const float s = d * float(sc[j]);
      for (int i = 0; i < 16; ++i) {
        q[16 * j + i] = s != 0 ? std::clamp(int(std::lround(in[16 * j + i] / s)) + 32, 0, 63) : 32;
      }
    }
    uint8_t* ql = out;
    uint8_t* qh = out + 128;
    for (int h = 0; h < 2; ++h) {
      const int* v = q + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[64 * h + l] = uint8_t((v[l] & 0x0f) | ((v[l + 64] & 0x0f) << 4));
        ql[64 * h + 32 + l] = uint8_t((v[l + 32] & 0x0f) | ((v[l + 96] & 0x0f) << 4));
        qh[32 * h + l] = uint8_t((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) |
                                 ((v[l + 96] >> 4) << 6));
      }
    }
    std::memcpy(out + 192, sc, 16);
    store_u16(out + 208, f32_to_f16(d));
  }
}

}  // namespace

bool is_writable_type(ggml_type type) {
  switch (type) {
    case ggml_type::f32:
    case ggml_type::f16:
    case ggml_type::bf16:
    case ggml_type::q8_0:
    case ggml_type::q4_0:
    case ggml_type::q4_1:
    case ggml_type::q5_0:
    case ggml_type::q5_1:
    case ggml_type::q4_k:
    case ggml_type::q5_k:
    case ggml_type::q6_k:
      return true;
    default:
      return false;
  }
}

status quantize_row(ggml_type type, const float* in, int64_t n, void* out) {
  if (!is_writable_type(type)) {
    return status::not_supported(
        "writing " + ggml_type_name(uint32_t(type)) +
        " tensors is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, "
        "Q5_1, Q4_K, Q5_K, Q6_K are)");
  }
  const auto info = *ggml_type_info_of(uint32_t(type));
  if (n < 0 || n % info.block_size != 0) {
    return status::invalid_argument("row of " + std::to_string(n) +
                                    " values is not a multiple of the " + info.name +
                                    " block size " + std::to_string(info.block_size));
  }
  auto* bytes = static_cast<uint8_t*>(out);
  switch (type) {
    case ggml_type::f32:
      std::memcpy(out, in, size_t(n) * sizeof(float));
      break;
    case ggml_type::f16:
      for (int64_t i = 0; i < n; ++i) store_u16(bytes + 2 * i, f32_to_f16(in[i]));
      break;
    case ggml_type::bf16:
      for (int64_t i = 0; i < n; ++i) store_u16(bytes + 2 * i, f32_to_bf16(in[i]));
      break;
    case ggml_type::q8_0:
      quantize_q8_0(in, n / 32, bytes);
      break;
    case ggml_type::q4_0:
      quantize_offset<4>(in, n / 32, bytes);
      break;
    case ggml_type::q5_0:
      quantize_offset<5>(in, n / 32, bytes);
      break;
    case ggml_type::q4_1:
      quantize_min<4>(in, n / 32, bytes);
      break;
    case ggml_type::q5_1:
      quantize_min<5>(in, n / 32, bytes);
      break;
    case ggml_type::q4_k:
      quantize_k<4>(in, n / 256, bytes);
      break;
    case ggml_type::q5_k:
      quantize_k<5>(in, n / 256, bytes);
      break;
    case ggml_type::q6_k:
      quantize_q6_k(in, n / 256, bytes);
      break;
    default:
      break;  // excluded by is_writable_type
  }
  return status();
}

}  // namespace corolla
