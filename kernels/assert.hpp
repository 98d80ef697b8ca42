// COROLLA_ASSERT: the kernels' guard against caller bugs (a bad shape, a workspace
// too small). Kernels take no untrusted input: model/ checks files and messages
// before anything reaches them, so a failed assertion is a programming error and
// stops the process with the condition, file and line (as gemma.cpp's HWY_ASSERT).
// COROLLA_ASSERT is always on and for cheap checks at kernel entry;
// COROLLA_DASSERT is for inner loops and compiled only without NDEBUG.
#pragma once

namespace corolla::detail {
[[noreturn]] void assert_failed(const char* condition, const char* file, int line);
}  // namespace corolla::detail

#define COROLLA_ASSERT(condition)                                       \
  do {                                                                  \
    if (!(condition)) {                                                 \
      ::corolla::detail::assert_failed(#condition, __FILE__, __LINE__); \
    }                                                                   \
  } while (false)

#ifdef NDEBUG
#define COROLLA_DASSERT(condition) \
  do {                             \
  } while (false)
#else
#define COROLLA_DASSERT(condition) COROLLA_ASSERT(condition)
#endif
