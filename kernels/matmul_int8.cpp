#include "kernels/matmul_int8.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <tuple>

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/assert.hpp"
#include "kernels/int8/packed_int8.hpp"
#include "kernels/weight_buffer.hpp"

namespace corolla {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

// One engine per process; the ISA cap must be set before oneDNN generates any code.
dnnl::engine& cpu_engine() {
  static dnnl::engine engine = [] {
    if (std::getenv("DNNL_MAX_CPU_ISA") == nullptr) {
      dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_vnni);
    }
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

// With no weights layout given, oneDNN picks the one its fastest kernel wants.
// The scratchpad is the caller's (matmul_workspace): oneDNN's own is shared by all
// primitives and only safe when each primitive stays on the thread that created it,
// while block actors on different threads share primitives of the same shape.
// (Measured: with the library scratchpad, concurrent sessions' tokens diverged.)
dnnl::matmul::primitive_desc make_desc(int64_t m, int64_t cols, int64_t rows,
                                       const memory::desc* weights_layout = nullptr) {
  const memory::desc src({m, cols}, dt::s8, tag::ab);
  const memory::desc weights =
      weights_layout ? *weights_layout : memory::desc({cols, rows}, dt::s8, tag::any);
  const memory::desc dst({m, rows}, dt::s32, tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, cpu_engine());
}

struct cached_matmul {
  dnnl::matmul primitive;
  memory::desc scratchpad;
};

// Primitives by (m, cols, rows). Entries are never removed, so references stay valid.
class primitive_cache {
 public:
  const cached_matmul& get(int64_t m, int64_t cols, int64_t rows, const memory::desc& weights) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto key = std::make_tuple(m, cols, rows);
    auto it = primitives_.find(key);
    if (it == primitives_.end()) {
      // The weights were reordered once, into the layout chosen for m = 1; every m uses
      // it. (Measured: VNNI and AMX brgemm choose the same layout for m = 1 .. 512.)
      const auto desc = make_desc(m, cols, rows, &weights);
      it =
          primitives_.emplace(key, cached_matmul{dnnl::matmul(desc), desc.scratchpad_desc()}).first;
      ++created_;
    }
    return it->second;
  }
  int64_t created() {
    std::lock_guard<std::mutex> lock(mutex_);
    return created_;
  }

 private:
  std::mutex mutex_;
  std::map<std::tuple<int64_t, int64_t, int64_t>, cached_matmul> primitives_;
  int64_t created_ = 0;
};

primitive_cache& primitives() {
  static primitive_cache cache;
  return cache;
}

const packed::kernels& packed_kernels(int8_path p) {
  switch (p) {
    case int8_path::avx2:
      return packed::avx2_kernels();
    case int8_path::avx512bw:
    case int8_path::onednn_vnni:  // oneDNN's path quantises with these (same bytes)
      return packed::avx512bw_kernels();
    case int8_path::portable:
      break;
  }
  return packed::portable_kernels();
}

}  // namespace

struct int8_matrix::impl {
  int8_path path = int8_path::portable;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> scales;
  weight_buffer storage;  // oneDNN's blocked layout or packed_int8.hpp's
  size_t storage_bytes = 0;
  memory::desc weights_desc;  // oneDNN path only
  memory weights;             // oneDNN path only, in `storage`
};

