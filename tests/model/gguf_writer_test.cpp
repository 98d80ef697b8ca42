// Writing GGUF: every metadata type (nested arrays included) and F32 / F16 / Q8_0
// tensors survive a round trip through the reader, in versions 2 and 3, and the
// byte layout follows the specification.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "model/dequantize.hpp"
#include "model/gguf_file.hpp"
#include "model/gguf_writer.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

gguf_writer sample_writer(uint32_t version, uint64_t alignment) {
  gguf_writer w(version, alignment);
  w.set("general.architecture", gguf_value::str("llama"));
  w.set("t.u8", gguf_value::of_uint(gguf_type::u8, 200));
  w.set("t.i8", gguf_value::of_int(gguf_type::i8, -100));
  w.set("t.u16", gguf_value::of_uint(gguf_type::u16, 60000));
  w.set("t.i16", gguf_value::of_int(gguf_type::i16, -30000));
  w.set("t.u32", gguf_value::u32(4000000000u));
  w.set("t.i32", gguf_value::i32(-2000000000));
  w.set("t.u64", gguf_value::of_uint(gguf_type::u64, 1ull << 40));
  w.set("t.i64", gguf_value::of_int(gguf_type::i64, -(1ll << 40)));
  w.set("t.f32", gguf_value::f32(0.25f));
  w.set("t.f64", gguf_value::of_float(gguf_type::f64, 1e-300));
  w.set("t.bool", gguf_value::of_bool(true));
  w.set("t.string", gguf_value::str("héllo"));
  w.set("t.strings", gguf_value::strings({"a", "", "ccc"}));
  w.set("t.nested",
        gguf_value::of_array(gguf_type::array, {gguf_value::i32s({1, 2}), gguf_value::i32s({3})}));
  auto fill = [](float scale) {
    return [scale](int64_t r, float* out) {
      for (int i = 0; i < 64; ++i) out[i] = scale * float(r * 64 + i - 100);
    };
  };
  EXPECT_TRUE(w.add_tensor("a.f32", {64, 3}, ggml_type::f32, fill(0.5f)).ok());
  EXPECT_TRUE(w.add_tensor("b.f16", {64, 2}, ggml_type::f16, fill(0.25f)).ok());
  EXPECT_TRUE(w.add_tensor("c.q8_0", {64, 2, 2}, ggml_type::q8_0, fill(0.01f)).ok());
  return w;
}

std::string write_bytes(const gguf_writer& w) {
  std::ostringstream out;
  EXPECT_TRUE(w.write(out).ok());
  return out.str();
}

class GgufRoundTrip : public ::testing::TestWithParam<std::pair<uint32_t, uint64_t>> {};

