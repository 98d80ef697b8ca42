// Links slower than loopback: a join through a relay that holds every byte back 300 ms
// each way (bench/tcp_relay.hpp), and 64 clients joining one node at once. Both once
// failed in CAF 0.17's first heartbeat tick (actors/connection_admission.hpp).
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "bench/tcp_relay.hpp"
#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

class Links : public Cluster {
 protected:
  // A node listening on a port of its own and advertising `link`'s address, so that the
  // swarm reaches it only through the relay (the port must be known before it starts).
  struct relayed_node {
    std::unique_ptr<tcp_relay> link;
    std::unique_ptr<node_process> node;
  };
  relayed_node start_relayed(const std::string& name, const std::string& span,
                             const std::vector<std::string>& seeds, const link_shape& shape) {
    relayed_node r;
    const uint16_t port = free_loopback_port();
    EXPECT_NE(port, 0);
    r.link = std::make_unique<tcp_relay>(port);
    r.link->set_link(shape);
    std::vector<std::string> args = node_args(name, span, seeds);
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--port") args[i + 1] = std::to_string(port);
    }
    args.insert(args.end(), {"--advertise", r.link->address()});
    r.node = std::make_unique<node_process>(testing::app_path("actor-node"), args);
    EXPECT_TRUE(r.node->wait_for("serving blocks")) << r.node->output();
    EXPECT_TRUE(r.node->wait_for("advertised as " + r.link->address())) << r.node->output();
    return r;
  }
};

