// cpu_isa: which int8 kernel path this process runs, decided once from what the CPU has
// and from DNNL_MAX_CPU_ISA (oneDNN's own cap, which caps Corolla's choice as well).
//
// Paths, best first (../shared/PLATFORM.md has the measurements behind the order):
//   onednn_vnni  oneDNN's brg:avx512_core_vnni: AVX-512 VNNI adds u8 x s8 products in
//                int32, exact and at memory speed. Needs avx512_vnni and a cap of at
//                least AVX512_CORE_VNNI.
//   avx512bw     Corolla's kernel: AVX-512BW without VNNI (Skylake-X to Cascade Lake
//                with VNNI capped). Cap AVX512_CORE.
//   avx2         Corolla's kernel: AVX2 + FMA (Haswell on, AMD Zen 1-3). Cap AVX2.
//   portable     Corolla's kernel in plain C++ at the build's baseline (SSE4.2): any x86-64.
// Invariants:
//  1. Every path computes the exact int32 sums of the same int8 products and the same f32
//     epilogue, so the outputs of all paths are bitwise equal for the same inputs.
//  2. The process path never changes once chosen; matrices may still be built for any
//     available path (tests compare them).
//  3. A path is available only if the CPU has it and the cap allows it.
// Thread-safe: the first call decides, later calls read.
#pragma once

#include <string>
#include <vector>

namespace corolla {

enum class int8_path { portable, avx2, avx512bw, onednn_vnni };

// "portable", "avx2", "avx512bw", "onednn-vnni".
const char* to_string(int8_path p);

// The best available path; what int8_matrix::quantize uses by default.
int8_path process_int8_path();

bool int8_path_available(int8_path p);

// Every available path, worst first.
std::vector<int8_path> available_int8_paths();

// The cap as the user gave it ("" when DNNL_MAX_CPU_ISA is unset), and a one-line
// description of the process's choice for logs and stats lines, e.g.
// "int8 avx2 (CPU: avx2 fma; cap DNNL_MAX_CPU_ISA=AVX2)".
std::string cpu_isa_cap();
std::string int8_path_summary();

}  // namespace corolla