TEST_P(GgufRoundTrip, EveryValueTypeAndTensorTypeSurvives) {
  const auto [version, alignment] = GetParam();
  const std::string bytes = write_bytes(sample_writer(version, alignment));
  auto file = gguf_file::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  EXPECT_EQ(file->version(), version);
  EXPECT_EQ(file->alignment(), alignment);
  EXPECT_EQ(*file->get_int("t.u8"), 200);
  EXPECT_EQ(*file->get_int("t.i8"), -100);
  EXPECT_EQ(*file->get_int("t.u16"), 60000);
  EXPECT_EQ(*file->get_int("t.i16"), -30000);
  EXPECT_EQ(*file->get_int("t.u32"), 4000000000ll);
  EXPECT_EQ(*file->get_int("t.i32"), -2000000000);
  EXPECT_EQ(*file->get_int("t.u64"), 1ll << 40);
  EXPECT_EQ(*file->get_int("t.i64"), -(1ll << 40));
  EXPECT_EQ(*file->get_float("t.f32"), 0.25);
  EXPECT_EQ(*file->get_float("t.f64"), 1e-300);
  EXPECT_TRUE(*file->get_bool("t.bool"));
  EXPECT_EQ(*file->get_string("t.string"), "héllo");
  EXPECT_EQ(file->find("t.u16")->type(), gguf_type::u16);
  auto strings = file->get_array("t.strings", gguf_type::string);
  ASSERT_TRUE(strings.ok());
  ASSERT_EQ((*strings)->size(), 3u);
  EXPECT_EQ(*(**strings)[2].as_string(), "ccc");
  auto nested = file->get_array("t.nested", gguf_type::array);
  ASSERT_TRUE(nested.ok());
  ASSERT_EQ((*nested)->size(), 2u);
  EXPECT_EQ(*(**nested)[0].items()[1].as_int(), 2);
  EXPECT_EQ(*(**nested)[1].items()[0].as_int(), 3);

  ASSERT_EQ(file->tensors().size(), 3u);
  for (const auto& t : file->tensors()) {
    EXPECT_EQ((t.data - reinterpret_cast<const uint8_t*>(bytes.data())) % int64_t(alignment), 0)
        << t.name;
  }
  std::vector<float> row(64);
  const gguf_tensor* a = file->find_tensor("a.f32");
  ASSERT_TRUE(dequantize_tensor_row(*a, 2, row.data()).ok());
  EXPECT_EQ(row[5], 0.5f * float(2 * 64 + 5 - 100));
  const gguf_tensor* b = file->find_tensor("b.f16");
  ASSERT_TRUE(dequantize_tensor_row(*b, 1, row.data()).ok());
  EXPECT_EQ(row[63], 0.25f * float(64 + 63 - 100));  // exact in f16
  const gguf_tensor* c = file->find_tensor("c.q8_0");
  EXPECT_EQ(c->shape, (std::vector<int64_t>{64, 2, 2}));
  EXPECT_EQ(c->rows(), 4);
  EXPECT_EQ(c->bytes, 4u * 2u * 34u);
  ASSERT_TRUE(dequantize_tensor_row(*c, 3, row.data()).ok());
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(row[size_t(i)], 0.01f * float(3 * 64 + i - 100), 0.01f);
}

INSTANTIATE_TEST_SUITE_P(VersionsAndAlignments, GgufRoundTrip,
                         ::testing::Values(std::make_pair(3u, uint64_t{32}),
                                           std::make_pair(2u, uint64_t{32}),
                                           std::make_pair(3u, uint64_t{64})));

TEST(GgufWriter, HeaderBytesFollowTheSpecification) {
  gguf_writer w;
  w.set("k", gguf_value::u32(7));
  const std::string b = write_bytes(w);
  // magic, version 3, 0 tensors, 1 key; key "k" (u64 length 1), type u32 (4), value 7.
  const std::string expected = std::string("GGUF") + std::string("\x03\0\0\0", 4) +
                               std::string(8, '\0') + std::string("\x01\0\0\0\0\0\0\0", 8) +
                               std::string("\x01\0\0\0\0\0\0\0", 8) + "k" +
                               std::string("\x04\0\0\0", 4) + std::string("\x07\0\0\0", 4);
  ASSERT_GE(b.size(), expected.size());
  EXPECT_EQ(b.substr(0, expected.size()), expected);
  EXPECT_EQ(b.size() % 32, 0u);
}

TEST(GgufWriter, RefusesDuplicateNamesAndBadShapes) {
  gguf_writer w;
  auto zero = [](int64_t, float* out) { out[0] = 0; };
  EXPECT_TRUE(w.add_tensor("x", {32}, ggml_type::f32, zero).ok());
  EXPECT_EQ(w.add_tensor("x", {32}, ggml_type::f32, zero).code(), status_code::invalid_argument);
  EXPECT_EQ(w.add_tensor("y", {33}, ggml_type::q8_0, zero).code(), status_code::invalid_argument);
  EXPECT_EQ(w.add_tensor("z", {32}, ggml_type::q4_k, zero).code(), status_code::invalid_argument);
  EXPECT_EQ(w.add_tensor("z", {256}, ggml_type::q2_k, zero).code(), status_code::not_supported);
}

TEST(GgufWriter, WriteFileLeavesNoPartialFileOnFailure) {
  gguf_writer w;
  const status st = w.write_file(testing::temp_path("no-such-dir/x.gguf"));
  EXPECT_EQ(st.code(), status_code::io_error);
  EXPECT_NE(st.message().find("no-such-dir/x.gguf"), std::string::npos);
}

}  // namespace
}  // namespace corolla
