// The model maker: valid Llama GGUFs of any shape, the same bytes for the same
// seed, a usable synthetic vocabulary, and a copied one on request.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/dequantize.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"
#include "model/model_maker.hpp"
#include "model/tokenizer.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

std::string make(const std::string& name, maker_options m) {
  const std::string path = testing::temp_path(name);
  const status st = make_model(m, path);
  EXPECT_TRUE(st.ok()) << st.to_string();
  return path;
}

maker_options stories(ggml_type type, uint64_t seed) {
  maker_options m;
  m.shape = *maker_preset("stories260k");
  m.type = type;
  m.seed = seed;
  return m;
}

TEST(ModelMaker, SameSeedSameBytesOtherSeedOtherBytes) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const std::string a = testing::read_file(make("a.gguf", stories(ggml_type::q8_0, seed)));
  const std::string b = testing::read_file(make("b.gguf", stories(ggml_type::q8_0, seed)));
  const std::string c = testing::read_file(make("c.gguf", stories(ggml_type::q8_0, seed + 1)));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ModelMaker, WritesAValidLlamaOfThePresetShape) {
  for (ggml_type type : {ggml_type::f32, ggml_type::q8_0}) {
    auto file = gguf_file::open(make("s.gguf", stories(type, 3)));
    ASSERT_TRUE(file.ok()) << file.error().to_string();
    auto c = read_llama_config(*file);
    ASSERT_TRUE(c.ok()) << c.error().to_string();
    EXPECT_EQ(c->n_blocks, 5);
    EXPECT_EQ(c->dim, 64);
    EXPECT_EQ(c->hidden_dim, 172);
    EXPECT_EQ(c->n_kv_heads, 4);
    EXPECT_EQ(c->vocab_size, 512);
    EXPECT_TRUE(check_llama_tensors(*file, *c).ok());
    const gguf_tensor* q = file->find_tensor("blk.2.attn_q.weight");
    EXPECT_EQ(q->type, uint32_t(type));
    // ffn_down rows are 172 long, not a multiple of 32: they stay F32.
    EXPECT_EQ(file->find_tensor("blk.0.ffn_down.weight")->type, uint32_t(ggml_type::f32));
    // Weights have the documented spread: std 1/sqrt(64) = 0.125.
    std::vector<float> row(64);
    double sum2 = 0;
    for (int64_t r = 0; r < 64; ++r) {
      ASSERT_TRUE(dequantize_tensor_row(*q, r, row.data()).ok());
      for (float v : row) sum2 += double(v) * v;
    }
    EXPECT_NEAR(std::sqrt(sum2 / (64 * 64)), 0.125, 0.01);
  }
}

TEST(ModelMaker, AnyShapeAndTinyllamaPreset) {
  maker_options m;
  m.shape.dim = 96, m.shape.hidden_dim = 256, m.shape.n_blocks = 2, m.shape.n_heads = 6;
  m.shape.n_kv_heads = 2, m.shape.vocab_size = 700, m.shape.rope_freq_base = 500000.0f;
  m.shape.context_length = 4096;
  auto file = gguf_file::open(make("any.gguf", m));
  ASSERT_TRUE(file.ok());
  auto c = read_llama_config(*file);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->head_dim(), 16);
  EXPECT_EQ(c->rope_freq_base, 500000.0f);
  EXPECT_EQ(c->context_length, 4096);
  EXPECT_EQ(c->vocab_size, 700);

  auto tl = maker_preset("tinyllama-1.1b");
  ASSERT_TRUE(tl.ok());
  EXPECT_EQ(tl->dim, 2048);
  EXPECT_EQ(tl->hidden_dim, 5632);
  EXPECT_EQ(tl->n_blocks, 22);
  EXPECT_EQ(tl->n_heads, 32);
  EXPECT_EQ(tl->n_kv_heads, 4);
  EXPECT_EQ(tl->vocab_size, 32000);
  EXPECT_EQ(maker_preset("gpt-5").error().code(), status_code::not_found);
}

TEST(ModelMaker, ImpossibleShapesAreNamed) {
  maker_options m = stories(ggml_type::f32, 1);
  m.shape.n_kv_heads = 3;
  const status st = make_model(m, testing::temp_path("bad.gguf"));
  EXPECT_EQ(st.code(), status_code::invalid_argument);
  EXPECT_NE(st.message().find("kv-heads"), std::string::npos) << st.message();
  m = stories(ggml_type::f32, 1);
  m.shape.vocab_size = 100;
  EXPECT_NE(make_model(m, testing::temp_path("bad.gguf")).message().find("too small"),
            std::string::npos);
}

TEST(ModelMaker, SyntheticVocabularyTokenizesEnglishIntoWords) {
  auto file = gguf_file::open(make("v.gguf", stories(ggml_type::f32, 5)));
  ASSERT_TRUE(file.ok());
  auto tok = tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  const std::string text = "Once upon a time there was a little girl named Lily.";
  const auto ids = tok->encode(text, true, false);
  // Learned merges join characters: clearly fewer ids than characters.
  EXPECT_LT(ids.size(), text.size() * 2 / 3);
  EXPECT_EQ(tok->decode(ids, /*strip_leading_space=*/true), text);
  // "ü" has no token: it falls back to its two UTF-8 bytes.
  const auto u = tok->encode("über", false, false);
  EXPECT_NE(std::find(u.begin(), u.end(), tok->find("<0xC3>")), u.end());
  EXPECT_NE(std::find(u.begin(), u.end(), tok->find("<0xBC>")), u.end());
  EXPECT_EQ(tok->decode(u, true), "über");
}

TEST(ModelMaker, CopiesAnotherFilesVocabulary) {
  if (!testing::shared_exists("models/stories260K.gguf")) GTEST_SKIP() << "../shared is absent";
  maker_options m = stories(ggml_type::f32, 9);
  m.vocab_from = testing::shared_path("models/stories260K.gguf");
  auto made = gguf_file::open(make("copy.gguf", m));
  auto real = gguf_file::open(m.vocab_from);
  ASSERT_TRUE(made.ok() && real.ok());
  auto a = tokenizer::from_gguf(*made);
  auto b = tokenizer::from_gguf(*real);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string text = "Lily wanted to play with her ball";
  EXPECT_EQ(a->encode(text, true, false), b->encode(text, true, false));
}

}  // namespace
}  // namespace corolla
