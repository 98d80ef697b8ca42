// head_transfer: a client that has no model file gets the head from a node of the swarm.
// Every node offers its model's head file (model/head_file.hpp, cut once and cached under
// its fingerprint); its routing table hands it out in chunks of at most 1 MiB; the client
// writes them to a part file, checks the whole file's checksum and size, and keeps it in
// its cache under the fingerprint and checksum, so the next start reads one chunk header
// and nothing else.
//
// Invariants:
//  1. A cached head is only used when its name matches the fingerprint and checksum the
//     peer announces now, and only renamed into place after its checksum matched.
//  2. Nothing a peer says makes the client allocate more than one chunk at a time or write
//     more than the size it announced first (and at most max_head_bytes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "messages/swarm.hpp"
#include "model/status.hpp"

namespace corolla {

// What a node offers: its head file, and that file's size and checksum.
struct head_offer {
  std::string path;
  std::string model_id;
  uint64_t bytes = 0;
  uint64_t checksum = 0;
  bool any() const { return !path.empty(); }
};

// Heads a client accepts, at most (a 70B model's head is ~2 GB at f16).
constexpr uint64_t max_head_bytes = uint64_t(16) << 30;

// $XDG_CACHE_HOME/corolla/heads, else ~/.cache/corolla/heads.
std::string default_head_cache();

// 64-bit FNV-1a over the file's 8-byte words (and its tail bytes). Errors: io_error.
result<uint64_t> head_checksum(const std::string& path);

// The head of the model at model_path (fingerprint model_id), cut into cache_dir when it is
// not there yet. Errors: the model's, io_error naming the cache.
result<head_offer> prepare_head(const std::string& model_path, const std::string& model_id,
                                const std::string& cache_dir);

// Bytes [offset, offset + min(length, 1 MiB)) of the offered file, with its description;
// length 0 asks for the description only. Errors: out_of_range past the end, io_error.
result<head_chunk> read_head_chunk(const head_offer& offer, uint64_t offset, uint64_t length);

struct fetched_head {
  std::string path;      // the head file in the cache
  std::string model_id;  // the swarm's model
  std::string peer;      // where it came from
  bool from_cache = false;
  uint64_t bytes = 0;
  double seconds = 0;
};

// The swarm's head through the first of `peers` that offers one. Blocking (a program's
// start). Errors: io_error naming every peer and why (unreachable, no head, a bad chunk).
result<fetched_head> fetch_head(caf::actor_system& system, const std::vector<std::string>& peers,
                                const std::string& cache_dir, std::chrono::milliseconds timeout);

}  // namespace corolla
