// Links slower than loopback: a join through a relay that holds every byte back 300 ms
// each way (bench/tcp_relay.hpp), and 64 clients joining one node at once. Both once
// failed in CAF 0.17's first heartbeat tick (actors/connection_admission.hpp).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bench/tcp_relay.hpp"
#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

class Links : public Cluster {};

// b joins a's swarm through a 300 ms one-way link, and so does this process's client:
// both see the whole swarm and the client's answer is the single-process one.
TEST_F(Links, NodesAndClientsJoinOverA300MsOneWayLink) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:3", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  tcp_relay far(a.port());
  far.set_one_way_latency(300ms);
  const auto started = std::chrono::steady_clock::now();
  node_process b(testing::app_path("actor-node"), node_args("b", "3:5", {far.address()}));
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();
  ASSERT_TRUE(b.wait_for("joined the swarm through " + far.address())) << b.output();
  std::cout << "b joined over the link in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";

  remote_swarm& swarm = join(far.address());
  ASSERT_TRUE(wait_for_servers(swarm, 2));
  const generate_request req = testing::greedy("Once upon a time", 3);
  const testing::answer got = ask_new_client(swarm, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, testing::single_process_tokens(model_, precision::int8, req));
}

// 64 actor-chat processes started at once against one healthy node: every one joins and
// answers.
TEST_F(Links, SixtyFourClientsStartedAtOnceAllJoinAndAnswer) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:5", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  const std::string dir = testing::temp_path("clients");
  const auto made = testing::run_command("mkdir -p " + dir);
  ASSERT_EQ(made.exit_code, 0);
  const std::string chat = testing::app_path("actor-chat") + " --peer " + a.address() +
                           " --model " + model_ + " --max-tokens 2 --temperature 0";
  const auto ran =
      testing::run_command("cd " + dir + " && for i in $(seq 64); do (echo 'Once upon a time' | " +
                           chat + " > out.$i 2>&1; echo $? > rc.$i) & done; wait");
  ASSERT_EQ(ran.exit_code, 0) << ran.output;
  int answered = 0;
  std::string failures;
  for (int i = 1; i <= 64; ++i) {
    std::ifstream rc(dir + "/rc." + std::to_string(i)), out(dir + "/out." + std::to_string(i));
    std::stringstream text;
    text << out.rdbuf();
    int code = -1;
    rc >> code;
    if (code == 0 && text.str().find("tokens/s") != std::string::npos) {
      ++answered;
    } else if (failures.size() < 4000) {
      failures += "client " + std::to_string(i) + " (exit " + std::to_string(code) + "):\n" +
                  text.str() + "\n";
    }
  }
  EXPECT_EQ(answered, 64) << failures;
}

}  // namespace
}  // namespace corolla
