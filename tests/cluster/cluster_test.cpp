// Cluster tests: real actor-node processes on 127.0.0.1 talking over CAF's middleman,
// and a client in this process (tests/cluster/cluster_fixture.hpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "tests/cluster/cluster_fixture.hpp"

namespace corolla {
namespace {

using namespace std::chrono_literals;

using testing::Cluster;
using testing::gossip_period;

TEST_F(Cluster, ThreeNodesAndAClientGenerateTheSingleProcessTokens) {
  three_nodes nodes;
  ASSERT_TRUE(nodes.start());
  EXPECT_TRUE(nodes.c.wait_for("joined the swarm through " + nodes.a.address()))
      << nodes.c.output();

  remote_swarm& swarm = join(nodes.b);
  EXPECT_EQ(swarm.codec(), tensor_codec::f32);
  const generate_request req = testing::greedy("Once upon a time", 24);
  const auto expected = testing::single_process_tokens(model_, precision::int8, req);
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    client_config client_cfg = swarm.client_defaults();
    client_cfg.push = push;
    const testing::answer got = ask_new_client(client_cfg, req);
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected);
    ASSERT_EQ(got.reply.last_token.size(), 3u);
    EXPECT_EQ(got.reply.last_token[0].server_name, "a");
    EXPECT_EQ(got.reply.last_token[2].server_name, "c");
  }
}

// Speculation through the swarm: every server's cache rewinds past rejected drafts
// (positions are explicit) and the greedy tokens are the single-process ones.
TEST_F(Cluster, SpeculationThroughThreeNodesKeepsTheSingleProcessTokens) {
  three_nodes nodes;
  ASSERT_TRUE(nodes.start());
  remote_swarm& swarm = join(nodes.a);
  generate_request req = testing::greedy("Once upon a time", 64);
  const auto expected = testing::single_process_tokens(model_, precision::int8, req);
  req.options.draft_tokens = 4;
  for (bool push : {false, true}) {
    SCOPED_TRACE(push ? "push" : "round trips");
    client_config client_cfg = swarm.client_defaults();
    client_cfg.push = push;
    const testing::answer got = ask_new_client(client_cfg, req);
    ASSERT_EQ(got.error, "");
    EXPECT_EQ(got.reply.stats.tokens, expected);
    EXPECT_GT(got.reply.stats.drafted, 0);
    std::cout << got.reply.stats.accepted << " of " << got.reply.stats.drafted
              << " drafts accepted, " << got.reply.stats.decode_steps << " decode steps\n";
  }
  // The model as its own draft model in the client: every draft is taken.
  client_config client_cfg = swarm.client_defaults();
  client_cfg.push = true;
  client_cfg.draft_model =
      std::make_shared<const llama_model>(testing::load_model(model_, precision::int8));
  const testing::answer got = ask_new_client(client_cfg, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);
  EXPECT_GT(got.reply.stats.drafted, 0);
  EXPECT_EQ(got.reply.stats.accepted, got.reply.stats.drafted);
  std::cout << "draft model: " << got.reply.stats.accepted << " of " << got.reply.stats.drafted
            << " drafts accepted, " << got.reply.stats.decode_steps << " decode steps\n";
}

TEST_F(Cluster, AFourthNodeAppearsInEveryTableWithinThreeGossipPeriods) {
  three_nodes nodes;
  ASSERT_TRUE(nodes.start());
  node_process d(testing::app_path("actor-node"), node_args("d", "0:5", {nodes.c.address()}));
  ASSERT_TRUE(d.wait_for("serving blocks")) << d.output();
  // The first nodes measured one block of this model and cached it; d reads the cache.
  EXPECT_TRUE(d.wait_for("prefill tokens/s (cached in ")) << d.output();
  EXPECT_NE(d.output().find("d: one block runs "), std::string::npos) << d.output();
  const auto joined = std::chrono::steady_clock::now();
  auto everywhere = [&] {
    for (node_process* n : {&nodes.a, &nodes.b, &nodes.c, &d}) {
      if (list(*n).size() != 4) return false;
    }
    return true;
  };
  while (!everywhere() && std::chrono::steady_clock::now() - joined < 20 * gossip_period) {
    std::this_thread::sleep_for(5ms);
  }
  const auto took = std::chrono::steady_clock::now() - joined;
  std::cout << "4th node in every table after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  ASSERT_TRUE(everywhere());
  EXPECT_LE(took, 3 * gossip_period);
}

