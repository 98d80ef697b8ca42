// wire_guard: what a peer's bytes must be before CAF's BASP parser sees them. One
// wire_guard per TCP connection reads the peer's byte stream in front of CAF (the CAF
// glue is actors/guarded_middleman) and hands CAF only whole, checked frames.
//
// CAF 0.17.6 trusts the first bytes of a connection: a server_handshake header with no
// payload dereferences a null payload (SIGSEGV), and a header's payload_len makes it
// zero-fill that many bytes before one arrives (0xFFFFFFFF: 4 GiB). So:
//  - with a swarm key, both sides first prove they hold it (below) and no byte of BASP
//    passes either way before both proofs checked;
//  - every BASP header is checked (operation, padding, flags, the fields each operation
//    requires, payload_len <= the limit for that operation and connection state);
//  - the first frame must be the peer's handshake (server_handshake to a connector,
//    client_handshake to an acceptor); handshakes, monitor and down messages are small;
//  - a frame is passed on only once all its payload has arrived, so memory grows with
//    the bytes a peer really sent, not with the lengths it claims;
//  - a message frame may not carry a CAF system message: CAF 0.17 treats any message
//    holding an exit_msg or down_msg as one, whoever sent it (a peer's exit_msg stopped
//    a routing table), and a routed message may not claim to come from this node (CAF
//    would take a local actor as its sender, passing local_only's checks), nor name a
//    type this process does not know (CAF would drop it without a word, and its sender
//    wait for an answer until a timeout: one mangled byte hung a client).
//
// Swarm key handshake (both sides at once, 37 + 32 bytes each way):
//   hello = "CRLA" | version 1 | 32-byte random nonce
//   proof = HMAC-SHA256(key, "corolla swarm key v1" | sender role | receiver's nonce |
//                            sender's nonce)
// The role byte (acceptor / connector) stops a proof being reflected back to its sender;
// fresh nonces on both sides stop a recorded one being replayed. It authenticates who
// opens the connection; it does not encrypt it (TLS does, and both can be on).
//
// Invariants:
//  1. ready() only ever exposes bytes of whole frames whose header passed check_header,
//     and only after the key handshake (when there is a key) succeeded.
//  2. Memory held is at most the bytes received of the current frame plus the frame
//     being delivered; no frame larger than its limit is ever buffered.
//  3. Once feed() failed the guard stays failed.
// Thread safety: none; one connection's guard is used by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/status.hpp"

namespace corolla {

// The 32-byte secret of a private swarm.
struct swarm_key {
  std::array<uint8_t, 32> bytes{};
};

// 64 hex digits (and an optional newline) from `path`; refuses a file that others can
// read, as ssh refuses a private key.
result<swarm_key> load_swarm_key(const std::string& path);
// A new random key as its file text.
result<std::string> new_swarm_key_text();

enum class guard_role : uint8_t { acceptor = 1, connector = 2 };

struct guard_limits {
  // Largest payload after the handshake: the largest tensor a message carries
  // (messages/tensor_codec.hpp: 2^27 f32 values) with 8 MiB for the message around it.
  uint32_t max_frame_bytes = (uint32_t(1) << 29) + (uint32_t(8) << 20);
  // Handshakes, monitor and down messages carry a node id, names and an error.
  uint32_t max_control_bytes = uint32_t(64) << 10;
};

// The fixed 32-byte BASP header of CAF 0.17, decoded (network byte order on the wire).
struct basp_header {
  uint8_t operation = 0;
  uint8_t padding1 = 0;
  uint8_t padding2 = 0;
  uint8_t flags = 0;
  uint32_t payload_len = 0;
  uint64_t operation_data = 0;
  uint64_t source_actor = 0;
  uint64_t dest_actor = 0;
};
constexpr size_t basp_header_size = 32;

basp_header decode_basp_header(const uint8_t* p);

// CAF 0.17's atom_value of `text` (caf/detail/atom_val.hpp), for the node ids in frames.
constexpr uint64_t caf_atom(const char* text, uint64_t interim = 0xF) {
  auto code = [](char c) -> uint64_t {
    if (c >= '0' && c <= '9') return uint64_t(c - '0' + 1);
    if (c >= 'A' && c <= 'Z') return uint64_t(c - 'A' + 11);
    if (c == '_') return 37;
    if (c >= 'a' && c <= 'z') return uint64_t(c - 'a' + 38);
    return 0;
  };
  return *text == '\0' ? interim : caf_atom(text + 1, (interim << 6) | code(*text));
}

// A CAF node id of the default kind: the process id and 20 bytes of host id.
struct node_identity {
  uint32_t process_id = 0;
  std::array<uint8_t, 20> host{};
};

// Whether this process can read a message element of type `name` (CAF's registry).
using type_check = std::function<bool(const std::string& name)>;

// Whether the payload of a direct or routed message frame may reach CAF: its sender
// stages and message type names parse, it holds no CAF system message, every type is
// known (`known` null: not checked), and (routed) its source node is not `self` (null:
// not checked). Ok, or corruption naming the problem.
status check_message_payload(uint8_t operation, const uint8_t* payload, size_t n,
                             const node_identity* self, const type_check* known = nullptr);

// Whether `h` may arrive on a connection of `role`; `established` once the peer's BASP
// handshake arrived. Ok, or corruption naming what is wrong.
status check_header(const basp_header& h, guard_role role, bool established,
                    const guard_limits& limits);

class wire_guard {
 public:
  // `key` null: an open swarm, BASP frames checked from the first byte. `nonce` is this
  // side's 32 random bytes (ignored without a key).
  wire_guard(guard_role role, const guard_limits& limits, const swarm_key* key,
             const std::array<uint8_t, 32>& nonce);