namespace {

// x [m, cols] quantised into ws (rows kp apart) by the kernels `k`, with |q| beside it
// when `with_abs` (the own paths' maddubs needs it, oneDNN does not), in parallel over
// rows when there are enough of them to pay for the threads.
void quantize_activations(const float* x, int64_t m, int64_t cols, int64_t kp,
                          const packed::kernels& k, bool with_abs, matmul_workspace& ws) {
  const size_t n = size_t(m) * kp;
  if (ws.x_q.size() < n) ws.x_q.resize(n);
  if (with_abs && ws.x_abs.size() < n) ws.x_abs.resize(n);
  if (ws.x_scale.size() < size_t(m)) ws.x_scale.resize(m);
#pragma omp parallel for schedule(static) if (m > 1 && m * cols > 16384)
  for (int64_t i = 0; i < m; ++i) {
    ws.x_scale[i] =
        k.quantize(x + i * cols, cols, kp, &ws.x_q[i * kp], with_abs ? &ws.x_abs[i * kp] : nullptr);
  }
}

// Matrices with fewer weights than this skip oneDNN on the VNNI path: its fixed cost per
// call (primitive lookup, its thread split: a few microseconds) is most of a small
// matrix's time, and the avx512bw kernel (same bits) has none of it. Measured on
// stories260K (dim 64): 5500 tokens/s on oneDNN, 9300 on packed kernels.
constexpr int64_t kSmallMatrix = int64_t(1) << 18;

// The path a matrix of this shape is laid out for when `path` is asked.
int8_path path_for(int64_t rows, int64_t cols, int8_path path) {
  return path == int8_path::onednn_vnni && rows * cols < kSmallMatrix ? int8_path::avx512bw : path;
}

// Bytes of packed_int8.hpp's layout.
size_t packed_bytes(int64_t rows, int64_t cols) {
  return size_t(packed::padded_rows(rows)) * size_t(packed::padded_cols(cols));
}

// Below this many multiply-adds a matmul runs on the calling thread: starting the team
// costs more than it saves (a few microseconds), which is most of a small model's step.
constexpr int64_t kParallelMacs = int64_t(1) << 18;

void packed_matmul(float* out, const float* x, int64_t m, const int8_matrix::impl& w,
                   matmul_workspace& ws) {
  const packed::kernels& k = packed_kernels(w.path);
  const int64_t kp = packed::padded_cols(w.cols);
  quantize_activations(x, m, w.cols, kp, k, /*with_abs=*/true, ws);
  const packed::gemm_args args{ws.x_q.data(),
                               ws.x_abs.data(),
                               ws.x_scale.data(),
                               m,
                               kp,
                               static_cast<const int8_t*>(w.storage.get()),
                               w.scales.data(),
                               w.rows,
                               out};
  const int64_t blocks = packed::padded_rows(w.rows) / packed::kRowBlock;
  if (m * w.rows * kp < kParallelMacs) {
    k.gemm(args, 0, blocks);
    return;
  }
  // Chunks of about 64 KiB of weights, handed out one at a time: a thread that loses its
  // core to another process takes fewer of them instead of holding up the rest.
  const int64_t per_chunk = std::max<int64_t>(1, 16384 / kp);
  const int64_t chunks = (blocks + per_chunk - 1) / per_chunk;
  const int allowed = omp_get_max_threads();
  team_policy& policy = m < 16 ? ws.decode_team : ws.batch_team;
  const int team = policy.threads(allowed);
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
  for (int64_t c = 0; c < chunks; ++c) {
    k.gemm(args, c * per_chunk, std::min(blocks, (c + 1) * per_chunk));
  }
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  policy.record(team, allowed, took.count(), double(m * w.rows * kp));
}

}  // namespace

int8_matrix::int8_matrix() = default;
int8_matrix::int8_matrix(int8_matrix&&) noexcept = default;
int8_matrix& int8_matrix::operator=(int8_matrix&&) noexcept = default;
int8_matrix::~int8_matrix() = default;

int8_matrix int8_matrix::quantize(int64_t rows, int64_t cols, const row_source& source,
                                  int8_path path) {
  COROLLA_ASSERT(rows > 0 && cols > 0 && int8_path_available(path));
  path = path_for(rows, cols, path);
  auto p = std::make_unique<impl>();
  p->path = path;
  p->rows = rows;
  p->cols = cols;
  p->scales.resize(rows);

  // Plain [rows, cols] int8 is oneDNN's {cols, rows} with tag ba.
  std::vector<int8_t> plain(static_cast<size_t>(rows) * cols);
#pragma omp parallel
  {
    std::vector<float> row(cols);
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      source(r, row.data());
      p->scales[r] = packed::quantize_row(&plain[static_cast<size_t>(r) * cols], row.data(), cols);
    }
  }

  if (path == int8_path::onednn_vnni) {
    p->weights_desc = make_desc(1, cols, rows).weights_desc();
    p->storage_bytes = p->weights_desc.get_size();
    p->storage = allocate_weights(p->storage_bytes);
    if (!p->storage) throw std::bad_alloc();
    p->weights = memory(p->weights_desc, cpu_engine(), p->storage.get());
    memory plain_mem({{cols, rows}, dt::s8, tag::ba}, cpu_engine(), plain.data());
    dnnl::reorder(plain_mem, p->weights).execute(thread_stream(), plain_mem, p->weights);
    thread_stream().wait();
  } else {
    p->storage_bytes = packed_bytes(rows, cols);
    p->storage = allocate_weights(p->storage_bytes);
    if (!p->storage) throw std::bad_alloc();
    packed::pack(static_cast<int8_t*>(p->storage.get()), plain.data(), rows, cols);
  }

  int8_matrix m;
  m.impl_ = std::move(p);
  return m;
}

