// Figures about this process that commands and benchmarks print.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace corolla {

// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
inline uint64_t peak_rss_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return uint64_t(usage.ru_maxrss) * 1024;
}

}  // namespace corolla