// The relay's link against a plain TCP sink: a byte takes the one-way latency, a
// megabyte its size over the bandwidth, and jitter never reorders bytes.
TEST(LinkRelay, DelaysThrottlesAndKeepsOrder) {
  uint16_t sink_port = 0;
  const int listener = listen_loopback(sink_port);
  ASSERT_GE(listener, 0);
  tcp_relay relay(sink_port);
  link_shape shape;
  shape.latency = 10ms;
  shape.jitter = 5ms;
  shape.mbps = 16;
  relay.set_link(shape);
  const int out = connect_loopback(relay.port());
  ASSERT_GE(out, 0);
  const int in = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(in, 0);
  using clock = std::chrono::steady_clock;
  const auto receive = [&](size_t bytes) {
    std::string got;
    char buf[65536];
    while (got.size() < bytes) {
      const ssize_t n = ::recv(in, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    return got;
  };

  auto t0 = clock::now();
  ASSERT_EQ(::send(out, "x", 1, 0), 1);
  EXPECT_EQ(receive(1), "x");
  const double one_byte_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  EXPECT_GE(one_byte_ms, 10.0);
  EXPECT_LT(one_byte_ms, 100.0);

  // 512 KiB in 4 KiB numbered pieces: 262 ms at 16 Mbit/s, in order whatever the jitter.
  std::string sent;
  for (int i = 0; sent.size() < (512u << 10); ++i) {
    std::string piece(4096, char('a' + i % 26));
    std::memcpy(piece.data(), &i, sizeof i);
    sent += piece;
  }
  t0 = clock::now();
  std::thread writer([&] {
    for (size_t at = 0; at < sent.size();) {
      const ssize_t n = ::send(out, sent.data() + at, std::min<size_t>(4096, sent.size() - at), 0);
      if (n <= 0) break;
      at += size_t(n);
    }
  });
  const std::string got = receive(sent.size());
  const double bulk_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  writer.join();
  EXPECT_TRUE(got == sent) << "bytes reordered or lost";
  EXPECT_GE(bulk_ms, 262.0 * 0.95) << "the bandwidth cap";
  std::cout << "one byte " << one_byte_ms << " ms, 512 KiB " << bulk_ms << " ms\n";
  ::close(out);
  ::close(in);
  ::close(listener);
}

// b joins a's swarm through a 300 ms one-way link, and so does this process's client:
// both see the whole swarm and the client's answer is the single-process one.
TEST_F(Links, NodesAndClientsJoinOverA300MsOneWayLink) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:3", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  tcp_relay far(a.port());
  far.set_link({300ms});
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

// b listens on one port and advertises a relay's, 20 ms away each way: the swarm reaches
// b only through the relay, and the client's route shows the link's round trip.
TEST_F(Links, ANodeAdvertisingARelayIsReachedThroughIt) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:3", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  const relayed_node b = start_relayed("b", "3:5", {a.address()}, {20ms});
  const tcp_relay& link = *b.link;

  remote_swarm& swarm = join(a);
  ASSERT_TRUE(wait_for_servers(swarm, 2));
  for (const server_record& r : list(swarm.routing_table())) {
    if (r.name == "b") {
      EXPECT_EQ(r.host + ":" + std::to_string(r.port), link.address());
    }
  }
  const generate_request req = testing::greedy("Once upon a time", 4);
  const testing::answer got = ask_new_client(swarm, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, testing::single_process_tokens(model_, precision::int8, req));
  bool saw_b = false;
  for (const hop_timing& h : got.reply.mean_token) {
    std::cout << h.server_name << ": " << h.compute_ms << " ms compute, " << h.transfer_ms
              << " ms transfer a step\n";
    if (h.server_name != "b") continue;
    saw_b = true;
    EXPECT_GE(h.transfer_ms, 40.0);  // two trips over the link
  }
  EXPECT_TRUE(saw_b);
}

// A replacement server is replayed what the session cached in steps of a chunk each: over
// a link whose bytes take several step timeouts, a 2030-token replay completes and changes
// no token. (f32 hidden states of this 64-wide model over 1 Mbit/s: 0.5 MiB in 4.2 s, four
// step timeouts; TinyLlama's over 10 Mbit/s are 8 MiB in 6.7 s.)
TEST_F(Links, AReplayLongerThanTheStepTimeoutOverASlowLinkCompletesAndChangesNoToken) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:5", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  remote_swarm& swarm = join(a);
  ASSERT_TRUE(wait_for_servers(swarm, 1));
  const uint64_t seed = testing::test_seed(41);
  std::cout << "prompt seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  generate_request first = testing::greedy("", 1);
  for (int i = 0; i < 2030; ++i) first.tokens.push_back(int32_t(3 + rng() % 500));
  client_config c = failover_client(swarm, seed);
  c.codec = tensor_codec::f32;
  c.step_timeout = 1s;
  c.prefill_chunk = 64;
  auto client = start_client(*system_, c);
  ASSERT_TRUE(client.ok()) << client.error().message();
  client_handle owner(*client);
  const testing::answer one = testing::ask(*system_, *client, first);
  ASSERT_EQ(one.error, "");
  ASSERT_EQ(one.reply.stats.tokens.size(), 1u);
  // The next turn continues the session's cache: the prompt, its answer, five more.
  generate_request next = testing::greedy("", 8);
  next.tokens = first.tokens;
  next.tokens.push_back(one.reply.stats.tokens[0]);
  for (int i = 0; i < 5; ++i) next.tokens.push_back(int32_t(3 + rng() % 500));
  const auto expected = testing::single_process_tokens(model_, precision::int8, next);

  link_shape slow;
  slow.latency = 5ms;
  slow.mbps = 1;
  const relayed_node b = start_relayed("b", "0:5", {a.address()}, slow);
  ASSERT_TRUE(wait_for_servers(swarm, 2));
  a.signal(SIGKILL);
  const testing::answer got = testing::ask(*system_, *client, next, std::chrono::seconds(60));
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
  ASSERT_EQ(got.reply.recoveries.size(), 1u);
  const recovery_report& r = got.reply.recoveries[0];
  EXPECT_EQ(r.failed_server, "a");
  EXPECT_EQ(r.replaced_by, std::vector<std::string>{"b"});
  EXPECT_EQ(r.replayed_tokens, 2030);
  std::cout << "replayed " << r.replayed_tokens << " tokens over 1 Mbit/s in " << r.replay_ms
            << " ms (step timeout 1000 ms)\n";
  EXPECT_GT(r.replay_ms, 1000.0) << "the replay's bytes must outlast one step timeout";
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
