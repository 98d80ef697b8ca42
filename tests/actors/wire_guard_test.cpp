// The wire guard on bytes alone: the BASP headers it passes and refuses (among them the
// two single-header attacks on CAF 0.17.6), whole frames only, memory that follows the
// bytes received, and the swarm key handshake between two guards.
#include "actors/wire_guard.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <caf/atom.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/node_id.hpp>
#include <caf/string_view.hpp>

#include <cstring>
#include <iostream>
#include <random>
#include <vector>

#include "tests/support/test_support.hpp"

namespace corolla {
namespace {

using bytes = std::vector<uint8_t>;

bytes header(uint8_t op, uint32_t payload_len, uint64_t op_data = 0, uint64_t source = 0,
             uint64_t dest = 0, uint8_t flags = 0) {
  bytes h(basp_header_size, 0);
  h[0] = op;
  h[3] = flags;
  for (int i = 0; i < 4; ++i) h[4 + i] = uint8_t(payload_len >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) {
    h[8 + i] = uint8_t(op_data >> (56 - 8 * i));
    h[16 + i] = uint8_t(source >> (56 - 8 * i));
    h[24 + i] = uint8_t(dest >> (56 - 8 * i));
  }
  return h;
}

bytes frame(uint8_t op, const bytes& payload, uint64_t op_data = 0, uint64_t source = 0,
            uint64_t dest = 0) {
  bytes f = header(op, uint32_t(payload.size()), op_data, source, dest);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

void put_u64(bytes& b, uint64_t x) {
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(x >> (56 - 8 * i)));
}

// A node id as CAF 0.17 writes it: its kind, the process id and the 20-byte host id.
void put_node(bytes& b, const node_identity& n) {
  put_u64(b, caf_atom("default"));
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(n.process_id >> (24 - 8 * i)));
  b.insert(b.end(), n.host.begin(), n.host.end());
}

// A message frame's payload as CAF 0.17 writes it: (routed: source and destination
// nodes,) no sender stages, the message's type names, then `body` bytes of its values.
bytes message_payload(const std::string& types, size_t body, const node_identity* from = nullptr,
                      const node_identity* to = nullptr) {
  bytes b;
  if (from) put_node(b, *from);
  if (to) put_node(b, *to);
  b.push_back(0);  // stages
  b.push_back(0);  // the type number: 0, names follow
  b.push_back(0);
  const std::string name = "@<>" + types;
  for (uint32_t x = uint32_t(name.size());; x >>= 7) {
    b.push_back(uint8_t(x & 0x7f) | (x > 0x7f ? 0x80 : 0));
    if (x <= 0x7f) break;
  }
  b.insert(b.end(), name.begin(), name.end());
  b.resize(b.size() + body, 3);
  return b;
}

std::array<uint8_t, 32> nonce(uint8_t seed) {
  std::array<uint8_t, 32> n{};
  for (size_t i = 0; i < n.size(); ++i) n[i] = uint8_t(seed + 7 * i);
  return n;
}

wire_guard open_guard(guard_role role) {
  return wire_guard(role, guard_limits{}, nullptr, nonce(1));
}

// Everything the guard hands on, draining it after each piece fed.
status feed_all(wire_guard& g, const bytes& b, bytes* passed = nullptr) {
  size_t at = 0;
  while (at < b.size()) {
    const size_t take = std::min(b.size() - at, g.wanted());
    if (take == 0) return status::internal("the guard wants nothing");
    COROLLA_RETURN_IF_ERROR(g.feed(b.data() + at, take));
    at += take;
    if (passed) passed->insert(passed->end(), g.ready_data(), g.ready_data() + g.ready());
    g.consume(g.ready());
  }
  return status::ok_status();
}

TEST(WireGuard, TheThirtyTwoByteCrashPacketIsRefused) {
  // bytes(15) + b"\x01" + bytes(16): a server handshake with version 1 and no payload,
  // which made CAF 0.17.6 dereference a null payload.
  bytes packet(15, 0);
  packet.push_back(1);
  packet.resize(32, 0);
  wire_guard connector = open_guard(guard_role::connector);
  bytes passed;
  status s = feed_all(connector, packet, &passed);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no payload"), std::string::npos) << s.message();
  EXPECT_TRUE(passed.empty());
  // To the accepting side it is not even the right first frame.
  wire_guard acceptor = open_guard(guard_role::acceptor);
  s = feed_all(acceptor, packet);
  EXPECT_NE(s.message().find("before the peer's client_handshake"), std::string::npos)
      << s.message();
}

TEST(WireGuard, AFourGibiByteHeaderIsRefusedBeforeAnyAllocation) {
  wire_guard g = open_guard(guard_role::acceptor);
  status s = feed_all(g, header(1, 0xFFFFFFFFu));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("more than 65536"), std::string::npos) << s.message();
  EXPECT_TRUE(g.failed());
  EXPECT_EQ(g.wanted(), 0u);
}

