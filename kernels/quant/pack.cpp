// Reading ggml's blocks (ggml-common.h's layouts, little-endian) into quant_layout.hpp's
// tiles, and back to f32 for tests. Runs once per matrix at load: plain scalar code.
#include <cstring>
#include <vector>

#include "kernels/half.hpp"
#include "kernels/quant/quant_layout.hpp"

namespace corolla::quant {
namespace {

uint16_t load_u16(const uint8_t* p) {
  return uint16_t(p[0] | (p[1] << 8));
}
void store_u16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v & 0xff);
  p[1] = uint8_t(v >> 8);
}

// One row decoded: its values q (unsigned) and the raw factors per unit (quant_layout.hpp:
// groups for Q4_0..Q5_1, super-blocks and groups for Q4_K / Q5_K, super-blocks and
// 16-value halves for Q6_K).
struct decoded_row {
  std::vector<uint8_t> q;
  std::vector<uint16_t> d, m;   // f16 bits
  std::vector<uint8_t> sc, mn;  // Q6_K: int8 bits in sc
};

// Q4_K / Q5_K's eight 6-bit (scale, min) pairs packed into 12 bytes.
void k_scale_min(int j, const uint8_t* s, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = uint8_t((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    min = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

decoded_row decode(format f, const uint8_t* src, int64_t cols) {
  decoded_row row;
  row.q.resize(size_t(cols));
  uint8_t* q = row.q.data();
  switch (f) {
    case format::q4_0:
    case format::q4_1:
    case format::q5_0:
    case format::q5_1: {
      const bool min = has_min(f), five = bits_of(f) == 5;
      for (int64_t g = 0; g < cols / kGroup; ++g, q += kGroup) {
        row.d.push_back(load_u16(src));
        src += 2;
        if (min) {
          row.m.push_back(load_u16(src));
          src += 2;
        }
        uint32_t qh = 0;
        if (five) {
          std::memcpy(&qh, src, 4);
          src += 4;
        }
        for (int j = 0; j < 16; ++j) {
          q[j] = uint8_t((src[j] & 0x0f) | (((qh >> j) & 1) << 4));
          q[j + 16] = uint8_t((src[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        src += 16;
      }
      break;
    }
    case format::q4_k:
    case format::q5_k: {
      const bool five = f == format::q5_k;
      for (int64_t k = 0; k < cols / kSuper; ++k, q += kSuper) {
        row.d.push_back(load_u16(src));
        row.m.push_back(load_u16(src + 2));
        const uint8_t* scales = src + 4;
        const uint8_t* qh = src + 16;
        const uint8_t* ql = src + 16 + (five ? 32 : 0);
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, mn;
          k_scale_min(j, scales, sc, mn);
          row.sc.push_back(sc);
          row.mn.push_back(mn);
          for (int l = 0; l < 32; ++l) {
            const int low = (ql[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0f;
            const int high = five ? (qh[l] >> j) & 1 : 0;
            q[32 * j + l] = uint8_t(low | (high << 4));
          }
        }
        src += five ? 176 : 144;
      }
      break;
    }
    case format::q6_k: {
      for (int64_t k = 0; k < cols / kSuper; ++k, q += kSuper, src += 210) {
        const uint8_t* ql = src;
        const uint8_t* qh = src + 128;
        for (int i = 0; i < 16; ++i) row.sc.push_back(src[192 + i]);
        row.d.push_back(load_u16(src + 208));
        for (int half = 0; half < 2; ++half) {
          uint8_t* out = q + 128 * half;
          const uint8_t* l8 = ql + 64 * half;
          const uint8_t* h8 = qh + 32 * half;
          for (int l = 0; l < 32; ++l) {
            out[l] = uint8_t((l8[l] & 0x0f) | (((h8[l] >> 0) & 3) << 4));
            out[l + 32] = uint8_t((l8[l + 32] & 0x0f) | (((h8[l] >> 2) & 3) << 4));
            out[l + 64] = uint8_t((l8[l] >> 4) | (((h8[l] >> 4) & 3) << 4));
            out[l + 96] = uint8_t((l8[l + 32] >> 4) | (((h8[l] >> 6) & 3) << 4));
          }
        }
      }
      break;
    }
  }
  return row;
}

}  // namespace

int64_t ggml_row_bytes(format f, int64_t cols) {
  switch (f) {
    case format::q4_0:
      return cols / 32 * 18;
    case format::q4_1:
      return cols / 32 * 20;
    case format::q5_0:
      return cols / 32 * 22;
    case format::q5_1:
      return cols / 32 * 24;
    case format::q4_k:
      return cols / 256 * 144;
    case format::q5_k:
      return cols / 256 * 176;
    case format::q6_k:
      return cols / 256 * 210;
  }
  return 0;
}

void pack_tile(format f, int64_t cols, const uint8_t* const rows[kTileRows], uint8_t* tile) {
  const tile_layout l = layout_of(f, cols);
  std::memset(tile, 0, size_t(l.bytes));
  for (int r = 0; r < kTileRows; ++r) {
    if (rows[r] == nullptr) continue;
    const decoded_row row = decode(f, rows[r], cols);
    for (int64_t g = 0; g < l.groups; ++g) {
      const uint8_t* q = &row.q[size_t(g * kGroup)];
      uint8_t* rec = group_at(l, tile, g);
      for (int c = 0; c < 4; ++c) {
        for (int j = 0; j < 4; ++j) {
          rec[c * 32 + 4 * r + j] =
              uint8_t((q[4 * c + j] & 0x0f) | ((q[16 + 4 * c + j] & 0x0f) << 4));
        }
      }
      for (int p = 0; p < l.planes; ++p) {
        for (int j = 0; j < 4; ++j) {
          uint8_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = uint8_t(bits | (((q[4 * k + j] >> (4 + p)) & 1) << k));
          rec[l.qh + p * 32 + 4 * r + j] = bits;
        }
      }
      if (f == format::q6_k) {
        for (int h = 0; h < 2; ++h) rec[l.sc + h * kTileRows + r] = row.sc[size_t(2 * g + h)];
      } else if (is_k(f)) {
        rec[l.sc + r] = row.sc[size_t(g)];
        rec[l.mn + r] = row.mn[size_t(g)];
      } else {
        store_u16(rec + l.d + 2 * r, row.d[size_t(g)]);
        if (has_min(f)) store_u16(rec + l.m + 2 * r, row.m[size_t(g)]);
      }
    }
    if (is_k(f)) {
      for (int64_t k = 0; k < cols / kSuper; ++k) {
        uint8_t* header = super_at(l, tile, k);
        store_u16(header + l.super_d + 2 * r, row.d[size_t(k)]);
        if (has_min(f)) store_u16(header + l.super_m + 2 * r, row.m[size_t(k)]);
      }
    }
  }
}

int value_at(const tile_layout& l, const uint8_t* tile, int64_t g, int r, int j) {
  const uint8_t* rec = group_at(l, tile, g);
  const uint8_t packed = rec[(j % 16 / 4) * 32 + 4 * r + j % 4];
  int q = j < 16 ? packed & 0x0f : packed >> 4;
  for (int p = 0; p < l.planes; ++p)
    q |= ((rec[l.qh + p * 32 + 4 * r + j % 4] >> (j / 4)) & 1) << (4 + p);
  return q;
}

void unpack_row(format f, const tile_layout& l, const uint8_t* tile, int r, float* out) {
  auto f16 = [r](const uint8_t* p) { return f16_to_f32(load_u16(p + 2 * r)); };
  for (int64_t g = 0; g < l.groups; ++g) {
    const uint8_t* rec = group_at(l, tile, g);
    const uint8_t* header = super_at(l, tile, g / (kSuper / kGroup));
    for (int j = 0; j < kGroup; ++j) {
      const int q = value_at(l, tile, g, r, j);
      float w;
      if (f == format::q6_k) {
        const auto sc = int8_t(rec[l.sc + (j / 16) * kTileRows + r]);
        w = f16(header + l.super_d) * float(sc) * float(q - offset_of(f));
      } else if (!has_min(f)) {
        w = float(q - offset_of(f)) * f16(rec + l.d);
      } else if (is_k(f)) {
        const float s = f16(header + l.super_d) * float(rec[l.sc + r]);
        const float m = f16(header + l.super_m) * float(rec[l.mn + r]);
        w = s * float(q) - m;
      } else {
        w = float(q) * f16(rec + l.d) + f16(rec + l.m);
      }
      out[g * kGroup + j] = w;
    }
  }
}

}  // namespace corolla::quant
