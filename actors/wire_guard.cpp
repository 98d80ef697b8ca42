#include "actors/wire_guard.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace corolla {
namespace {

constexpr char hello_magic[4] = {'C', 'R', 'L', 'A'};
constexpr uint8_t hello_version = 1;
constexpr size_t hello_size = sizeof(hello_magic) + 1 + 32;
constexpr size_t proof_size = 32;
constexpr char proof_label[] = "corolla swarm key v1";

// CAF 0.17's message_type values.
enum basp_op : uint8_t {
  server_handshake = 0,
  client_handshake = 1,
  direct_message = 2,
  routed_message = 3,
  monitor_message = 4,
  down_message = 5,
  heartbeat = 6,
};
constexpr uint8_t known_flags = 0x01 | 0x02;  // named receiver, select connection

uint64_t big_endian(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

const char* op_name(uint8_t op) {
  static const char* const names[] = {"server_handshake", "client_handshake", "direct_message",
                                      "routed_message",   "monitor_message",  "down_message",
                                      "heartbeat"};
  return op <= heartbeat ? names[op] : "unknown";
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

result<swarm_key> load_swarm_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return status::io_error("swarm key " + path + ": can not read it");
  if ((st.st_mode & 077) != 0) {
    return status::invalid_argument("swarm key " + path +
                                    ": readable by others; chmod 600 it (a key others can read "
                                    "lets them join the swarm)");
  }
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  swarm_key key;
  if (text.size() != 2 * key.bytes.size()) {
    return status::invalid_argument("swarm key " + path + ": expected 64 hex digits, found " +
                                    std::to_string(text.size()) +
                                    " characters (make one with `corolla swarm key`)");
  }
  for (size_t i = 0; i < key.bytes.size(); ++i) {
    const int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return status::invalid_argument("swarm key " + path + ": character " +
                                      std::to_string(2 * i + (hi < 0 ? 1 : 2)) +
                                      " is not a hex digit");
    }
    key.bytes[i] = uint8_t(hi << 4 | lo);
  }
  return key;
}

result<std::string> new_swarm_key_text() {
  swarm_key key;
  if (RAND_bytes(key.bytes.data(), int(key.bytes.size())) != 1) {
    return status::internal("the system's random source refused");
  }
  static const char digits[] = "0123456789abcdef";
  std::string text;
  for (uint8_t b : key.bytes) {
    text += digits[b >> 4];
    text += digits[b & 15];
  }
  return text + "\n";
}

namespace {

// Reads CAF 0.17's binary serialization: integers in network order, sequence lengths
// as 7-bit groups, low group first.
struct caf_reader {
  const uint8_t* p;
  size_t n;
  size_t at = 0;
  bool bytes(size_t k, const uint8_t*& out) {
    if (n - at < k) return false;
    out = p + at;
    at += k;
    return true;
  }
  bool u64(uint64_t& x) {
    const uint8_t* b = nullptr;
    if (!bytes(8, b)) return false;
    x = big_endian(b, 8);
    return true;
  }
  bool u32(uint32_t& x) {
    const uint8_t* b = nullptr;
    if (!bytes(4, b)) return false;
    x = uint32_t(big_endian(b, 4));
    return true;
  }
  bool u16(uint16_t& x) {
    const uint8_t* b = nullptr;
    if (!bytes(2, b)) return false;
    x = uint16_t(big_endian(b, 2));
    return true;
  }
  bool length(uint32_t& x) {
    x = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      const uint8_t* b = nullptr;
      if (!bytes(1, b)) return false;
      x |= uint32_t(*b & 0x7f) << shift;
      if ((*b & 0x80) == 0) return true;
    }
    return false;
  }
};

// A node id; `id` is set for one of the default kind. False when it does not parse or
// is of another kind (a URI: CAF 0.17 makes those only when configured to).
bool read_node(caf_reader& r, std::optional<node_identity>& id) {
  uint64_t kind = 0;
  if (!r.u64(kind)) return false;
  id.reset();
  if (kind == caf_atom("")) return true;
  if (kind != caf_atom("default")) return false;
  node_identity node;
  const uint8_t* host = nullptr;
  if (!r.u32(node.process_id) || !r.bytes(node.host.size(), host)) return false;
  std::copy(host, host + node.host.size(), node.host.begin());
  id = node;
  return true;
}

bool same_node(const node_identity& a, const node_identity& b) {
  return a.process_id == b.process_id && a.host == b.host;
}

// The message types CAF's actors handle as system messages whatever their sender.
constexpr const char* system_messages[] = {
    "@exit",         "@down",          "@group_down", "@timeout", "@open_stream_msg",
    "@upstream_msg", "@downstream_msg"};
constexpr size_t max_stages = 64;
constexpr uint32_t max_type_names = 4096;

}  // namespace