  // Bytes this side must send now (the hello at the start, the proof after the peer's
  // hello), in order, before any BASP byte; cleared by the call.
  std::vector<uint8_t> take_output();

  // How many more bytes the guard can use now (> 0 unless failed() or ready()).
  size_t wanted() const;
  // Room for `n` <= wanted() bytes to be received into; commit() says how many came.
  uint8_t* space(size_t n);
  // Checks the `n` bytes just received into space(). Not ok: close the connection.
  status commit(size_t n);
  // Feeds bytes from elsewhere (tests, the fuzzer): space + copy + commit, in pieces.
  status feed(const uint8_t* p, size_t n);

  // Checked BASP bytes not yet handed on; consume() hands on the first n.
  size_t ready() const { return deliver_.size() - delivered_; }
  const uint8_t* ready_data() const { return deliver_.data() + delivered_; }
  void consume(size_t n);

  bool authenticated() const { return stage_ == stage::header || stage_ == stage::payload; }
  bool established() const { return established_; }
  bool failed() const { return stage_ == stage::failed; }
  uint64_t frames() const { return frames_; }
  // This process's node id: routed messages claiming it as their source are refused.
  void set_local_node(const node_identity& self) { self_ = self; }
  // Message element types this process reads; others are refused.
  void set_type_check(type_check known) { known_ = std::move(known); }

 private:
  enum class stage : uint8_t { hello, proof, header, payload, failed };

  status fail(status s);
  status on_hello();
  status on_proof();
  status on_header();
  void on_frame_complete();
  std::array<uint8_t, 32> proof(guard_role sender, const std::array<uint8_t, 32>& receiver_nonce,
                                const std::array<uint8_t, 32>& sender_nonce) const;

  guard_role role_;
  guard_limits limits_;
  std::optional<swarm_key> key_;
  std::array<uint8_t, 32> nonce_{};
  std::array<uint8_t, 32> peer_nonce_{};
  stage stage_;
  bool established_ = false;
  uint64_t frames_ = 0;
  std::vector<uint8_t> out_;
  std::vector<uint8_t> in_;  // the current stage's bytes so far (header + payload)
  size_t in_used_ = 0;
  uint32_t payload_len_ = 0;
  uint8_t operation_ = 0;  // of the frame being received
  std::optional<node_identity> self_;
  type_check known_;
  std::vector<uint8_t> deliver_;  // whole checked frames being handed on
  size_t delivered_ = 0;
};

}  // namespace corolla