TEST(WireGuard, AFrameIsHandedOnOnlyWhenAllOfItArrived) {
  wire_guard g = open_guard(guard_role::acceptor);
  const bytes hs = frame(1, bytes(40, 7));
  ASSERT_TRUE(g.feed(hs.data(), hs.size()).ok());
  ASSERT_EQ(g.ready(), hs.size());
  g.consume(hs.size());
  ASSERT_TRUE(g.established());
  // A large direct message: its bytes are held until the last one.
  const bytes msg = frame(2, message_payload("+corolla.step_request", 300000), 0, 0, 42);
  for (size_t at = 0; at + 1 < msg.size(); at += 4096) {
    const size_t take = std::min<size_t>(4096, msg.size() - 1 - at);
    ASSERT_TRUE(g.feed(msg.data() + at, take).ok());
    EXPECT_EQ(g.ready(), 0u);
  }
  ASSERT_TRUE(g.feed(msg.data() + msg.size() - 1, 1).ok());
  ASSERT_EQ(g.ready(), msg.size());
  EXPECT_EQ(0, std::memcmp(g.ready_data(), msg.data(), msg.size()));
  EXPECT_EQ(g.frames(), 2u);
}

TEST(WireGuard, MessagesCarryingCafSystemMessagesAreRefused) {
  for (const char* type : {"+@exit", "+@down", "+@group_down", "+@timeout", "+@upstream_msg"}) {
    SCOPED_TRACE(type);
    wire_guard g = open_guard(guard_role::acceptor);
    ASSERT_TRUE(feed_all(g, frame(1, bytes(40, 7))).ok());
    const status s =
        feed_all(g, frame(2, message_payload(std::string("+@atom") + type, 40), 0, 0, 42));
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("CAF system message"), std::string::npos) << s.message();
  }
  wire_guard g = open_guard(guard_role::acceptor);
  ASSERT_TRUE(feed_all(g, frame(1, bytes(40, 7))).ok());
  // Names that only start like one are fine; a payload that is no message is not.
  EXPECT_TRUE(feed_all(g, frame(2, message_payload("+@atom+@downloaded", 8), 0, 0, 42)).ok());
  EXPECT_TRUE(feed_all(g, frame(2, message_payload("", 0), 0, 0, 42)).ok());
  EXPECT_FALSE(feed_all(g, frame(2, bytes(64, 3), 0, 0, 42)).ok());
}

TEST(WireGuard, AMessageOfATypeThisProcessDoesNotKnowIsRefused) {
  wire_guard g = open_guard(guard_role::acceptor);
  g.set_type_check([](const std::string& name) { return name != "corolla.push_steP"; });
  ASSERT_TRUE(feed_all(g, frame(1, bytes(40, 7))).ok());
  EXPECT_TRUE(feed_all(g, frame(2, message_payload("+corolla.push_step", 64), 0, 0, 42)).ok());
  const status s = feed_all(g, frame(2, message_payload("+corolla.push_steP", 64), 0, 0, 42));
  EXPECT_NE(s.message().find("unknown type 'corolla.push_steP'"), std::string::npos) << s.message();
}

TEST(WireGuard, ItsAtomsAreCafs) {
  for (const char* text : {"", "default", "uri", "BASP"}) {
    EXPECT_EQ(caf_atom(text), static_cast<uint64_t>(caf::atom_from_string(text))) << text;
  }
}

TEST(WireGuard, ItWritesNodeIdsAsCafDoes) {
  node_identity n{0x01020304, {}};
  for (size_t i = 0; i < n.host.size(); ++i) n.host[i] = uint8_t(i * 13 + 1);
  caf::node_id::default_data::host_id_type host;
  std::copy(n.host.begin(), n.host.end(), host.begin());
  caf::node_id id = caf::make_node_id(n.process_id, host);
  std::vector<char> written;
  caf::binary_serializer sink{nullptr, written};
  ASSERT_FALSE(sink(id));
  bytes expected;
  put_node(expected, n);
  EXPECT_EQ(bytes(written.begin(), written.end()), expected);
}

TEST(WireGuard, ARoutedMessageMayNotClaimToComeFromThisNode) {
  node_identity self{4242, {}}, other{77, {}};
  self.host.fill(9);
  other.host.fill(5);
  for (const node_identity* from : {&other, &self}) {
    wire_guard g = open_guard(guard_role::acceptor);
    g.set_local_node(self);
    ASSERT_TRUE(feed_all(g, frame(1, bytes(40, 7))).ok());
    const status s = feed_all(g, frame(3, message_payload("+@atom", 16, from, &self), 0, 5, 6));
    EXPECT_EQ(s.ok(), from == &other) << s.message();
  }
  // An empty message frame is refused too (CAF would read past it).
  wire_guard g = open_guard(guard_role::acceptor);
  ASSERT_TRUE(feed_all(g, frame(1, bytes(40, 7))).ok());
  EXPECT_FALSE(feed_all(g, frame(2, {}, 0, 0, 42)).ok());
}