int64_t int8_matrix::rows() const {
  return impl_->rows;
}
int64_t int8_matrix::cols() const {
  return impl_->cols;
}
const float* int8_matrix::scales() const {
  return impl_->scales.data();
}
int8_path int8_matrix::path() const {
  return impl_->path;
}
size_t int8_matrix::bytes() const {
  return impl_->storage_bytes + impl_->scales.size() * sizeof(float);
}

size_t int8_matrix_bytes(int64_t rows, int64_t cols, int8_path path) {
  path = path_for(rows, cols, path);
  const size_t scales = size_t(rows) * sizeof(float);
  if (path == int8_path::onednn_vnni) {
    return make_desc(1, cols, rows).weights_desc().get_size() + scales;
  }
  return packed_bytes(rows, cols) + scales;
}

void matmul_int8(float* out, const float* x, int64_t m, const int8_matrix& w,
                 matmul_workspace& ws) {
  COROLLA_ASSERT(w.impl_ != nullptr && m > 0);
  if (w.impl_->path != int8_path::onednn_vnni) {
    packed_matmul(out, x, m, *w.impl_, ws);
    return;
  }
  const int64_t rows = w.impl_->rows;
  const int64_t cols = w.impl_->cols;
  const size_t n_out = static_cast<size_t>(m) * rows;
  if (ws.acc.size() < n_out) ws.acc.resize(n_out);
  quantize_activations(x, m, cols, cols, packed_kernels(w.impl_->path), /*with_abs=*/false, ws);

  const cached_matmul& mm = primitives().get(m, cols, rows, w.impl_->weights_desc);
  if (ws.scratchpad.size() < mm.scratchpad.get_size())
    ws.scratchpad.resize(mm.scratchpad.get_size());
  memory src({{m, cols}, dt::s8, tag::ab}, cpu_engine(), ws.x_q.data());
  memory dst({{m, rows}, dt::s32, tag::ab}, cpu_engine(), ws.acc.data());
  memory scratchpad(mm.scratchpad, cpu_engine(), ws.scratchpad.data());
  mm.primitive.execute(thread_stream(), {{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_WEIGHTS, w.impl_->weights},
                                         {DNNL_ARG_DST, dst},
                                         {DNNL_ARG_SCRATCHPAD, scratchpad}});
  thread_stream().wait();

  const float* w_scale = w.impl_->scales.data();
  const int32_t* acc = ws.acc.data();
#pragma omp parallel for schedule(static) if (n_out > 16384)
  for (int64_t i = 0; i < m; ++i) {
    const float s = ws.x_scale[i];
    for (int64_t r = 0; r < rows; ++r) {
      out[i * rows + r] = static_cast<float>(acc[i * rows + r]) * s * w_scale[r];
    }
  }
}

std::string matmul_int8_implementation(int64_t m, int64_t cols, int64_t rows) {
  return make_desc(m, cols, rows).impl_info_str();
}

std::string matmul_int8_kernel_name(int64_t m, int64_t cols, int64_t rows) {
  const int8_path p = process_int8_path();
  if (p != int8_path::onednn_vnni) return to_string(p);
  return std::string(to_string(p)) + " " + matmul_int8_implementation(m, cols, rows);
}

int64_t matmul_int8_primitives_created() {
  return primitives().created();
}

}  // namespace corolla
