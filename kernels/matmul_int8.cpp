#include "kernels/matmul_int8.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <tuple>

#include <sys/mman.h>

#include "kernels/assert.hpp"

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

// Symmetric per-row quantisation: q = round(x / scale), scale = max|x| / 127.
float quantize_row(int8_t* q, const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f;
  const float inverse = amax > 0.0f ? 1.0f / scale : 0.0f;
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * inverse));
  return scale;
}

// Weights are read once per token, so decode streams them from memory: with 4 KiB
// pages that is a TLB miss every 4 KiB. Large matrices get 2 MiB-aligned memory marked
// for transparent huge pages (this kind of machine has THP in madvise mode).
struct free_deleter {
  void operator()(void* p) const { std::free(p); }
};
using weight_buffer = std::unique_ptr<void, free_deleter>;

weight_buffer allocate_weights(size_t bytes) {
  constexpr size_t huge = size_t(2) << 20;
  if (bytes < huge) return weight_buffer(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  const size_t rounded = (bytes + huge - 1) / huge * huge;
  weight_buffer buffer(std::aligned_alloc(huge, rounded));
  if (buffer) madvise(buffer.get(), rounded, MADV_HUGEPAGE);  // a hint: failure is harmless
  return buffer;
}

}  // namespace

struct int8_matrix::impl {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> scales;
  memory::desc weights_desc;
  weight_buffer storage;
  memory weights;  // oneDNN's blocked layout, in `storage`
};

int8_matrix::int8_matrix() = default;
int8_matrix::int8_matrix(int8_matrix&&) noexcept = default;
int8_matrix& int8_matrix::operator=(int8_matrix&&) noexcept = default;
int8_matrix::~int8_matrix() = default;

int8_matrix int8_matrix::quantize(int64_t rows, int64_t cols, const row_source& source) {
  COROLLA_ASSERT(rows > 0 && cols > 0);
  auto p = std::make_unique<impl>();
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
      p->scales[r] = quantize_row(&plain[static_cast<size_t>(r) * cols], row.data(), cols);
    }
  }

  p->weights_desc = make_desc(1, cols, rows).weights_desc();
  p->storage = allocate_weights(p->weights_desc.get_size());
  if (!p->storage) throw std::bad_alloc();
  p->weights = memory(p->weights_desc, cpu_engine(), p->storage.get());
  memory plain_mem({{cols, rows}, dt::s8, tag::ba}, cpu_engine(), plain.data());
  dnnl::reorder(plain_mem, p->weights).execute(thread_stream(), plain_mem, p->weights);
  thread_stream().wait();

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
size_t int8_matrix::bytes() const {
  return impl_->weights_desc.get_size() + impl_->scales.size() * sizeof(float);
}

void matmul_int8(float* out, const float* x, int64_t m, const int8_matrix& w,
                 matmul_workspace& ws) {
  COROLLA_ASSERT(w.impl_ != nullptr && m > 0);
  const int64_t rows = w.impl_->rows;
  const int64_t cols = w.impl_->cols;
  const size_t n_in = static_cast<size_t>(m) * cols;
  const size_t n_out = static_cast<size_t>(m) * rows;
  if (ws.x_q.size() < n_in) ws.x_q.resize(n_in);
  if (ws.x_scale.size() < static_cast<size_t>(m)) ws.x_scale.resize(m);
  if (ws.acc.size() < n_out) ws.acc.resize(n_out);

#pragma omp parallel for schedule(static) if (m > 1)
  for (int64_t i = 0; i < m; ++i) {
    ws.x_scale[i] = quantize_row(&ws.x_q[i * cols], x + i * cols, cols);
  }

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

int64_t matmul_int8_primitives_created() {
  return primitives().created();
}

}  // namespace corolla