TEST_F(Cluster, ANodeShuttingDownDrainsThenLeavesAndNewSessionsAvoidIt) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:2", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process b(testing::app_path("actor-node"), node_args("b", "2:5", {a.address()}));
  node_process spare(testing::app_path("actor-node"), node_args("spare", "2:5", {a.address()}));
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();
  ASSERT_TRUE(spare.wait_for("serving blocks")) << spare.output();
  remote_swarm& swarm = join(a);

  // A session held open on the spare keeps it draining until the session closes.
  caf::scoped_actor self{*system_};
  std::vector<route_hop> to_spare;
  uint64_t b_id = 0;
  for (const server_record& r : list(a)) {
    if (r.name == "b") b_id = r.server_id;
  }
  self->request(swarm.routing_table(), 5s, route_request{2, 5, {b_id}})
      .receive([&](std::vector<route_hop>& r) { to_spare = std::move(r); },
               [](const caf::error&) {});
  ASSERT_EQ(to_spare.size(), 1u);
  ASSERT_EQ(to_spare[0].server.name, "spare");
  bool opened = false;
  self->request(to_spare[0].handle, 5s,
                open_session_request{protocol_version, 77, 2, 5, 16, uint8_t(tensor_codec::f32)})
      .receive([&](const open_session_reply&) { opened = true; }, [](const caf::error&) {});
  ASSERT_TRUE(opened);

  // The spare must know b before it leaves, or it has only a to tell: b and the spare
  // join at once, and each learns of the other by gossip through a (this raced under
  // ctest -j2: "1 peers told").
  const auto known_by = std::chrono::steady_clock::now() + 5s;
  while (list(spare).size() < 3 && std::chrono::steady_clock::now() < known_by) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(list(spare).size(), 3u);

  spare.signal(SIGTERM);
  ASSERT_TRUE(spare.wait_for("draining on SIGTERM (1 sessions open)")) << spare.output();
  auto state_in = [&](const routing_table_actor& table) -> std::string {
    for (const server_record& r : list(table)) {
      if (r.name == "spare") return to_string(serving_state(r.state));
    }
    return "gone";
  };
  auto table_of_a = remote_table(*system_, "127.0.0.1", a.port());
  ASSERT_TRUE(table_of_a);
  // The spare pushes the news to its peers' tables at once; this process's client table
  // (not a peer: it publishes nothing) sees it at its next ping of the spare.
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while ((state_in(*table_of_a) != "draining" || state_in(swarm.routing_table()) != "draining") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(state_in(*table_of_a), "draining");
  EXPECT_EQ(state_in(swarm.routing_table()), "draining");
  // A new session routes around the draining node; the spare refuses one sent to it.
  for (int i = 0; i < 5; ++i) {
    std::vector<route_hop> route;
    self->request(swarm.routing_table(), 5s, route_request{0, 5, {}})
        .receive([&](std::vector<route_hop>& r) { route = std::move(r); },
                 [](const caf::error&) {});
    ASSERT_EQ(route.size(), 2u);
    EXPECT_EQ(route[1].server.name, "b");
  }
  std::string refused;
  self->request(to_spare[0].handle, 5s,
                open_session_request{protocol_version, 78, 2, 5, 16, uint8_t(tensor_codec::f32)})
      .receive([](const open_session_reply&) {},
               [&](const caf::error& e) { refused = describe(e); });
  EXPECT_NE(refused.find("draining"), std::string::npos) << refused;

  self->request(to_spare[0].handle, 5s, close_session_request{77})
      .receive([](const close_session_reply&) {}, [](const caf::error&) {});
  EXPECT_EQ(spare.wait_exit(), 0) << spare.output();
  EXPECT_NE(spare.output().find("left the swarm (2 peers told)"), std::string::npos)
      << spare.output();
  const auto gone_by = std::chrono::steady_clock::now() + 3s;
  while (state_in(*table_of_a) != "gone" && std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(state_in(*table_of_a), "gone");
}

TEST_F(Cluster, ANodeOrClientOfAnotherModelIsRefusedClearly) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:5", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process stranger(testing::app_path("actor-node"),
                        node_args("stranger", "0:5", {a.address()}, other_model_));
  EXPECT_EQ(stranger.wait_exit(), 1) << stranger.output();
  EXPECT_NE(stranger.output().find("could not join the swarm through any seed"), std::string::npos)
      << stranger.output();
  EXPECT_NE(stranger.output().find("serves model llama-5x64-"), std::string::npos)
      << stranger.output();
  EXPECT_EQ(list(a).size(), 1u);

  remote_swarm_options o;
  o.peers = {a.address()};
  o.model_path = other_model_;
  auto joined = remote_swarm::join(*system_, o);
  ASSERT_FALSE(joined.ok());
  EXPECT_NE(joined.error().message().find("protocol_mismatch: the peer serves model"),
            std::string::npos)
      << joined.error().message();
}

