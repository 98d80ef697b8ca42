// A swarm of nodes on different int8 kernel paths computes one function (cpu_isa.hpp,
// invariant 1): actor-node processes under different DNNL_MAX_CPU_ISA caps, as if on
// CPUs of different generations, give the single-process greedy tokens, also when a
// session fails over from a node on one path to a node on another.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <random>

#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

class MixedCpus : public Cluster {
 protected:
  // Wide enough (dim 512) that the uncapped node of a VNNI machine runs the attention
  // projections on oneDNN (small matrices skip it), short enough to take a second.
  static void SetUpTestSuite() {
    Cluster::SetUpTestSuite();
    const uint64_t seed = testing::test_seed(13);
    std::cout << "wide model seed " << seed << "\n";
    maker_options m;
    m.shape = *maker_preset("tiny");
    m.shape.dim = 512;
    m.shape.hidden_dim = 1024;
    m.shape.n_blocks = 3;
    m.shape.n_heads = 8;
    m.shape.n_kv_heads = 4;
    m.shape.rope_dim = m.shape.head_dim();
    m.type = ggml_type::q8_0;
    m.seed = seed;
    wide_ = testing::temp_path("mixed-" + std::to_string(seed) + ".gguf");
    ASSERT_TRUE(make_model(m, wide_).ok());
  }

  // A node of the wide model on `span` under `cap` ("" for none).
  static std::unique_ptr<node_process> start(const std::string& name, const std::string& span,
                                             const std::string& cap,
                                             const std::vector<std::string>& seeds) {
    std::vector<std::string> env;
    if (!cap.empty()) env.push_back("DNNL_MAX_CPU_ISA=" + cap);
    auto node = std::make_unique<node_process>(testing::app_path("actor-node"),
                                               node_args(name, span, seeds, wide_), env);
    if (!node->wait_for("serving blocks")) ADD_FAILURE() << node->output();
    return node;
  }

  static std::string wide_;
};

std::string MixedCpus::wide_;

TEST_F(MixedCpus, ThreeNodesOnThreeKernelPathsGenerateTheSingleProcessTokens) {
  auto a = start("a", "0:1", "", {});
  auto b = start("b", "1:2", "AVX2", {a->address()});
  auto c = start("c", "2:3", "SSE41", {a->address()});
  std::cout << a->output() << b->output() << c->output();
  EXPECT_NE(c->output().find("int8 portable"), std::string::npos);
  EXPECT_EQ(b->output().find("int8 onednn"), std::string::npos);
  EXPECT_EQ(b->output().find("int8 avx512bw"), std::string::npos);

  remote_swarm& swarm = join(*a, wide_);
  ASSERT_TRUE(wait_for_servers(swarm, 3));
  const generate_request req = testing::greedy("Once upon a time", 32);
  const auto expected = testing::single_process_tokens(wide_, precision::int8, req);
  const testing::answer got = ask_new_client(swarm, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
}

TEST_F(MixedCpus, ASessionFailingOverToANodeOnAnotherPathKeepsItsTokens) {
  auto a = start("a", "0:1", "", {});
  auto b0 = start("b0", "1:3", "AVX2", {a->address()});
  auto b1 = start("b1", "1:3", "SSE41", {a->address()});
  remote_swarm& swarm = join(*a, wide_);
  ASSERT_TRUE(wait_for_servers(swarm, 3));
  const generate_request req = testing::greedy("Once upon a time", 48);
  const auto expected = testing::single_process_tokens(wide_, precision::int8, req);
  const uint64_t seed = testing::test_seed(37);
  std::cout << "fault seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  auto client = start_client(*system_, failover_client(swarm, seed));
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const std::vector<std::string> route = route_of(*client);
  ASSERT_EQ(route.size(), 2u);
  node_process& victim = route[1] == "b0" ? *b0 : *b1;
  const int at = 2 + int(rng() % 40);
  std::cout << "kill -9 " << route[1] << " after token " << at << "\n";
  const testing::answer got = ask_with_fault(*client, req, at, [&] { victim.signal(SIGKILL); });
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  EXPECT_EQ(got.reply.recoveries[0].failed_server, route[1]);
  EXPECT_EQ(got.reply.recoveries[0].replaced_by.front(), route[1] == "b0" ? "b1" : "b0");
}

}  // namespace
}  // namespace corolla
