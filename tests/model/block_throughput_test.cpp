// block_throughput: a real block measured, and the on-disk cache: found again by a new
// reader, keyed by what the figure depends on, and a damaged file refused by name.
#include "model/block_throughput.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "kernels/cpu_isa.hpp"
#include "model/llama_model.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

class BlockThroughput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testing::temp_path("throughput-tiny.gguf");
    ASSERT_TRUE(make_preset_model("tiny", ggml_type::q8_0, 3, path).ok());
    auto loaded = llama_model::load(path, model_options{});
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    model_ = new llama_model(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static llama_model* model_;
};

llama_model* BlockThroughput::model_ = nullptr;

TEST_F(BlockThroughput, AMeasuredBlockRunsDecodeStepsAndPrefillTokens) {
  auto t = measure_block(model_->blocks()[0], 8);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_GT(t->decode_steps_per_s, 0);
  EXPECT_GT(t->prefill_tokens_per_s, 0);
  const std::string key = throughput_key(model_->blocks()[0], 2);
  const std::string shape = "dim 128, hidden 384, heads 4/2, int8 ";
  EXPECT_NE(key.find(shape + to_string(process_int8_path()) + " | "), std::string::npos) << key;
  EXPECT_NE(key.find(" | 2 threads"), std::string::npos) << key;
}

TEST_F(BlockThroughput, TheCacheKeepsAMeasurementAcrossReaders) {
  const std::string path = testing::temp_path("throughput-cache/throughput.json");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  auto cache = throughput_cache::open(path);
  ASSERT_TRUE(cache.ok()) << cache.error().message();  // absent: empty
  const block_weights& block = model_->blocks()[0];
  auto first = cached_block_throughput(block, 2, *cache);
  ASSERT_TRUE(first.ok()) << first.error().message();

  auto again = throughput_cache::open(path);
  ASSERT_TRUE(again.ok()) << again.error().message();
  const auto found = again->find(throughput_key(block, 2));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->decode_steps_per_s, first->decode_steps_per_s);
  EXPECT_FALSE(again->find(throughput_key(block, 1)));  // other thread counts measure anew
  auto cached = cached_block_throughput(block, 2, *again);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->prefill_tokens_per_s, first->prefill_tokens_per_s);  // not measured again

  testing::write_file(path, "{\"measurements\": [1, 2");
  auto damaged = throughput_cache::open(path);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(damaged.error().message().find(path + ": not a throughput cache"), std::string::npos)
      << damaged.error().message();
}

}  // namespace
}  // namespace corolla
