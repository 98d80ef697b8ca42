// Malformed GGUF files: each gives a status naming the file, the key or tensor or
// offset, and the problem; none crashes, hangs or allocates what the file can not hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "model/gguf_file.hpp"
#include "model/gguf_writer.hpp"
#include "model/llama_config.hpp"
#include "model/model_maker.hpp"
#include "model/tokenizer.hpp"
#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

// Builds GGUF bytes field by field, so tests can write what no writer would.
class bytes_builder {
 public:
  template <class T>
  bytes_builder& put(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  bytes_builder& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_ += s;
    return *this;
  }
  bytes_builder& header(uint32_t version, uint64_t tensors, uint64_t kvs) {
    bytes_ += "GGUF";
    return put(version).put(tensors).put(kvs);
  }
  bytes_builder& pad(size_t alignment = 32) {
    while (bytes_.size() % alignment) bytes_ += '\0';
    return *this;
  }
  bytes_builder& zeros(size_t n) {
    bytes_.append(n, '\0');
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

status parse(const std::string& bytes) {
  auto f =
      gguf_file::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "bad.gguf");
  return f.ok() ? status() : f.error();
}

void expect_error(const status& st, status_code code, std::initializer_list<const char*> words) {
  EXPECT_EQ(st.code(), code) << st.to_string();
  EXPECT_NE(st.message().find("bad.gguf"), std::string::npos) << st.message();
  for (const char* w : words) EXPECT_NE(st.message().find(w), std::string::npos) << st.message();
}

// A one-tensor file: "w" F32 [32, 2] at offset 0.
bytes_builder one_tensor(uint32_t type = 0, uint64_t ne0 = 32, uint64_t offset = 0,
                         uint32_t n_dims = 2) {
  bytes_builder b;
  b.header(3, 1, 0).str("w").put<uint32_t>(n_dims);
  b.put<uint64_t>(ne0);
  for (uint32_t d = 1; d < n_dims; ++d) b.put<uint64_t>(2);
  b.put<uint32_t>(type).put<uint64_t>(offset).pad().zeros(32 * 2 * 4);
  return b;
}

TEST(GgufValidation, WrongMagicIsNamed) {
  expect_error(parse("GGML" + std::string(28, '\0')), status_code::corruption, {"magic", "GGML"});
}

TEST(GgufValidation, UnsupportedVersionsAreNamed) {
  bytes_builder v1, v4;
  v1.header(1, 0, 0);
  v4.header(4, 0, 0);
  expect_error(parse(v1.bytes()), status_code::not_supported, {"version 1"});
  expect_error(parse(v4.bytes()), status_code::not_supported, {"version 4"});
}

TEST(GgufValidation, EveryTruncationOfAValidFileFailsCleanly) {
  gguf_writer w;
  w.set("general.architecture", gguf_value::str("llama"));
  w.set("a", gguf_value::strings({"x", "yy"}));
  ASSERT_TRUE(w.add_tensor("t", {32, 2}, ggml_type::q8_0, [](int64_t, float* o) {
                 for (int i = 0; i < 32; ++i) o[i] = float(i);
               }).ok());
  std::ostringstream out;
  ASSERT_TRUE(w.write(out).ok());
  const std::string full = out.str();
  ASSERT_TRUE(parse(full).ok());
  for (size_t n = 0; n < full.size(); ++n) {
    const status st = parse(full.substr(0, n));
    EXPECT_FALSE(st.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_NE(st.message().find("bad.gguf"), std::string::npos) << st.message();
  }
  expect_error(parse(full.substr(0, full.size() - 1)), status_code::corruption,
               {"tensor 't'", "past the end", "truncated"});
}

TEST(GgufValidation, CountsThatCanNotFitAreRefusedBeforeAllocating) {
  bytes_builder tensors, kvs, array, string;
  tensors.header(3, uint64_t(1) << 60, 0);
  expect_error(parse(tensors.bytes()), status_code::corruption, {"tensor count", "can not fit"});
  kvs.header(3, 0, uint64_t(1) << 60);
  expect_error(parse(kvs.bytes()), status_code::corruption, {"metadata count", "can not fit"});
  array.header(3, 0, 1).str("big").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(uint64_t(1)
                                                                                   << 40);
  expect_error(parse(array.bytes()), status_code::corruption, {"'big'", "array of", "can not fit"});
  string.header(3, 0, 1).str("s").put<uint32_t>(8).put<uint64_t>(uint64_t(1) << 50);
  expect_error(parse(string.bytes()), status_code::corruption, {"'s'", "string length"});
}

TEST(GgufValidation, TensorPastTheEndIsNamed) {
  expect_error(parse(one_tensor(0, 32, 4096).bytes()), status_code::corruption,
               {"tensor 'w'", "past the end"});
}

TEST(GgufValidation, BadTensorInfosAreNamed) {
  expect_error(parse(one_tensor(0, 32, 0, 5).bytes()), status_code::corruption,
               {"tensor 'w'", "5 dimensions"});
  expect_error(parse(one_tensor(0, 0).bytes()), status_code::corruption,
               {"tensor 'w'", "dimension 0"});
  expect_error(parse(one_tensor(99).bytes()), status_code::not_supported,
               {"tensor 'w'", "type 99"});
  expect_error(parse(one_tensor(8, 33).bytes()), status_code::corruption,
               {"tensor 'w'", "not a multiple", "Q8_0"});
  expect_error(parse(one_tensor(0, 32, 8).bytes()), status_code::corruption,
               {"tensor 'w'", "alignment"});
  bytes_builder huge;
  huge.header(3, 1, 0)
      .str("h")
      .put<uint32_t>(2)
      .put<uint64_t>(uint64_t(1) << 40)
      .put<uint64_t>(uint64_t(1) << 40)
      .put<uint32_t>(0)
      .put<uint64_t>(0);
  expect_error(parse(huge.bytes()), status_code::corruption, {"tensor 'h'", "63 bits"});
}

TEST(GgufValidation, DuplicatesAndBadAlignmentAreNamed) {
  bytes_builder keys, align, names;
  keys.header(3, 0, 2)
      .str("k")
      .put<uint32_t>(4)
      .put<uint32_t>(1)
      .str("k")
      .put<uint32_t>(4)
      .put<uint32_t>(2);
  expect_error(parse(keys.bytes()), status_code::corruption, {"'k'", "duplicate"});
  align.header(3, 0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(24);
  expect_error(parse(align.bytes()), status_code::corruption,
               {"general.alignment", "power of two"});
  names.header(3, 2, 0);
  for (int i = 0; i < 2; ++i)
    names.str("t").put<uint32_t>(1).put<uint64_t>(8).put<uint32_t>(0).put<uint64_t>(0);
  expect_error(parse(names.pad().zeros(64).bytes()), status_code::corruption, {"'t'", "duplicate"});
}

TEST(GgufValidation, DeeplyNestedArraysAreRefused) {
  bytes_builder b;
  b.header(3, 0, 1).str("deep").put<uint32_t>(9);
  for (int i = 0; i < 20; ++i) b.put<uint32_t>(9).put<uint64_t>(1);
  b.put<uint32_t>(4).put<uint64_t>(0);
  expect_error(parse(b.bytes()), status_code::corruption, {"'deep'", "nested"});
}

TEST(GgufValidation, MissingKeysAndUnsupportedArchitectureAreNamed) {
  gguf_writer w;
  w.set("general.architecture", gguf_value::str("llama"));
  w.set("llama.embedding_length", gguf_value::u32(64));
  std::ostringstream out;
  ASSERT_TRUE(w.write(out).ok());
  const std::string bytes = out.str();
  auto file =
      gguf_file::parse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "bad.gguf");
  ASSERT_TRUE(file.ok());
  expect_error(read_llama_config(*file).error(), status_code::not_found,
               {"llama.block_count", "missing"});

  gguf_writer g;
  g.set("general.architecture", gguf_value::str("gpt2"));
  std::ostringstream out2;
  ASSERT_TRUE(g.write(out2).ok());
  const std::string b2 = out2.str();
  auto f2 = gguf_file::parse(reinterpret_cast<const uint8_t*>(b2.data()), b2.size(), "bad.gguf");
  ASSERT_TRUE(f2.ok());
  expect_error(read_llama_config(*f2).error(), status_code::not_supported, {"'gpt2'"});
}

TEST(GgufValidation, WrongMetadataTypeIsNamed) {
  bytes_builder b;
  b.header(3, 0, 2)
      .str("general.architecture")
      .put<uint32_t>(8)
      .str("llama")
      .str("llama.block_count")
      .put<uint32_t>(8)
      .str("five");
  auto file = gguf_file::parse(reinterpret_cast<const uint8_t*>(b.bytes().data()), b.bytes().size(),
                               "bad.gguf");
  ASSERT_TRUE(file.ok());
  expect_error(read_llama_config(*file).error(), status_code::corruption,
               {"llama.block_count", "expected an integer"});
}

TEST(GgufValidation, MissingTensorOfAMadeModelIsNamed) {
  // A real model-maker file whose tensor table lacks blk.0.ffn_up: check_llama_tensors names it.
  maker_options m;
  m.shape = *maker_preset("tiny");
  m.shape.n_blocks = 1;
  const std::string path = testing::temp_path("tiny-one-block.gguf");
  ASSERT_TRUE(make_model(m, path).ok());
  auto file = gguf_file::open(path);
  ASSERT_TRUE(file.ok());
  auto config = read_llama_config(*file);
  ASSERT_TRUE(config.ok());
  config->n_blocks = 2;  // as if the header claimed a second block
  const status st = check_llama_tensors(*file, *config);
  EXPECT_EQ(st.code(), status_code::not_found);
  EXPECT_NE(st.message().find("blk.1.attn_norm.weight"), std::string::npos) << st.message();
}

// A model-maker file with `key` set (or, for a name ending in .weight/.bias, a tensor
// of `shape` added): what Corolla's llama blocks do not compute must be refused by name.
std::string variant(const std::string& name, const std::string& key, gguf_value value,
                    std::vector<int64_t> shape = {}) {
  maker_options m;
  m.shape = *maker_preset("tiny");
  m.shape.n_blocks = 1;
  const std::string plain = testing::temp_path("variant-plain.gguf");
  EXPECT_TRUE(make_model(m, plain).ok());
  return testing::rewrite_gguf(plain, name, [&](gguf_writer& out) {
    if (shape.empty()) {
      out.set(key, std::move(value));
      return;
    }
    EXPECT_TRUE(out.add_tensor(key, shape, ggml_type::f32,
                               [&](int64_t, float* row) { std::fill(row, row + shape[0], 0.0f); })
                    .ok());
  });
}

status load_check(const std::string& path) {
  auto file = gguf_file::open(path);
  if (!file.ok()) return file.error();
  auto config = read_llama_config(*file);
  if (!config.ok()) return config.error();
  return check_llama_tensors(*file, *config);
}

void expect_refused(const status& st, std::initializer_list<const char*> words) {
  EXPECT_EQ(st.code(), status_code::not_supported) << st.to_string();
  for (const char* w : words) EXPECT_NE(st.message().find(w), std::string::npos) << st.message();
}

TEST(GgufValidation, WhatTheBlocksDoNotComputeIsRefusedByName) {
  expect_refused(load_check(variant("moe.gguf", "llama.expert_count", gguf_value::u32(8))),
                 {"mixture of experts", "llama.expert_count = 8"});
  expect_refused(
      load_check(variant("yarn.gguf", "llama.rope.scaling.type", gguf_value::of_string("yarn"))),
      {"RoPE scaling 'yarn'"});
  const status freqs = load_check(variant("freqs.gguf", "rope_freqs.weight", {}, {4}));
  EXPECT_EQ(freqs.code(), status_code::corruption) << freqs.message();
  EXPECT_NE(freqs.message().find("rope_freqs.weight must be 16 F32 values"), std::string::npos)
      << freqs.message();
  const int64_t dim = maker_preset("tiny")->dim;
  // Biases are computed (qwen2 has them; llama.cpp adds them to llama files too), but
  // must have their projection's shape.
  EXPECT_TRUE(load_check(variant("bias.gguf", "blk.0.attn_q.bias", {}, {dim})).ok());
  const status bias = load_check(variant("bias-short.gguf", "blk.0.attn_q.bias", {}, {dim / 2}));
  EXPECT_EQ(bias.code(), status_code::corruption) << bias.message();
  EXPECT_NE(bias.message().find("blk.0.attn_q.bias"), std::string::npos) << bias.message();
  expect_refused(load_check(variant("qwen2moe.gguf", "general.architecture",
                                    gguf_value::of_string("qwen2moe"))),
                 {"'qwen2moe' is a mixture of experts"});
  expect_refused(
      load_check(variant("wide-head.gguf", "llama.attention.key_length", gguf_value::u32(2048))),
      {"head dimension 2048 is above 1024"});
  expect_refused(
      load_check(variant("mamba.gguf", "general.architecture", gguf_value::of_string("mamba"))),
      {"architecture 'mamba' is not supported", "qwen2"});
  EXPECT_TRUE(
      load_check(variant("none.gguf", "llama.rope.scaling.type", gguf_value::of_string("none")))
          .ok());
}

// rand-qwen2 with tokenizer.ggml.pre set to `pre`, or without the key when empty.
std::string with_pre(const std::string& name, const std::string& pre) {
  return testing::rewrite_gguf(testing::shared_path("models/rand-qwen2.gguf"), name,
                               [&](gguf_writer& out) {
                                 out.erase("tokenizer.ggml.pre");
                                 if (!pre.empty()) {
                                   out.set("tokenizer.ggml.pre", gguf_value::of_string(pre));
                                 }
                               });
}

status tokenizer_check(const std::string& path) {
  auto file = gguf_file::open(path);
  if (!file.ok()) return file.error();
  auto tok = tokenizer::from_gguf(*file);
  return tok.ok() ? status() : tok.error();
}

TEST(GgufValidation, AnUnknownOrMissingPreTokenizerIsRefusedByName) {
  if (!testing::shared_exists("models/rand-qwen2.gguf")) {
    GTEST_SKIP() << "../shared/models/rand-qwen2.gguf absent";
  }
  expect_refused(tokenizer_check(with_pre("pre-tekken.gguf", "tekken")),
                 {"tokenizer.ggml.pre 'tekken'", "llama-bpe", "qwen2", "deepseek-r1-qwen"});
  expect_refused(tokenizer_check(with_pre("pre-missing.gguf", "")),
                 {"tokenizer.ggml.pre is missing"});
  for (const char* known : {"qwen2", "deepseek-r1-qwen", "llama-bpe", "smollm", "gpt-2"}) {
    EXPECT_TRUE(tokenizer_check(with_pre(std::string("pre-") + known + ".gguf", known)).ok())
        << known;
  }
}

TEST(GgufValidation, OpenNamesMissingAndEmptyFiles) {
  const auto missing = gguf_file::open(testing::temp_path("nope.gguf"));
  EXPECT_EQ(missing.error().code(), status_code::io_error);
  EXPECT_NE(missing.error().message().find("nope.gguf"), std::string::npos);
  const std::string empty = testing::temp_path("empty.gguf");
  testing::write_file(empty, "");
  const auto e = gguf_file::open(empty);
  EXPECT_EQ(e.error().code(), status_code::corruption);
  EXPECT_NE(e.error().message().find("empty"), std::string::npos);
}

}  // namespace
}  // namespace corolla
