// The node side of head transfer: the head is cut once into the cache, chunks are bounded
// and checked against the offered size.
#include "actors/head_transfer.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include "model/model_id.hpp"
#include "model/model_maker.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

TEST(HeadTransfer, OffersTheHeadInBoundedChunksThatRebuildIt) {
  const std::string model = testing::temp_path("transfer-model.gguf");
  ASSERT_TRUE(make_preset_model("stories260k", ggml_type::q8_0, 9, model).ok());
  const std::string id = *model_fingerprint(model);
  const std::string cache = testing::temp_path("heads");
  auto offer = prepare_head(model, id, cache);
  ASSERT_TRUE(offer.ok()) << offer.error().message();
  EXPECT_EQ(*model_fingerprint(offer->path), id);
  EXPECT_EQ(offer->bytes, std::filesystem::file_size(offer->path));
  const auto written = std::filesystem::last_write_time(offer->path);
  auto again = prepare_head(model, id, cache);  // cut once
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(std::filesystem::last_write_time(again->path), written);
  EXPECT_EQ(again->checksum, offer->checksum);

  auto about = read_head_chunk(*offer, 0, 0);
  ASSERT_TRUE(about.ok());
  EXPECT_TRUE(about->data.empty());
  EXPECT_EQ(about->total_bytes, offer->bytes);
  std::string rebuilt;
  for (uint64_t at = 0; at < offer->bytes;) {
    auto c = read_head_chunk(*offer, at, 100000);
    ASSERT_TRUE(c.ok());
    ASSERT_LE(c->data.size(), 100000u);
    rebuilt += c->data;
    at += c->data.size();
  }
  EXPECT_EQ(rebuilt, testing::read_file(offer->path));
  EXPECT_FALSE(read_head_chunk(*offer, offer->bytes, 10).ok());
  auto huge = read_head_chunk(*offer, 0, uint64_t(1) << 40);
  ASSERT_TRUE(huge.ok());
  EXPECT_LE(huge->data.size(), max_head_chunk_bytes);
}

}  // namespace
}  // namespace corolla
