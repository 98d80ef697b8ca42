// weight_buffer: memory for a weight matrix that decode streams once per token.
//
// With 4 KiB pages that is a TLB miss every 4 KiB, so buffers of 2 MiB or more are
// 2 MiB-aligned and marked for transparent huge pages (this kind of machine has THP in
// madvise mode; the mark is a hint, and its failure is harmless). Smaller ones are
// 64-byte aligned. Null when the memory is not there.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace corolla {

struct free_deleter {
  void operator()(void* p) const { std::free(p); }
};
using weight_buffer = std::unique_ptr<void, free_deleter>;

weight_buffer allocate_weights(size_t bytes);

}  // namespace corolla
