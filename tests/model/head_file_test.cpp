// Head files: what `corolla gguf head` writes is the model's head byte for byte, with the
// model's fingerprint, and refuses to be served.
#include "model/head_file.hpp"

#include <gtest/gtest.h>

#include "model/llama_model.hpp"
#include "model/model_id.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

TEST(HeadFile, HasTheModelsFingerprintAndGivesTheSameLogits) {
  const std::string model = testing::temp_path("head-src.gguf");
  const std::string head_path = testing::temp_path("head.gguf");
  ASSERT_TRUE(make_preset_model("stories260k", ggml_type::q8_0, 3, model).ok());
  ASSERT_TRUE(write_head_file(model, head_path).ok());
  EXPECT_EQ(*model_fingerprint(head_path), *model_fingerprint(model));
  auto head_file = gguf_file::open(head_path);
  ASSERT_TRUE(head_file.ok());
  EXPECT_TRUE(is_head_file(*head_file));
  EXPECT_LT(head_file->file_size(), gguf_file::open(model)->file_size() / 2);

  model_options head_only;
  head_only.end_block = 0;
  auto whole = llama_model::load(model, head_only);
  auto head = llama_model::load(head_path, head_only);
  ASSERT_TRUE(whole.ok() && head.ok()) << head.error().message();
  const int64_t dim = whole->config().dim, vocab = whole->config().vocab_size;
  const int32_t tokens[] = {1, 42, 300};
  std::vector<float> xa(3 * dim), xb(3 * dim);
  ASSERT_TRUE(whole->head().embed(tokens, 3, xa.data()).ok());
  ASSERT_TRUE(head->head().embed(tokens, 3, xb.data()).ok());
  EXPECT_EQ(xa, xb);
  std::vector<float> la(3 * vocab), lb(3 * vocab);
  head_workspace wa, wb;
  whole->head().logits(xa.data(), 3, la.data(), wa);
  head->head().logits(xb.data(), 3, lb.data(), wb);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(head->tokenizer().encode("Once upon a time", true, false),
            whole->tokenizer().encode("Once upon a time", true, false));

  auto served = llama_model::load(head_path, model_options{});
  ASSERT_FALSE(served.ok());
  EXPECT_NE(served.error().message().find("head file"), std::string::npos);
  EXPECT_FALSE(write_head_file(head_path, testing::temp_path("head2.gguf")).ok());
}

}  // namespace
}  // namespace corolla