// The KV cache type is the servers' and part of the model id: nodes with q8_0 caches
// give the single-process q8_0 tokens, and a node with f16 caches is refused by them.
TEST_F(Cluster, NodesWithQ8CachesGenerateTheSingleProcessTokensAndRefuseAnF16Node) {
  auto q8 = [](std::vector<std::string> args) {
    args.insert(args.end(), {"--kv-type", "q8_0"});
    return args;
  };
  node_process a(testing::app_path("actor-node"), q8(node_args("a", "0:3", {})));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  node_process b(testing::app_path("actor-node"), q8(node_args("b", "3:5", {a.address()})));
  ASSERT_TRUE(b.wait_for("serving blocks")) << b.output();

  remote_swarm& swarm = join(a, model_, kv_type::q8_0);
  ASSERT_TRUE(wait_for_servers(swarm, 2));
  const generate_request req = testing::greedy("Once upon a time", 16);
  const auto expected =
      testing::single_process_tokens(model_, precision::int8, req, nullptr, kv_type::q8_0);
  ASSERT_FALSE(expected.empty());
  const testing::answer got = ask_new_client(swarm, req);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(got.reply.stats.tokens, expected);

  node_process f16(testing::app_path("actor-node"), node_args("f16", "0:5", {a.address()}));
  EXPECT_EQ(f16.wait_exit(), 1) << f16.output();
  EXPECT_NE(f16.output().find("+kvq8_0"), std::string::npos) << f16.output();
}

TEST_F(Cluster, BadConfigFilesAndUnreachableSeedsFailClearly) {
  const std::string path = testing::temp_path("cluster-bad.ini");
  testing::write_file(path, "name = x\nmodel = " + model_ + "\nport = 99999\n");
  node_process bad(testing::app_path("actor-node"), {"--config", path});
  EXPECT_EQ(bad.wait_exit(), 2);
  EXPECT_NE(bad.output().find(path + ":3: port: "), std::string::npos) << bad.output();

  testing::write_file(path, "model = " + model_ + "\nspan = 3:9\n");
  node_process outside(testing::app_path("actor-node"), {"--config", path});
  EXPECT_EQ(outside.wait_exit(), 1);
  EXPECT_NE(outside.output().find("outside the model's 5 blocks"), std::string::npos)
      << outside.output();

  node_process lonely(testing::app_path("actor-node"), node_args("lonely", "0:5", {"127.0.0.1:1"}));
  EXPECT_EQ(lonely.wait_exit(), 1);
  EXPECT_NE(lonely.output().find("127.0.0.1:1: no_route: can not reach"), std::string::npos)
      << lonely.output();
}

