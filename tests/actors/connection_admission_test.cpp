// Connection admission on a clock of the test's own: bounds per address and in total,
// and the handshake deadline.
#include "actors/connection_admission.hpp"

#include <gtest/gtest.h>

namespace corolla {
namespace {

using namespace std::chrono_literals;
using time_point = connection_admission::time_point;

std::vector<connection_admission::connection_id> ids(
    const std::vector<connection_admission::expiry>& expired) {
  std::vector<connection_admission::connection_id> out;
  for (const auto& e : expired) out.push_back(e.id);
  return out;
}

admission_limits small_limits() {
  admission_limits l;
  l.handshake_timeout = 1000ms;
  l.max_pending = 5;
  l.max_pending_per_address = 3;
  l.max_connections = 6;
  return l;
}

TEST(ConnectionAdmission, OneAddressGetsAtMostItsShareOfHandshakingConnections) {
  connection_admission a(small_limits());
  const time_point t0{};
  for (int id = 0; id < 3; ++id) EXPECT_TRUE(a.admit_inbound(id, "10.0.0.1", t0).ok());
  status s = a.admit_inbound(3, "10.0.0.1", t0);
  EXPECT_EQ(s.code(), status_code::out_of_range);
  EXPECT_NE(s.message().find("from 10.0.0.1"), std::string::npos) << s.message();
  // Another address still gets in; one established frees a place for the first.
  EXPECT_TRUE(a.admit_inbound(4, "10.0.0.2", t0).ok());
  a.established(0, t0);
  EXPECT_TRUE(a.admit_inbound(5, "10.0.0.1", t0).ok());
  EXPECT_EQ(a.refused(), 1u);
}

TEST(ConnectionAdmission, TotalsBoundPendingAndAllConnections) {
  connection_admission a(small_limits());
  const time_point t0{};
  const char* addresses[] = {"a", "b", "c", "d", "e"};
  for (int id = 0; id < 5; ++id) ASSERT_TRUE(a.admit_inbound(id, addresses[id], t0).ok());
  EXPECT_NE(a.admit_inbound(9, "f", t0).message().find("already handshaking"), std::string::npos);
  for (int id = 0; id < 5; ++id) a.established(id, t0);
  EXPECT_TRUE(a.admit_inbound(5, "f", t0).ok());
  EXPECT_NE(a.admit_inbound(6, "g", t0).message().find("6 connections already open"),
            std::string::npos);
  a.closed(2);
  EXPECT_TRUE(a.admit_inbound(6, "g", t0).ok());
  EXPECT_EQ(a.connections(), 6u);
}

TEST(ConnectionAdmission, ConnectionsThatDoNotHandshakeExpire) {
  connection_admission a(small_limits());
  const time_point t0{};
  ASSERT_TRUE(a.admit_inbound(1, "a", t0).ok());
  a.admit_outbound(2, t0 + 500ms);
  ASSERT_TRUE(a.admit_inbound(3, "b", t0).ok());
  a.established(3, t0);
  EXPECT_TRUE(a.expired(t0 + 999ms).empty());
  EXPECT_EQ(ids(a.expired(t0 + 1000ms)), std::vector<connection_admission::connection_id>{1});
  EXPECT_EQ(ids(a.expired(t0 + 1500ms)), (std::vector<connection_admission::connection_id>{1, 2}));
  a.closed(1);
  a.closed(2);
  EXPECT_TRUE(a.expired(t0 + 10s).empty());
  EXPECT_EQ(a.pending(), 0u);
  EXPECT_EQ(a.connections(), 1u);
}

// Silence: an established connection lives while bytes come in, and expires once none
// have for silence_timeout; one still handshaking is judged by its deadline alone, however
// long its peer takes to say something (a 300 ms link's handshakes take over a second).
TEST(ConnectionAdmission, EstablishedConnectionsExpireWhenSilentTooLong) {
  admission_limits limits = small_limits();
  limits.handshake_timeout = 5000ms;
  limits.silence_timeout = 700ms;
  connection_admission a(limits);
  const time_point t0{};
  a.admit_outbound(1, t0);
  ASSERT_TRUE(a.admit_inbound(2, "a", t0).ok());
  EXPECT_TRUE(a.expired(t0 + 4s).empty());  // pending: silence does not count
  a.established(1, t0 + 4s);
  a.heard(1, t0 + 4500ms);
  EXPECT_EQ(ids(a.expired(t0 + 5s)), std::vector<connection_admission::connection_id>{2});
  a.closed(2);
  EXPECT_TRUE(a.expired(t0 + 5200ms).empty());
  const auto late = a.expired(t0 + 5201ms);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].id, 1);
  EXPECT_TRUE(late[0].silent);
  a.heard(1, t0 + 5300ms);
  EXPECT_TRUE(a.expired(t0 + 6s).empty());
  EXPECT_EQ(a.pending(), 0u);
}

}  // namespace
}  // namespace corolla
