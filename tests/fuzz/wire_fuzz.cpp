// libFuzzer target for what a peer's bytes meet first: the wire guard (BASP frame checks,
// the swarm key handshake) and, for every frame it passes, Corolla's decoders of the
// messages (cereal bytes, tensors): every registered message, since any of them can
// arrive from any peer whatever actor it is addressed to. Any crash,
// sanitizer report, leak, hang or an allocation past the RSS limit is a finding.
// Run by scripts/fuzz.sh, seeded with traffic captured from a real swarm
// (`corolla bench wire --capture DIR`).
//
// Input: byte 0 picks the side (bit 0: acceptor or connector) and whether a swarm key
// is on (bit 1); the rest is the byte stream the peer sends.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/wire_guard.hpp"
#include "messages/client.hpp"
#include "messages/session.hpp"
#include "messages/swarm.hpp"
#include "messages/tensor_codec.hpp"
#include "messages/wire.hpp"

namespace {

using namespace corolla;

template <class T>
void decode_as(const std::string& bytes) {
  T message;
  (void)from_wire(bytes, message, "fuzz");
}

void decode_payload(const uint8_t* p, size_t n) {
  const std::string bytes(reinterpret_cast<const char*>(p), n);
  decode_as<open_session_request>(bytes);
  decode_as<close_session_request>(bytes);
  decode_as<hop_output>(bytes);
  decode_as<block_step>(bytes);
  decode_as<server_record>(bytes);
  decode_as<route_request>(bytes);
  decode_as<gossip_offer>(bytes);
  decode_as<gossip_answer>(bytes);
  decode_as<gossip_records>(bytes);
  decode_as<kv_request>(bytes);
  decode_as<kv_chunk>(bytes);
  decode_as<adopt_request>(bytes);
  decode_as<head_chunk>(bytes);
  decode_as<open_session_reply>(bytes);
  decode_as<step_reply>(bytes);
  decode_as<close_session_reply>(bytes);
  decode_as<block_output>(bytes);
  decode_as<generate_request>(bytes);
  decode_as<text_chunk>(bytes);
  decode_as<hop_timing>(bytes);
  decode_as<generate_reply>(bytes);
  decode_as<session_step>(bytes);
  decode_as<session_step_result>(bytes);
  step_request step;
  if (from_wire(bytes, step, "fuzz").ok()) {
    std::vector<float> values;
    (void)decode_tensor(step.hidden, step.hidden.cols, 1 << 14, values);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const guard_role role = (data[0] & 1) ? guard_role::acceptor : guard_role::connector;
  swarm_key key;
  key.bytes.fill(7);
  std::array<uint8_t, 32> nonce{};
  nonce.fill(9);
  wire_guard guard(role, guard_limits{}, (data[0] & 2) ? &key : nullptr, nonce);
  (void)guard.take_output();
  size_t at = 1;
  std::vector<uint8_t> frame;
  while (at < size && !guard.failed()) {
    const size_t take = std::min(size - at, guard.wanted());
    if (take == 0) break;
    if (!guard.feed(data + at, take).ok()) break;
    at += take;
    (void)guard.take_output();
    if (guard.ready() == 0) continue;
    frame.assign(guard.ready_data(), guard.ready_data() + guard.ready());
    guard.consume(guard.ready());
    if (frame.size() > basp_header_size) {
      decode_payload(frame.data() + basp_header_size, frame.size() - basp_header_size);
    }
  }
  return 0;
}
