// Every family the model maker writes (gguf make --arch), through the real load path:
// its int8 path against its own f32 twin, prefill against decode (windows, q/k norms and
// biases included), and the features checked by hand: a sliding window's reach and
// Gemma 3's two RoPE bases. Qwen3, Gemma 3 and Mistral-style windows have no llama.cpp
// golden outputs here (../shared/golden predates them), so these are their checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/generator.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

// The tiny preset as `arch`, two blocks (Gemma 3: six, so a global layer exists), with
// a window of 6 keys where the family slides.
std::string made(const std::string& arch, ggml_type type, uint64_t seed, int64_t window = 6) {
  maker_options m;
  m.shape = *maker_preset("tiny");
  m.shape.arch = *model_arch_named(arch);
  m.shape.n_blocks = arch == "gemma3" ? 6 : 2;
  set_family_defaults(m.shape);
  m.shape.sliding_window = window;
  m.shape.rope_freq_base = 1e6f;
  m.type = type;
  m.seed = seed;
  const std::string path = testing::temp_path(arch + "-" + ggml_type_name(uint32_t(type)) + "-" +
                                              std::to_string(window) + ".gguf");
  const status st = make_model(m, path);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return path;
}

// Logits [ids, vocab] of the whole sequence as one prefill.
std::vector<float> prefill_logits(const llama_model& m, const std::vector<int32_t>& ids) {
  local_blocks blocks(m.blocks(), 256);
  std::vector<float> x(ids.size() * size_t(m.config().dim));
  EXPECT_TRUE(m.head().embed(ids.data(), int64_t(ids.size()), x.data()).ok());
  EXPECT_TRUE(blocks.forward(0, int64_t(ids.size()), x.data()).ok());
  std::vector<float> logits(ids.size() * size_t(m.config().vocab_size));
  head_workspace ws;
  m.head().logits(x.data(), int64_t(ids.size()), logits.data(), ws);
  return logits;
}

std::vector<int32_t> some_ids(const llama_model& m, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids{1};
  while (ids.size() < n) ids.push_back(int32_t(3 + rng() % uint64_t(m.config().vocab_size - 3)));
  return ids;
}

int32_t argmax(const float* row, int64_t n) {
  return int32_t(std::max_element(row, row + n) - row);
}

class MadeFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(MadeFamily, PrefillEqualsTokenByTokenDecode) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (precision kind : {precision::f32, precision::int8}) {
    const llama_model m = testing::load_model(made(GetParam(), ggml_type::q8_0, seed), kind);
    const auto ids = some_ids(m, 20, seed);  // past the window of 6
    const auto whole = prefill_logits(m, ids);
    local_blocks blocks(m.blocks(), 256);
    head_workspace ws;
    const int64_t dim = m.config().dim, vocab = m.config().vocab_size;
    std::vector<float> x(static_cast<size_t>(dim)), logits(static_cast<size_t>(vocab));
    double worst = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      ASSERT_TRUE(m.head().embed(&ids[t], 1, x.data()).ok());
      ASSERT_TRUE(blocks.forward(int64_t(t), 1, x.data()).ok());
      m.head().logits(x.data(), 1, logits.data(), ws);
      for (int64_t i = 0; i < vocab; ++i) {
        worst = std::max(
            worst, double(std::fabs(logits[size_t(i)] - whole[t * size_t(vocab) + size_t(i)])));
      }
    }
    // The same sums in another grouping (a batch's rows against one row at a time).
    EXPECT_LT(worst, 2e-3) << GetParam() << (kind == precision::f32 ? " f32" : " int8");
  }
}

TEST_P(MadeFamily, Int8TopOneAgreesWithTheF32Twin) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const std::string path = made(GetParam(), ggml_type::q8_0, seed);
  const llama_model f32 = testing::load_model(path, precision::f32);
  const llama_model int8 = testing::load_model(path, precision::int8);
  const auto ids = some_ids(f32, 64, seed);
  const auto a = prefill_logits(f32, ids), b = prefill_logits(int8, ids);
  const int64_t vocab = f32.config().vocab_size;
  int agree = 0;
  for (size_t t = 0; t < ids.size(); ++t) {
    agree += argmax(&a[t * size_t(vocab)], vocab) == argmax(&b[t * size_t(vocab)], vocab);
  }
  std::printf("%s: int8 top-1 equal to the f32 twin's on %d of %zu positions\n", GetParam().c_str(),
              agree, ids.size());
  // A broken int8 path gives ~0%; quantisation noise on random weights a few misses.
  EXPECT_GE(agree, int(0.85 * double(ids.size())));
}

INSTANTIATE_TEST_SUITE_P(Families, MadeFamily,
                         ::testing::Values("llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"),
                         [](const auto& test) { return test.param; });

// With every layer sliding over 4 keys, 2 layers reach back at most 2 * 3 positions: the
// logits at position 10 do not depend on token 1; without the window they do.
TEST(SlidingWindow, ReachIsTheWindowTimesTheLayers) {
  for (int64_t window : {4, 0}) {
    const llama_model m =
        testing::load_model(made("llama", ggml_type::f32, 5, window), precision::f32);
    auto ids = some_ids(m, 11, 5);
    const auto before = prefill_logits(m, ids);
    ids[1] = ids[1] == 7 ? 8 : 7;
    const auto after = prefill_logits(m, ids);
    const size_t vocab = size_t(m.config().vocab_size);
    const bool same =
        std::equal(before.begin() + 10 * vocab, before.end(), after.begin() + 10 * vocab);
    EXPECT_EQ(same, window > 0) << "window " << window;
    // Position 7 is within reach of position 1 (7 - 1 <= 2 * 3) either way.
    EXPECT_FALSE(std::equal(before.begin() + 7 * vocab, before.begin() + 8 * vocab,
                            after.begin() + 7 * vocab));
  }
}

// Gemma 3 rotates its sliding layers with base 10000 and no scaling, its global layers
// (every sixth) with the file's base; the windows follow the same pattern.
TEST(Gemma3, SlidingAndGlobalLayersHaveTheirOwnRopeAndWindow) {
  const llama_model m = testing::load_model(made("gemma3", ggml_type::f32, 2), precision::f32);
  ASSERT_EQ(m.blocks().size(), 6u);
  for (size_t b = 0; b < 6; ++b) {
    const bool global = b == 5;
    EXPECT_EQ(m.blocks()[b].rope_base, global ? 1e6f : 10000.0f) << b;
    EXPECT_EQ(m.blocks()[b].attention.window, global ? 0 : 6) << b;
  }
  EXPECT_TRUE(m.config().qk_norm);
  EXPECT_FLOAT_EQ(m.config().embedding_scale, std::sqrt(128.0f));
}

}  // namespace
}  // namespace corolla
