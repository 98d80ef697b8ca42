// Figures about this process that commands and benchmarks print.
#pragma once

#include <sys/resource.h>

#include <sys/types.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace corolla {

// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
inline uint64_t peak_rss_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return uint64_t(usage.ru_maxrss) * 1024;
}

// The resident set of process `pid` now, in KiB (VmRSS); -1 when it can not be read.
inline int64_t resident_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kib = -1;
      in >> kib;
      return kib;
    }
  }
  return -1;
}

}  // namespace corolla
