// Links slower than loopback: a join through a relay that holds every byte back 300 ms
// each way (bench/tcp_relay.hpp), and 64 clients joining one node at once. Both once
// failed in CAF 0.17's first heartbeat tick (actors/connection_admission.hpp).
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/tcp_relay.hpp"
#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

class Links : public Cluster {};

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
  // b's port must be known before it starts.
  const uint16_t b_port = free_loopback_port();
  ASSERT_NE(b_port, 0);
  tcp_relay link(b_port);
  link.set_link({20ms});
  std::vector<std::string> args = node_args("b", "3:5", {a.address()});
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--port") args[i + 1] = std::to_string(b_port);
  }
  args.insert(args.end(), {"--advertise", link.address()});
  node_process b(testing::app_path("actor-node"), args);
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();
  EXPECT_TRUE(b.wait_for("advertised as " + link.address())) << b.output();

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