TEST(WireGuard, AClaimedLengthCostsOnlyTheBytesReallySent) {
  wire_guard g = open_guard(guard_role::acceptor);
  const bytes hs = frame(1, bytes(40, 7));
  ASSERT_TRUE(feed_all(g, hs).ok());
  // A header that claims the largest payload allowed, followed by 10 bytes.
  const bytes h = header(2, guard_limits{}.max_frame_bytes, 0, 0, 1);
  ASSERT_TRUE(g.feed(h.data(), h.size()).ok());
  EXPECT_EQ(g.wanted(), guard_limits{}.max_frame_bytes);
  std::memset(g.space(10), 0, 10);
  ASSERT_TRUE(g.commit(10).ok());
  EXPECT_EQ(g.ready(), 0u);
  EXPECT_EQ(g.wanted(), guard_limits{}.max_frame_bytes - 10);
}

TEST(WireGuard, HeadersEachOperationForbidsAreRefused) {
  const guard_limits limits;
  struct refused {
    const char* what;
    basp_header h;
    bool established;
    guard_role role;
  };
  auto h = [](uint8_t op, uint32_t len, uint64_t data, uint64_t src, uint64_t dst,
              uint8_t flags = 0, uint8_t pad = 0) {
    basp_header x;
    x.operation = op;
    x.payload_len = len;
    x.operation_data = data;
    x.source_actor = src;
    x.dest_actor = dst;
    x.flags = flags;
    x.padding1 = pad;
    return x;
  };
  const guard_role acc = guard_role::acceptor, con = guard_role::connector;
  const std::vector<refused> cases = {
      {"unknown operation", h(7, 0, 0, 0, 0), true, acc},
      {"padding", h(6, 0, 0, 0, 0, 0, 1), true, acc},
      {"unknown flag", h(2, 8, 0, 0, 1, 0x80), true, acc},
      {"direct before handshake", h(2, 8, 0, 0, 1), false, acc},
      {"server handshake without version", h(0, 8, 0, 0, 0), false, con},
      {"second server handshake", h(0, 8, 1, 0, 0), true, con},
      {"client handshake to a connector", h(1, 8, 0, 0, 0), true, con},
      {"client handshake with actor ids", h(1, 8, 0, 5, 0), false, acc},
      {"direct message without receiver", h(2, 8, 0, 0, 0), true, acc},
      {"direct message without payload", h(2, 0, 0, 0, 1), true, acc},
      {"direct message past the limit", h(2, limits.max_frame_bytes + 1, 0, 0, 1), true, acc},
      {"routed message without payload", h(3, 0, 0, 0, 1), true, acc},
      {"large monitor message", h(4, limits.max_control_bytes + 1, 0, 0, 1), true, acc},
      {"down message to an actor", h(5, 8, 0, 1, 1), true, acc},
      {"heartbeat with payload", h(6, 4, 0, 0, 0), true, acc},
  };
  for (const refused& c : cases) {
    EXPECT_FALSE(check_header(c.h, c.role, c.established, limits).ok()) << c.what;
  }
  const std::vector<refused> passed = {
      {"server handshake", h(0, 200, 1, 0, 0), false, con},
      {"client handshake", h(1, 100, 0, 0, 0), false, acc},
      {"repeated client handshake", h(1, 100, 0, 0, 0, 0x02), true, acc},
      {"direct message", h(2, 5000, 0, 3, 9, 0x01), true, acc},
      {"heartbeat", h(6, 0, 0, 0, 0), true, con},
      {"down message", h(5, 30, 0, 4, 0), true, con},
  };
  for (const refused& c : passed) {
    EXPECT_TRUE(check_header(c.h, c.role, c.established, limits).ok()) << c.what;
  }
}

// Two guards with keys, wired back to back as a connection would be.
struct keyed_pair {
  wire_guard acceptor, connector;
  status a_status, c_status;
  void exchange() {
    for (int round = 0; round < 4; ++round) {
      auto to_c = acceptor.take_output();
      auto to_a = connector.take_output();
      if (c_status.ok() && !to_c.empty()) c_status = feed_all(connector, to_c);
      if (a_status.ok() && !to_a.empty()) a_status = feed_all(acceptor, to_a);
    }
  }
};