// apps/embedding's example, a CAF application of its own: its node serves [2, 5) of the
// swarm a serves [0, 2) of, and its client routes through both.
TEST_F(Cluster, AnApplicationEmbeddingANodeServesASpanAndGeneratesTheSingleProcessText) {
  node_process a(testing::app_path("actor-node"), node_args("a", "0:2", {}));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  const generate_request req = testing::greedy("Once upon a time", 24);
  std::string expected;
  testing::single_process_tokens(model_, precision::int8, req, &expected);
  ASSERT_FALSE(expected.empty());

  node_process app(testing::app_path("embedding/embedded-node"),
                   {"--peer=" + a.address(), "--model=" + model_, "--span=2:5", "--codec=f32",
                    "--prompt=Once upon a time", "--max-tokens=24"});
  EXPECT_EQ(app.wait_exit(), 0) << app.output();
  EXPECT_NE(app.output().find("Once upon a time" + expected), std::string::npos) << app.output();
  EXPECT_NE(app.output().find("joined through " + a.address()), std::string::npos) << app.output();
  EXPECT_NE(app.output().find("route: a [0, 2) embedded [2, 5)"), std::string::npos)
      << app.output();

  node_process wrong(testing::app_path("embedding/embedded-node"),
                     {"--peer=" + a.address(), "--model=" + model_, "--span=9:12"});
  EXPECT_EQ(wrong.wait_exit(), 1);
  EXPECT_NE(wrong.output().find("outside the model's 5 blocks"), std::string::npos)
      << wrong.output();
}

// Certificates made here with the openssl command: a CA, two nodes it signs, and a node
// signed by another CA. "dir/name.pem" and "dir/name.key"; false when openssl failed.
bool make_certificates(const std::string& dir) {
  const std::string quiet = " >/dev/null 2>&1";
  auto ca = [&](const std::string& name) {
    return testing::run_command(
               "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=" + name + " -keyout " +
               dir + "/" + name + ".key -out " + dir + "/" + name + ".pem" + quiet)
               .exit_code == 0;
  };
  auto node = [&](const std::string& name, const std::string& signer) {
    const std::string base = dir + "/" + name;
    return testing::run_command("openssl req -newkey rsa:2048 -nodes -subj /CN=" + name +
                                " -keyout " + base + ".key -out " + base + ".csr" + quiet)
                   .exit_code == 0 &&
           testing::run_command("openssl x509 -req -days 1 -in " + base + ".csr -CA " + dir + "/" +
                                signer + ".pem -CAkey " + dir + "/" + signer +
                                ".key -CAcreateserial -out " + base + ".pem" + quiet)
                   .exit_code == 0;
  };
  return ca("ca") && ca("other-ca") && node("a", "ca") && node("b", "ca") &&
         node("rogue", "other-ca");
}

TEST_F(Cluster, WithTlsOnlyNodesCertifiedByTheCaJoin) {
  const std::string dir = testing::temp_dir();
  ASSERT_TRUE(make_certificates(dir)) << "the openssl command failed";
  auto tls = [&](std::vector<std::string> args, const std::string& name) {
    args.insert(args.end(), {"--tls-cert", dir + "/" + name + ".pem", "--tls-key",
                             dir + "/" + name + ".key", "--tls-ca", dir + "/ca.pem"});
    return args;
  };
  const std::string node = testing::app_path("actor-node");
  node_process a(node, tls(node_args("a", "0:5", {}), "a"));
  ASSERT_TRUE(a.wait_for("serving blocks")) << a.output();
  EXPECT_NE(a.output().find("(TLS)"), std::string::npos) << a.output();
  node_process b(node, tls(node_args("b", "0:5", {a.address()}), "b"));
  ASSERT_TRUE(b.wait_for("joined the swarm through " + a.address())) << b.output();

  node_process rogue(node, tls(node_args("rogue", "0:5", {a.address()}), "rogue"));
  EXPECT_EQ(rogue.wait_exit(), 1) << rogue.output();
  EXPECT_NE(rogue.output().find("can not reach " + a.address()), std::string::npos)
      << rogue.output();
  node_process plain(node, node_args("plain", "0:5", {a.address()}));
  EXPECT_EQ(plain.wait_exit(), 1) << plain.output();
  EXPECT_NE(plain.output().find("can not reach " + a.address()), std::string::npos)
      << plain.output();
}

}  // namespace
}  // namespace corolla
