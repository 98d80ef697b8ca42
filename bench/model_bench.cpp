// Model-layer throughput: row dequantisation per GGUF type (GB/s of encoded
// weights read) and tokenizer encoding (bytes of text per second). Load time, not
// the decode loop, is where these run; the figures say how long converting a
// 1.1B model and tokenising a long prompt take.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "model/dequantize.hpp"
#include "model/ggml_type.hpp"
#include "model/gguf_file.hpp"
#include "model/model_maker.hpp"
#include "model/tokenizer.hpp"

namespace corolla {
namespace {

// Dequantises rows of a 2048-value row type `type` from a 64 MiB buffer of random
// bytes (past the 32 MiB L3, so memory is read as in a real load).
void BM_DequantizeRow(benchmark::State& state) {
  const auto type = static_cast<ggml_type>(state.range(0));
  const auto info = *ggml_type_info_of(uint32_t(type));
  constexpr int64_t kRow = 2048;
  const int64_t row_bytes = kRow / info.block_size * info.block_bytes;
  const int64_t rows = (64 << 20) / row_bytes;
  std::vector<uint8_t> bytes(size_t(rows * row_bytes));
  std::mt19937_64 rng(1);
  for (auto& b : bytes) b = uint8_t(rng() & 0x3b);  // keeps f16 scales finite
  std::vector<float> out(kRow);
  int64_t r = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        dequantize_row(uint32_t(type), bytes.data() + r * row_bytes, out.data(), kRow));
    benchmark::ClobberMemory();
    r = (r + 1) % rows;
  }
  state.SetBytesProcessed(state.iterations() * row_bytes);
  state.SetLabel(info.name);
}
BENCHMARK(BM_DequantizeRow)
    ->Arg(int(ggml_type::f32))
    ->Arg(int(ggml_type::f16))
    ->Arg(int(ggml_type::bf16))
    ->Arg(int(ggml_type::q8_0))
    ->Arg(int(ggml_type::q4_0))
    ->Arg(int(ggml_type::q4_k))
    ->Arg(int(ggml_type::q6_k));

void BM_TokenizeSynthetic32k(benchmark::State& state) {
  auto v = make_synthetic_vocabulary(32000, 1);
  vocabulary vocab;
  vocab.tokens = v->tokens;
  vocab.scores = v->scores;
  for (int32_t t : v->types) vocab.types.push_back(static_cast<token_type>(t));
  vocab.bos = 1, vocab.eos = 2, vocab.unk = 0;
  auto tok = tokenizer::from_vocabulary(std::move(vocab));
  std::string text;
  while (text.size() < 16384) text += "Once upon a time there was a little girl named Lily. ";
  for (auto _ : state) benchmark::DoNotOptimize(tok->encode(text, true, false));
  state.SetBytesProcessed(state.iterations() * int64_t(text.size()));
}
BENCHMARK(BM_TokenizeSynthetic32k)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace corolla

BENCHMARK_MAIN();