status check_message_payload(uint8_t operation, const uint8_t* payload, size_t n,
                             const node_identity* self, const type_check* known) {
  const std::string what = std::string("BASP ") + op_name(operation) + ": ";
  auto bad = [&](const std::string& why) { return status::corruption(what + why); };
  caf_reader r{payload, n};
  std::optional<node_identity> node;
  if (operation == routed_message) {
    if (!read_node(r, node)) return bad("unreadable source node");
    if (self && node && same_node(*node, *self)) return bad("claims to come from this node");
    if (!read_node(r, node)) return bad("unreadable destination node");
  }
  uint32_t stages = 0;
  if (!r.length(stages) || stages > max_stages) return bad("unreadable sender stages");
  for (uint32_t i = 0; i < stages; ++i) {
    uint64_t actor = 0;
    if (!r.u64(actor) || !read_node(r, node)) return bad("unreadable sender stage");
  }
  uint16_t type_number = 0;
  uint32_t name_length = 0;
  const uint8_t* name = nullptr;
  if (!r.u16(type_number) || type_number != 0 || !r.length(name_length) ||
      name_length > max_type_names || !r.bytes(name_length, name)) {
    return bad("unreadable message type");
  }
  const std::string types(reinterpret_cast<const char*>(name), name_length);
  if (types.rfind("@<>", 0) != 0) return bad("message type '" + types.substr(0, 64) + "'");
  for (size_t at = 3; at < types.size();) {
    if (types[at] != '+') return bad("message type '" + types.substr(0, 64) + "'");
    const size_t end = std::min(types.find('+', at + 1), types.size());
    const std::string type = types.substr(at + 1, end - at - 1);
    for (const char* system : system_messages) {
      if (type == system) {
        return bad("carries a CAF system message (" + type + "): only CAF itself makes those");
      }
    }
    if (known && *known && !(*known)(type)) {
      return bad("a message of unknown type '" + type.substr(0, 64) + "'");
    }
    at = end;
  }
  return status::ok_status();
}

basp_header decode_basp_header(const uint8_t* p) {
  basp_header h;
  h.operation = p[0];
  h.padding1 = p[1];
  h.padding2 = p[2];
  h.flags = p[3];
  h.payload_len = uint32_t(big_endian(p + 4, 4));
  h.operation_data = big_endian(p + 8, 8);
  h.source_actor = big_endian(p + 16, 8);
  h.dest_actor = big_endian(p + 24, 8);
  return h;
}

