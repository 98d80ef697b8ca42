// The CAF 0.17 imported targets (CMakeLists.txt wraps Debian's libcaf-dev, which
// ships no CMake config) link and work: an actor published by one actor system on
// a port chosen at run time answers a request from another over loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

namespace {

caf::behavior echo(caf::event_based_actor*) {
  return {[](const std::string& s) { return s + "!"; }};
}

TEST(CafPlatform, PublishedActorAnswersAnotherSystemOverLoopback) {
  caf::actor_system_config server_cfg;
  server_cfg.load<caf::io::middleman>();
  caf::actor_system server_sys{server_cfg};
  auto server = server_sys.spawn(echo);
  auto port = server_sys.middleman().publish(server, 0, "127.0.0.1");  // 0: any free port
  ASSERT_TRUE(port) << server_sys.render(port.error());

  {
    caf::actor_system_config client_cfg;
    client_cfg.load<caf::io::middleman>();
    caf::actor_system client_sys{client_cfg};
    auto remote = client_sys.middleman().remote_actor("127.0.0.1", *port);
    ASSERT_TRUE(remote) << client_sys.render(remote.error());
    caf::scoped_actor self{client_sys};
    std::string reply;
    self->request(*remote, std::chrono::seconds(10), std::string("hello"))
        .receive([&](const std::string& r) { reply = r; },
                 [&](caf::error& e) { ADD_FAILURE() << client_sys.render(e); });
    EXPECT_EQ(reply, "hello!");
  }
  caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
}

}  // namespace
