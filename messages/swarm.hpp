// swarm messages: what the routing table knows about servers and how a client asks
// it for a route.
//
// A server_record is owned by its server: only the owner raises its version, and a
// replica keeps the highest version it has seen per server. Field order is wire
// order; new fields go at the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "messages/wire_fields.hpp"

namespace corolla {

// The most servers a message lists; a longer list from a peer is malformed.
constexpr size_t max_servers = 4096;

enum class serving_state : uint8_t { joining = 0, online = 1, draining = 2, offline = 3 };
const char* to_string(serving_state s);

// A random id for a server or a session: chosen by its owner, unique in the swarm
// with overwhelming probability.
uint64_t random_id();

// "[start, end)": how messages and logs write a span of blocks.
std::string span_text(int64_t start, int64_t end);

struct server_record {
  uint64_t server_id = 0;
  std::string name;  // for logs and /route
  uint32_t protocol_version = 0;
  int64_t start_block = 0;  // the span served, [start, end)
  int64_t end_block = 0;
  uint8_t state = 0;                // a serving_state
  double compute_ms_per_block = 0;  // one decode step through one block
  double rtt_ms = 0;                // round trip to the server as last measured
  int64_t cache_bytes_free = 0;
  uint64_t version = 0;  // raised by the owner on every change
  std::string host;      // where the server's node listens ("" for an in-process swarm)
  uint32_t port = 0;
  std::string model_id;        // the model's fingerprint (model/model_id.hpp)
  int64_t sessions = 0;        // open on the server
  uint8_t codec = 0;           // the tensor_codec its hidden states travel in
  int64_t block_restarts = 0;  // times its block actors were restarted after a crash
  // What balancing counts the server as: steps per second through its whole span,
  // min(compute, network) (actors/balancer.hpp).
  double throughput = 0;
  // While it drains to move: the span it is moving to (-1: none). Balancers count it
  // there already, so that two servers do not move into the same gap.
  int64_t next_start = -1;
  int64_t next_end = -1;
  int64_t kv_rows = 0;  // tokens held in its sessions' caches (each row spans its blocks)
  // Its node's balancer may move it now: it balances and has a move left within the hour
  // (plan mode plans moves for these servers alone).
  bool movable = false;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(server_id, text_field(name), protocol_version, start_block, end_block, state,
       compute_ms_per_block, rtt_ms, cache_bytes_free, version, text_field(host), port,
       text_field(model_id), sessions, codec, block_restarts, throughput, next_start, next_end,
       kv_rows, movable);
  }
};

struct route_request {
  int64_t start_block = 0;  // cover [start, end)
  int64_t end_block = 0;
  std::vector<uint64_t> excluded;  // server ids not to use (banned by the client)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(start_block, end_block, bounded_list<max_servers>(excluded));
  }
};

// What a replica offers in gossip instead of a whole record (actors/gossip_policy.hpp):
// the server, the version it holds, and whether that version is a death notice — a
// replica that saw the server die (its node's connection lost) says so, and a holder of
// that version or an older one drops the record. Only the owner raises a version, so a
// server wrongly declared dead comes back with its next announcement.
struct gossip_entry {
  uint64_t server_id = 0;
  uint64_t version = 0;
  bool dead = false;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(server_id, version, dead);
  }
};

// The most entries a gossip message lists: a swarm of 65,536 servers in one first table.
constexpr size_t max_gossip_entries = 65536;
// The most bucket sums an offer carries (two per bucket).
constexpr size_t max_gossip_sums = 4096;

// Gossip between routing tables (actors/gossip_policy.hpp), protocol 6: a table offers
// entries — a periodic round's rumors and every few rounds its bucket sums, or news — and
// the peer answers what it wants, its own rumors and its entries of the buckets that
// differ; records then go both ways (gossip_records). A table refuses an offer from
// another protocol version or model.
struct gossip_offer {
  uint32_t protocol_version = 0;
  std::string model_id;
  std::vector<gossip_entry> entries;
  std::vector<uint64_t> sums;  // empty: no comparison this time
  bool periodic = false;       // answer with the peer's own rumors too
  bool everything = false;     // a first table: answer with every entry held

  template <class Archive>
  void serialize(Archive& ar) {
    ar(protocol_version, text_field(model_id), bounded_list<max_gossip_entries>(entries),
       bounded_values<max_gossip_sums>(sums), periodic, everything);
  }
};

struct gossip_answer {
  std::vector<uint64_t> wants;       // servers whose records the offer has newer
  std::vector<gossip_entry> entries;  // the answering table's rumors
  std::vector<gossip_entry> listed;   // its entries of `buckets`
  std::vector<int32_t> buckets;       // the buckets whose sums differ, as far as listed

  template <class Archive>
  void serialize(Archive& ar) {
    ar(bounded_values<max_gossip_entries>(wants),
       bounded_list<max_gossip_entries>(entries), bounded_list<max_gossip_entries>(listed),
       bounded_values<max_gossip_sums>(buckets));
  }
};

// Records (their handles travel beside them, one per record), death notices, and the
// servers whose records the sender wants back.
struct gossip_records {
  std::vector<server_record> records;
  std::vector<gossip_entry> deaths;
  std::vector<uint64_t> wants;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(bounded_list<max_servers>(records), bounded_list<max_gossip_entries>(deaths),
       bounded_values<max_gossip_entries>(wants));
  }
};

// A piece of a node's head file (model/head_file.hpp), for a client that has no model
// file: `corolla gguf head` done by the node, fetched in chunks and checked whole.
constexpr uint64_t max_head_chunk_bytes = uint64_t(1) << 20;

struct head_chunk {
  std::string model_id;  // the fingerprint the head file carries
  uint64_t total_bytes = 0;
  uint64_t checksum = 0;  // of the whole file (actors/head_transfer.hpp)
  uint64_t offset = 0;
  std::string data;  // bytes [offset, offset + data.size()), one binary blob on the wire

  template <class Archive>
  void serialize(Archive& ar) {
    ar(text_field(model_id), total_bytes, checksum, offset,
       bounded_text<max_head_chunk_bytes>{data});
  }
};

}  // namespace corolla