swarm_key key_of(uint8_t seed) {
  swarm_key k;
  for (size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = uint8_t(seed * 31 + i);
  return k;
}

TEST(WireGuard, PeersWithTheSameKeyAuthenticateEachOther) {
  const swarm_key key = key_of(1);
  keyed_pair p{wire_guard(guard_role::acceptor, {}, &key, nonce(1)),
               wire_guard(guard_role::connector, {}, &key, nonce(2)),
               {},
               {}};
  EXPECT_FALSE(p.acceptor.authenticated());
  p.exchange();
  ASSERT_TRUE(p.a_status.ok()) << p.a_status.message();
  ASSERT_TRUE(p.c_status.ok()) << p.c_status.message();
  EXPECT_TRUE(p.acceptor.authenticated());
  EXPECT_TRUE(p.connector.authenticated());
  // Then BASP flows as without a key.
  EXPECT_TRUE(feed_all(p.acceptor, frame(1, bytes(20, 1))).ok());
}

TEST(WireGuard, AnotherKeyOrNoKeyIsRefused) {
  const swarm_key key = key_of(1), other = key_of(2);
  keyed_pair wrong{wire_guard(guard_role::acceptor, {}, &key, nonce(1)),
                   wire_guard(guard_role::connector, {}, &other, nonce(2)),
                   {},
                   {}};
  wrong.exchange();
  EXPECT_NE(wrong.a_status.message().find("proof is wrong"), std::string::npos)
      << wrong.a_status.message();
  EXPECT_FALSE(wrong.acceptor.authenticated());

  // A peer without a key starts with BASP: no hello, and not one byte is handed on.
  wire_guard keyed(guard_role::acceptor, {}, &key, nonce(1));
  bytes passed;
  status s = feed_all(keyed, frame(1, bytes(64, 0)), &passed);
  EXPECT_NE(s.message().find("did not present a swarm key"), std::string::npos) << s.message();
  EXPECT_TRUE(passed.empty());
}

TEST(WireGuard, AProofReflectedToItsSenderIsRefused) {
  const swarm_key key = key_of(1);
  wire_guard victim(guard_role::acceptor, {}, &key, nonce(1));
  // The attacker has no key: it echoes the victim's hello with its own nonce, then sends
  // back the proof the victim computed.
  bytes hello = victim.take_output();
  bytes echoed = hello;
  echoed[10] ^= 0xFF;  // a different nonce, so the echo is not refused as an echo
  ASSERT_TRUE(feed_all(victim, echoed).ok());
  bytes victims_proof = victim.take_output();
  ASSERT_EQ(victims_proof.size(), 32u);
  status s = feed_all(victim, victims_proof);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(victim.authenticated());
}

TEST(WireGuard, RandomBytesNeverReachCafUnchecked) {
  const uint64_t seed = testing::test_seed(5);
  std::cout << "seed " << seed << "\n";
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 2000; ++trial) {
    wire_guard g = open_guard(trial % 2 ? guard_role::acceptor : guard_role::connector);
    bytes junk(size_t(rng() % 200));
    for (auto& b : junk) b = uint8_t(rng() % 4 == 0 ? rng() : 0);
    bytes passed;
    status s = feed_all(g, junk, &passed);
    // Whatever passed is a sequence of whole frames with valid headers.
    size_t at = 0;
    bool established = false;
    const guard_role role = trial % 2 ? guard_role::acceptor : guard_role::connector;
    while (at < passed.size()) {
      ASSERT_GE(passed.size() - at, basp_header_size);
      const basp_header h = decode_basp_header(passed.data() + at);
      ASSERT_TRUE(check_header(h, role, established, guard_limits{}).ok());
      established = true;
      at += basp_header_size + h.payload_len;
    }
    ASSERT_EQ(at, passed.size());
  }
}

TEST(SwarmKey, AKeyFileRoundTripsAndBadOnesAreNamed) {
  auto text = new_swarm_key_text();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->size(), 65u);
  const std::string path = testing::temp_path("swarm.key");
  testing::write_file(path, *text);
  ::chmod(path.c_str(), 0600);
  auto key = load_swarm_key(path);
  ASSERT_TRUE(key.ok()) << key.error().message();
  ::chmod(path.c_str(), 0644);
  key = load_swarm_key(path);
  EXPECT_NE(key.error().message().find("readable by others"), std::string::npos);
  testing::write_file(path, "abc\n");
  ::chmod(path.c_str(), 0600);
  key = load_swarm_key(path);
  EXPECT_NE(key.error().message().find("expected 64 hex digits"), std::string::npos);
  testing::write_file(path, std::string(63, 'a') + "g\n");
  key = load_swarm_key(path);
  EXPECT_NE(key.error().message().find("not a hex digit"), std::string::npos);
  EXPECT_FALSE(load_swarm_key(path + ".absent").ok());
}

}  // namespace
}  // namespace corolla
