#include "apps/openmp_spin.hpp"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

namespace corolla {

void limit_openmp_spinning(char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("GOMP_SPINCOUNT", "10000", 0);
  // The program's own path rather than /proc/self/exe, whose name ("exe") the process
  // would otherwise carry: `pkill actor-node` and top must still find it.
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  execv(self, argv);
}

}  // namespace corolla
