// Other families through a real swarm: three actor-node processes serve spans of a
// Qwen2-, a Gemma 2- and a Gemma 3-shaped model (gguf make --arch) exactly as they serve
// a Llama, and the client in this process gets the single-process greedy tokens. The
// windows are 8 keys, so the generation runs past them on every sliding layer.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using testing::Cluster;

class FamilySwarm : public Cluster, public ::testing::WithParamInterface<std::string> {
 protected:
  static std::string make(const std::string& arch) {
    const uint64_t seed = testing::test_seed(17);
    std::cout << arch << " model seed " << seed << "\n";
    maker_options m;
    m.shape = *maker_preset("tiny");
    m.shape.arch = *model_arch_named(arch);
    m.shape.n_blocks = arch == "gemma3" ? 6 : 3;
    set_family_defaults(m.shape);
    if (m.shape.sliding_window > 0) m.shape.sliding_window = 8;
    m.type = ggml_type::q8_0;
    m.seed = seed;
    const std::string path = testing::temp_path("swarm-" + arch + ".gguf");
    EXPECT_TRUE(make_model(m, path).ok());
    return path;
  }
};

TEST_P(FamilySwarm, ThreeNodesServeItsSpansWithTheSingleProcessTokens) {
  const std::string model = make(GetParam());
  const int64_t third = GetParam() == "gemma3" ? 2 : 1;
  auto span = [&](int64_t i) {
    return std::to_string(i * third) + ":" + std::to_string((i + 1) * third);
  };
  node_process a{testing::app_path("actor-node"), node_args("a", span(0), {}, model)};
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process b{testing::app_path("actor-node"), node_args("b", span(1), {a.address()}, model)};
  node_process c{testing::app_path("actor-node"), node_args("c", span(2), {a.address()}, model)};
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();
  ASSERT_TRUE(c.wait_for("serving blocks")) << c.output();

  remote_swarm& swarm = join(a, model);
  ASSERT_TRUE(wait_for_servers(swarm, 3));
  const generate_request req = testing::greedy("Once upon a time", 24);
  const auto expected = testing::single_process_tokens(model, precision::int8, req);
  const testing::answer got = ask_new_client(swarm, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
  ASSERT_EQ(got.reply.last_token.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilySwarm, ::testing::Values("qwen2", "gemma2", "gemma3"),
                         [](const auto& test) { return test.param; });

}  // namespace
}  // namespace corolla
