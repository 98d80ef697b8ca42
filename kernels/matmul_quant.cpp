#include "kernels/matmul_quant.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <new>

#include "kernels/assert.hpp"
#include "kernels/weight_buffer.hpp"

namespace corolla {

using quant::kGroup;
using quant::kTileRows;

struct quant_matrix::impl {
  struct part_tiles {
    quant::format format;
    quant::tile_layout layout;
    int64_t first_row = 0;  // of W
    int64_t rows = 0;
    int64_t tiles = 0;
    size_t offset = 0;  // of its first tile in storage
  };
  // A run of one part's tiles that one thread takes at a time.
  struct chunk {
    size_t part;
    int64_t tile_begin, tile_end;
  };
  int8_path path = int8_path::portable;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<part_tiles> parts;
  std::vector<chunk> chunks;
  weight_buffer storage;
  size_t storage_bytes = 0;
};

namespace {

const quant::kernels& kernels_for(int8_path p) {
  switch (p) {
    case int8_path::onednn_vnni:
      return quant::vnni_kernels();
    case int8_path::avx512bw:
    case int8_path::avx2:
      return quant::avx2_kernels();
    case int8_path::portable:
      break;
  }
  return quant::portable_kernels();
}

// x [m, cols] to int8 per group (quant_layout.hpp's definition), with each group's scale
// and the sums of its two 16-value halves.
void quantize_activations(const float* x, int64_t m, int64_t cols, matmul_workspace& ws) {
  const int64_t groups = cols / kGroup;
  const size_t n = size_t(m * cols);
  if (ws.x_q.size() < n) ws.x_q.resize(n);
  if (ws.x_scale.size() < size_t(m * groups)) ws.x_scale.resize(size_t(m * groups));
  if (ws.x_sum.size() < size_t(2 * m * groups)) ws.x_sum.resize(size_t(2 * m * groups));
#pragma omp parallel for schedule(static) if (m > 1 && m * cols > 16384)
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* v = x + i * cols + g * kGroup;
      float amax = 0.0f;
      for (int j = 0; j < kGroup; ++j) amax = std::max(amax, std::fabs(v[j]));
      const float scale = amax / 127.0f;
      const float inverse = amax > 0.0f ? 1.0f / scale : 0.0f;
      int8_t* q = &ws.x_q[size_t(i * cols + g * kGroup)];
      int32_t sums[2] = {0, 0};
      for (int j = 0; j < kGroup; ++j) {
        const float r = std::nearbyint(v[j] * inverse);
        q[j] = int8_t(std::clamp(r, -127.0f, 127.0f));
        sums[j / 16] += q[j];
      }
      ws.x_scale[size_t(i * groups + g)] = scale;
      ws.x_sum[size_t(2 * (i * groups + g))] = sums[0];
      ws.x_sum[size_t(2 * (i * groups + g) + 1)] = sums[1];
    }
  }
}

// Below this many multiply-adds a matmul runs on the calling thread (matmul_int8's
// reason: starting the team costs more than it saves).
constexpr int64_t kParallelMacs = int64_t(1) << 18;

// A thread's unit of work: about 64 KiB of tiles.
constexpr int64_t kChunkBytes = int64_t(64) << 10;

}  // namespace

const char* to_string(quant::format f) {
  switch (f) {
    case quant::format::q4_0:
      return "q4_0";
    case quant::format::q4_1:
      return "q4_1";
    case quant::format::q5_0:
      return "q5_0";
    case quant::format::q5_1:
      return "q5_1";
    case quant::format::q4_k:
      return "q4_k";
    case quant::format::q5_k:
      return "q5_k";
    case quant::format::q6_k:
      return "q6_k";
  }
  return "?";
}

size_t quant_matrix_bytes(quant::format f, int64_t rows, int64_t cols) {
  const int64_t tiles = (rows + kTileRows - 1) / kTileRows;
  return size_t(tiles * quant::layout_of(f, cols).bytes);
}

quant_matrix::quant_matrix() = default;
quant_matrix::quant_matrix(quant_matrix&&) noexcept = default;
quant_matrix& quant_matrix::operator=(quant_matrix&&) noexcept = default;
quant_matrix::~quant_matrix() = default;

