// The cluster tests' fixture: a model made for the suite (and one of another seed), an
// actor system configured like a node's in this process, and real actor-node
// processes on 127.0.0.1 (ports chosen by the system) with short gossip and heartbeat
// periods, so that every test takes seconds.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/node_network.hpp"
#include "actors/remote_swarm.hpp"
#include "bench/node_process.hpp"
#include "messages/caf_types.hpp"
#include "model/model_maker.hpp"
#include "tests/actors/swarm_fixture.hpp"
#include "tests/support/test_support.hpp"

namespace corolla::testing {

using namespace std::chrono_literals;

constexpr auto gossip_period = 100ms;

class Cluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const uint64_t seed = test_seed(11);
    std::cout << "model seed " << seed << "\n";
    model_ = temp_path("cluster-" + std::to_string(seed) + ".gguf");
    other_model_ = temp_path("cluster-other-" + std::to_string(seed) + ".gguf");
    ASSERT_TRUE(make_preset_model("stories260k", ggml_type::q8_0, seed, model_).ok());
    ASSERT_TRUE(make_preset_model("stories260k", ggml_type::q8_0, seed + 1, other_model_).ok());
  }

  void SetUp() override {
    cfg_ = std::make_unique<node_config>();
    network_options network;
    network.connection_timeout = 1000ms;
    enable_network(*cfg_, network);
    system_ = std::make_unique<caf::actor_system>(*cfg_);
  }
  void TearDown() override {
    swarm_.reset();
    system_.reset();
  }

  static std::vector<std::string> node_args(const std::string& name, const std::string& span,
                                            const std::vector<std::string>& seeds,
                                            const std::string& model = model_) {
    std::vector<std::string> args{"--name",
                                  name,
                                  "--model",
                                  model,
                                  "--span",
                                  span,
                                  "--port",
                                  "0",
                                  "--threads",
                                  "1",
                                  "--codec",
                                  "f32",
                                  "--gossip-period-ms",
                                  std::to_string(gossip_period.count()),
                                  "--record-ttl-ms",
                                  "2000",
                                  "--heartbeat-interval-ms",
                                  "100",
                                  "--heartbeat-timeout-ms",
                                  "1000",
                                  "--drain-timeout-ms",
                                  "5000",
                                  "--throughput-cache",
                                  temp_path("throughput.json")};
    for (const std::string& s : seeds) args.insert(args.end(), {"--seed", s});
    return args;
  }

  // The records a routing table holds (none when it does not answer).
  std::vector<server_record> list(const routing_table_actor& table) {
    caf::scoped_actor self{*system_};
    std::vector<server_record> out;
    self->request(table, 5s, list_atom::value)
        .receive([&](std::vector<server_record>& records) { out = std::move(records); },
                 [](const caf::error&) {});
    return out;
  }

  // The same for a node's table, asked over the network.
  std::vector<server_record> list(node_process& node) {
    auto table = remote_table(*system_, "127.0.0.1", node.port());
    return table ? list(*table) : std::vector<server_record>{};
  }

  // This process as a client of the swarm through `peer`.
  remote_swarm& join(node_process& peer, const std::string& model = model_,
                     kv_type kv = kv_type::f16) {
    return join(peer.address(), model, kv);
  }

  // The same through any HOST:PORT that reaches a node (a relay, say).
  remote_swarm& join(const std::string& address, const std::string& model = model_,
                     kv_type kv = kv_type::f16) {
    remote_swarm_options o;
    o.peers = {address};
    o.model_path = model;
    o.servers_kv = kv;
    o.gossip_period = gossip_period;
    o.record_ttl = 2000ms;
    auto joined = remote_swarm::join(*system_, o);
    EXPECT_TRUE(joined.ok()) << joined.error().message();
    swarm_ = std::make_unique<remote_swarm>(std::move(*joined));
    return *swarm_;
  }

  // Waits until this process's table lists `n` servers (their connections made).
  bool wait_for_servers(remote_swarm& swarm, size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (list(swarm.routing_table()).size() == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  // The route's hop names, as the client sees them.
  std::vector<std::string> route_of(const caf::actor& client) {
    caf::scoped_actor self{*system_};
    std::vector<std::string> names;
    self->request(client, 5s, route_atom::value)
        .receive(
            [&](const std::vector<hop_timing>& hops) {
              for (const hop_timing& h : hops) names.push_back(h.server_name);
            },
            [](const caf::error&) {});
    return names;
  }

  // A fresh client of `swarm` asked for `req` (greedy): its answer, which the caller
  // compares with single_process_tokens.
  answer ask_new_client(remote_swarm& swarm, const generate_request& req) {
    return ask_new_client(swarm.client_defaults(), req);
  }
  // The same with a client configured so.
  answer ask_new_client(const client_config& cfg, const generate_request& req) {
    auto client = start_client(*system_, cfg);
    if (!client.ok()) return answer{"", {}, client.error().message()};
    client_handle owner(*client);
    return ask(*system_, *client, req);
  }

  // Asks `client` for `req`; after `after_chunks` pieces of text, runs `fault`.
  answer ask_with_fault(const caf::actor& client, const generate_request& req, int after_chunks,
                        const std::function<void()>& fault) {
    return ask(*system_, client, req, std::chrono::seconds(30), [&](int chunks) {
      if (chunks == after_chunks) fault();
    });
  }

  client_config failover_client(remote_swarm& swarm, uint64_t session_id) {
    client_config c = swarm.client_defaults();
    c.push = true;
    c.session_id = session_id;
    c.step_timeout = 10s;  // longer than heartbeat detection: the heartbeat finds hung nodes
    return c;
  }

  // a [0, 2), b [2, 4), c [4, 5); b and c join through a.
  struct three_nodes {
    node_process a{app_path("actor-node"), node_args("a", "0:2", {})};
    node_process b{app_path("actor-node"), node_args("b", "2:4", {a.address()})};
    node_process c{app_path("actor-node"), node_args("c", "4:5", {a.address()})};
    bool start() {
      for (node_process* n : {&a, &b, &c}) {
        if (!n->wait_for("serving blocks")) {
          ADD_FAILURE() << n->output();
          return false;
        }
      }
      return true;
    }
  };

  static std::string model_;
  static std::string other_model_;
  std::unique_ptr<node_config> cfg_;
  std::unique_ptr<caf::actor_system> system_;
  std::unique_ptr<remote_swarm> swarm_;
};

}  // namespace corolla::testing
