// Reading real GGUF files: stories260K's header, metadata, hyper-parameters and tensors.
#include <gtest/gtest.h>

#include "model/dequantize.hpp"
#include "model/gguf_file.hpp"
#include "model/llama_config.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

const char kModel[] = "models/stories260K.gguf";

TEST(GgufFile, ReadsStories260KHeaderAndHyperParameters) {
  if (!testing::shared_exists(kModel)) GTEST_SKIP() << "../shared/" << kModel << " is absent";
  auto file = gguf_file::open(testing::shared_path(kModel));
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->tensors().size(), 48u);
  EXPECT_EQ(file->metadata().size(), 19u);
  EXPECT_EQ(file->alignment(), 32u);

  auto config = read_llama_config(*file);
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_EQ(config->n_blocks, 5);
  EXPECT_EQ(config->dim, 64);
  EXPECT_EQ(config->hidden_dim, 172);
  EXPECT_EQ(config->n_heads, 8);
  EXPECT_EQ(config->n_kv_heads, 4);
  EXPECT_EQ(config->rope_dim, 8);
  EXPECT_FLOAT_EQ(config->rope_freq_base, 10000.0f);
  EXPECT_FLOAT_EQ(config->rms_eps, 1e-5f);
  EXPECT_EQ(config->context_length, 2048);
  EXPECT_EQ(config->vocab_size, 512);
  EXPECT_TRUE(check_llama_tensors(*file, *config).ok());

  const gguf_tensor* q = file->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(q->type, uint32_t(ggml_type::f32));
  EXPECT_EQ(q->bytes, 64u * 64u * 4u);
  EXPECT_EQ((q->data - file->find_tensor("token_embd.weight")->data) % 32, 0);
  std::vector<float> row(64);
  ASSERT_TRUE(dequantize_tensor_row(*q, 63, row.data()).ok());
}

}  // namespace
}  // namespace corolla