status check_header(const basp_header& h, guard_role role, bool established,
                    const guard_limits& limits) {
  auto bad = [&](const std::string& why) {
    return status::corruption(std::string("BASP ") + op_name(h.operation) + " header: " + why);
  };
  if (h.operation > heartbeat) return bad("operation " + std::to_string(h.operation));
  if (h.padding1 != 0 || h.padding2 != 0) return bad("non-zero padding");
  if ((h.flags & ~known_flags) != 0) return bad("unknown flags " + std::to_string(h.flags));
  if (!established) {
    const uint8_t expected = role == guard_role::connector ? server_handshake : client_handshake;
    if (h.operation != expected) {
      return bad(std::string("arrived before the peer's ") + op_name(expected));
    }
  } else if (h.operation == server_handshake) {
    return bad("a second server handshake");
  }
  if (h.operation == client_handshake && role != guard_role::acceptor) {
    return bad("sent to the side that connected");
  }
  const uint32_t limit = h.operation == direct_message || h.operation == routed_message
                             ? limits.max_frame_bytes
                             : limits.max_control_bytes;
  if (h.payload_len > limit) {
    return bad("payload of " + std::to_string(h.payload_len) + " bytes, more than " +
               std::to_string(limit));
  }
  switch (h.operation) {
    case server_handshake:
      if (h.operation_data == 0) return bad("no protocol version");
      if (h.payload_len == 0) return bad("no payload");
      break;
    case client_handshake:
      if (h.source_actor != 0 || h.dest_actor != 0) return bad("actor ids set");
      if (h.payload_len == 0) return bad("no payload");
      break;
    case direct_message:
    case routed_message:
      if (h.dest_actor == 0) return bad("no receiver");
      if (h.payload_len == 0) return bad("no payload");
      break;
    case monitor_message:
      if (h.payload_len == 0 || h.operation_data != 0) return bad("malformed");
      break;
    case down_message:
      if (h.source_actor == 0 || h.dest_actor != 0 || h.payload_len == 0 || h.operation_data != 0) {
        return bad("malformed");
      }
      break;
    case heartbeat:
      if (h.source_actor != 0 || h.dest_actor != 0 || h.payload_len != 0 || h.operation_data != 0) {
        return bad("fields set");
      }
      break;
    default:
      break;
  }
  return status::ok_status();
}

wire_guard::wire_guard(guard_role role, const guard_limits& limits, const swarm_key* key,
                       const std::array<uint8_t, 32>& nonce)
    : role_(role), limits_(limits), nonce_(nonce), stage_(key ? stage::hello : stage::header) {
  if (key == nullptr) return;
  key_ = *key;
  out_.resize(hello_size);
  std::memcpy(out_.data(), hello_magic, sizeof(hello_magic));
  out_[sizeof(hello_magic)] = hello_version;
  std::memcpy(out_.data() + sizeof(hello_magic) + 1, nonce_.data(), nonce_.size());
}

std::vector<uint8_t> wire_guard::take_output() {
  std::vector<uint8_t> out;
  out.swap(out_);
  return out;
}

size_t wire_guard::wanted() const {
  if (ready() > 0) return 0;
  switch (stage_) {
    case stage::hello:
      return hello_size - in_used_;
    case stage::proof:
      return proof_size - in_used_;
    case stage::header:
      return basp_header_size - in_used_;
    case stage::payload:
      return basp_header_size + payload_len_ - in_used_;
    case stage::failed:
      break;
  }
  return 0;
}

uint8_t* wire_guard::space(size_t n) {
  in_.resize(in_used_ + n);
  return in_.data() + in_used_;
}

status wire_guard::fail(status s) {
  stage_ = stage::failed;
  in_ = {};
  deliver_ = {};
  delivered_ = 0;
  return s;
}

status wire_guard::commit(size_t n) {
  if (stage_ == stage::failed) return status::corruption("the connection already failed");
  in_used_ += n;
  in_.resize(in_used_);
  if (wanted() != 0) return status::ok_status();
  switch (stage_) {
    case stage::hello:
      return on_hello();
    case stage::proof:
      return on_proof();
    case stage::header:
      return on_header();
    case stage::payload:
      if (operation_ == direct_message || operation_ == routed_message) {
        status s = check_message_payload(operation_, in_.data() + basp_header_size,
                                         in_.size() - basp_header_size, self_ ? &*self_ : nullptr,
                                         &known_);
        if (!s.ok()) return fail(std::move(s));
      }
      on_frame_complete();
      return status::ok_status();
    case stage::failed:
      break;
  }
  return status::ok_status();
}