quant_matrix quant_matrix::pack(int64_t cols, const std::vector<part>& parts, int8_path path) {
  COROLLA_ASSERT(!parts.empty() && cols > 0 && int8_path_available(path));
  auto p = std::make_unique<impl>();
  p->path = path;
  p->cols = cols;
  for (const part& source : parts) {
    COROLLA_ASSERT(source.rows > 0 && cols % quant::row_multiple(source.format) == 0);
    impl::part_tiles t;
    t.format = source.format;
    t.layout = quant::layout_of(source.format, cols);
    t.first_row = p->rows;
    t.rows = source.rows;
    t.tiles = (source.rows + kTileRows - 1) / kTileRows;
    t.offset = p->storage_bytes;
    const int64_t per_chunk = std::max<int64_t>(1, kChunkBytes / t.layout.bytes);
    for (int64_t b = 0; b < t.tiles; b += per_chunk) {
      p->chunks.push_back({p->parts.size(), b, std::min(t.tiles, b + per_chunk)});
    }
    p->storage_bytes += size_t(t.tiles * t.layout.bytes);
    p->rows += source.rows;
    p->parts.push_back(t);
  }
  p->storage = allocate_weights(p->storage_bytes);
  if (!p->storage) throw std::bad_alloc();
  auto* base = static_cast<uint8_t*>(p->storage.get());
  for (size_t k = 0; k < parts.size(); ++k) {
    const impl::part_tiles& t = p->parts[k];
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t tile = 0; tile < t.tiles; ++tile) {
      const uint8_t* rows[kTileRows];
      for (int r = 0; r < kTileRows; ++r) {
        const int64_t row = tile * kTileRows + r;
        rows[r] = row < t.rows ? parts[k].source(row) : nullptr;
      }
      quant::pack_tile(t.format, cols, rows, base + t.offset + size_t(tile * t.layout.bytes));
    }
  }
  quant_matrix m;
  m.impl_ = std::move(p);
  return m;
}

int64_t quant_matrix::rows() const {
  return impl_->rows;
}
int64_t quant_matrix::cols() const {
  return impl_->cols;
}
int8_path quant_matrix::path() const {
  return impl_->path;
}
size_t quant_matrix::bytes() const {
  return impl_->storage_bytes;
}

void quant_matrix::dequantize_row(int64_t row, float* out) const {
  COROLLA_ASSERT(row >= 0 && row < impl_->rows);
  size_t k = impl_->parts.size() - 1;
  while (impl_->parts[k].first_row > row) --k;
  const impl::part_tiles& t = impl_->parts[k];
  const int64_t r = row - t.first_row;
  const auto* tile = static_cast<const uint8_t*>(impl_->storage.get()) + t.offset +
                     size_t(r / kTileRows * t.layout.bytes);
  quant::unpack_row(t.format, t.layout, tile, int(r % kTileRows), out);
}

void matmul_quant(float* out, const float* x, int64_t m, const quant_matrix& w,
                  matmul_workspace& ws) {
  COROLLA_ASSERT(w.impl_ != nullptr && m > 0);
  const quant_matrix::impl& q = *w.impl_;
  quantize_activations(x, m, q.cols, ws);
  const quant::kernels& k = kernels_for(q.path);
  const auto* base = static_cast<const uint8_t*>(q.storage.get());
  auto run = [&](const quant_matrix::impl::chunk& c) {
    const quant_matrix::impl::part_tiles& t = q.parts[c.part];
    const quant::gemm_args args{t.format,      base + t.offset,   t.layout,        t.rows,
                                ws.x_q.data(), ws.x_scale.data(), ws.x_sum.data(), m,
                                q.cols,        out + t.first_row, q.rows};
    k.gemm(args, c.tile_begin, c.tile_end);
  };
  const int64_t chunks = int64_t(q.chunks.size());
  if (m * q.rows * q.cols < kParallelMacs) {
    for (const auto& c : q.chunks) run(c);
    return;
  }
  const int allowed = omp_get_max_threads();
  team_policy& policy = m < 16 ? ws.decode_team : ws.batch_team;
  const int team = policy.threads(allowed);
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
  for (int64_t c = 0; c < chunks; ++c) run(q.chunks[size_t(c)]);
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  policy.record(team, allowed, took.count(), double(m * q.rows * q.cols));
}

}  // namespace corolla
