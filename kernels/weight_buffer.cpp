#include "kernels/weight_buffer.hpp"

#include <sys/mman.h>

namespace corolla {

weight_buffer allocate_weights(size_t bytes) {
  constexpr size_t huge = size_t(2) << 20;
  if (bytes < huge) return weight_buffer(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  const size_t rounded = (bytes + huge - 1) / huge * huge;
  weight_buffer buffer(std::aligned_alloc(huge, rounded));
  if (buffer) madvise(buffer.get(), rounded, MADV_HUGEPAGE);
  return buffer;
}

}  // namespace corolla