status wire_guard::feed(const uint8_t* p, size_t n) {
  while (n > 0) {
    if (failed()) return status::corruption("the connection already failed");
    if (ready() > 0) return status::out_of_range("fed more than one frame ahead");
    const size_t take = std::min(n, wanted());
    std::memcpy(space(take), p, take);
    COROLLA_RETURN_IF_ERROR(commit(take));
    p += take;
    n -= take;
  }
  return status::ok_status();
}

void wire_guard::consume(size_t n) {
  delivered_ += n;
  if (delivered_ == deliver_.size()) {
    deliver_.clear();
    delivered_ = 0;
  }
}

std::array<uint8_t, 32> wire_guard::proof(guard_role sender,
                                          const std::array<uint8_t, 32>& receiver_nonce,
                                          const std::array<uint8_t, 32>& sender_nonce) const {
  std::vector<uint8_t> msg(proof_label, proof_label + sizeof(proof_label) - 1);
  msg.push_back(uint8_t(sender));
  msg.insert(msg.end(), receiver_nonce.begin(), receiver_nonce.end());
  msg.insert(msg.end(), sender_nonce.begin(), sender_nonce.end());
  std::array<uint8_t, 32> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_->bytes.data(), int(key_->bytes.size()), msg.data(), msg.size(),
       mac.data(), &len);
  return mac;
}

status wire_guard::on_hello() {
  if (std::memcmp(in_.data(), hello_magic, sizeof(hello_magic)) != 0) {
    return fail(status::corruption("the peer did not present a swarm key (no Corolla hello)"));
  }
  if (in_[sizeof(hello_magic)] != hello_version) {
    return fail(status::not_supported("swarm key handshake version " +
                                      std::to_string(in_[sizeof(hello_magic)])));
  }
  std::memcpy(peer_nonce_.data(), in_.data() + sizeof(hello_magic) + 1, peer_nonce_.size());
  if (peer_nonce_ == nonce_) return fail(status::corruption("the peer echoed this side's nonce"));
  const auto mine = proof(role_, peer_nonce_, nonce_);
  out_.insert(out_.end(), mine.begin(), mine.end());
  in_used_ = 0;
  in_.clear();
  stage_ = stage::proof;
  return status::ok_status();
}

status wire_guard::on_proof() {
  const guard_role peer_role =
      role_ == guard_role::acceptor ? guard_role::connector : guard_role::acceptor;
  const auto expected = proof(peer_role, nonce_, peer_nonce_);
  if (CRYPTO_memcmp(expected.data(), in_.data(), expected.size()) != 0) {
    return fail(status::corruption("the peer's swarm key proof is wrong (another key)"));
  }
  in_used_ = 0;
  in_.clear();
  stage_ = stage::header;
  return status::ok_status();
}

status wire_guard::on_header() {
  if (!established_ && std::memcmp(in_.data(), hello_magic, sizeof(hello_magic)) == 0) {
    return fail(status::invalid_argument(
        "the peer belongs to a private swarm and asks for its swarm key (this side has none)"));
  }
  const basp_header h = decode_basp_header(in_.data());
  status s = check_header(h, role_, established_, limits_);
  if (!s.ok()) return fail(std::move(s));
  if (h.operation == server_handshake || h.operation == client_handshake) established_ = true;
  payload_len_ = h.payload_len;
  operation_ = h.operation;
  if (payload_len_ == 0 && (operation_ == direct_message || operation_ == routed_message)) {
    return fail(check_message_payload(operation_, nullptr, 0, nullptr));
  }
  if (payload_len_ == 0) {
    on_frame_complete();
  } else {
    stage_ = stage::payload;
  }
  return status::ok_status();
}

void wire_guard::on_frame_complete() {
  deliver_.swap(in_);
  delivered_ = 0;
  in_.clear();
  in_used_ = 0;
  payload_len_ = 0;
  stage_ = stage::header;
  ++frames_;
}

}  // namespace corolla
