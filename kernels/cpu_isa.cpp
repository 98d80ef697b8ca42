#include "kernels/cpu_isa.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace corolla {
namespace {

// oneDNN's cap names (its dnnl_cpu_isa_t spellings), each mapped to the best path it
// allows. AVX-512 MIC (Knights Landing) has no AVX-512BW, so it stops at avx2.
struct cap_name {
  const char* name;
  int8_path best;
};
constexpr cap_name kCaps[] = {
    {"SSE41", int8_path::portable},
    {"AVX", int8_path::portable},
    {"AVX2", int8_path::avx2},
    {"AVX2_VNNI", int8_path::avx2},
    {"AVX512_MIC", int8_path::avx2},
    {"AVX512_MIC_4OPS", int8_path::avx2},
    {"AVX512_CORE", int8_path::avx512bw},
    {"AVX512_CORE_VNNI", int8_path::onednn_vnni},
    {"AVX512_CORE_BF16", int8_path::onednn_vnni},
    {"AVX512_CORE_FP16", int8_path::onednn_vnni},
    {"AVX512_CORE_AMX", int8_path::onednn_vnni},
    {"ALL", int8_path::onednn_vnni},
};

bool cpu_has(int8_path p) {
  switch (p) {
    case int8_path::portable:
      return true;
    case int8_path::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case int8_path::avx512bw:
      return __builtin_cpu_supports("avx512bw");
    case int8_path::onednn_vnni:
      return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
  }
  return false;
}

// The best path the cap allows. oneDNN ignores a value it does not know; so do we, but
// say so once, since a typo would otherwise silently test the wrong path.
int8_path cap_limit() {
  const std::string cap = cpu_isa_cap();
  if (cap.empty()) return int8_path::onednn_vnni;
  std::string upper = cap;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return char(std::toupper(c)); });
  for (const cap_name& c : kCaps) {
    if (upper == c.name) return c.best;
  }
  std::fprintf(stderr,
               "corolla: DNNL_MAX_CPU_ISA=%s is not one of oneDNN's ISA names (SSE41, AVX2, "
               "AVX512_CORE, AVX512_CORE_VNNI, ALL, ...); ignored, as oneDNN ignores it\n",
               cap.c_str());
  return int8_path::onednn_vnni;
}

}  // namespace

const char* to_string(int8_path p) {
  switch (p) {
    case int8_path::portable:
      return "portable";
    case int8_path::avx2:
      return "avx2";
    case int8_path::avx512bw:
      return "avx512bw";
    case int8_path::onednn_vnni:
      return "onednn-vnni";
  }
  return "?";
}

std::string cpu_isa_cap() {
  const char* cap = std::getenv("DNNL_MAX_CPU_ISA");
  return cap ? cap : "";
}

bool int8_path_available(int8_path p) {
  static const int8_path limit = cap_limit();
  return p <= limit && cpu_has(p);
}

std::vector<int8_path> available_int8_paths() {
  std::vector<int8_path> paths;
  for (int8_path p :
       {int8_path::portable, int8_path::avx2, int8_path::avx512bw, int8_path::onednn_vnni}) {
    if (int8_path_available(p)) paths.push_back(p);
  }
  return paths;
}

int8_path process_int8_path() {
  static const int8_path chosen = available_int8_paths().back();
  return chosen;
}

std::string int8_path_summary() {
  // __builtin_cpu_supports takes only literals.
  const bool has[] = {__builtin_cpu_supports("avx2") != 0, __builtin_cpu_supports("fma") != 0,
                      __builtin_cpu_supports("avx512bw") != 0,
                      __builtin_cpu_supports("avx512vnni") != 0};
  const char* names[] = {"avx2", "fma", "avx512bw", "avx512vnni"};
  std::string cpu;
  for (int i = 0; i < 4; ++i) {
    if (has[i]) cpu += std::string(cpu.empty() ? "" : " ") + names[i];
  }
  if (cpu.empty()) cpu = "no avx2";
  std::string text = std::string("int8 ") + to_string(process_int8_path()) + " (CPU: " + cpu;
  const std::string cap = cpu_isa_cap();
  if (!cap.empty()) text += "; cap DNNL_MAX_CPU_ISA=" + cap;
  return text + ")";
}

}  // namespace corolla
