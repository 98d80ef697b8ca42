// session_pool: which generation session an HTTP request runs on. Chat clients resend
// the whole conversation every turn; a session kept open after its answer still holds
// that conversation's keys and values on its servers, so a request that extends it only
// prefills the new tokens (positions are explicit: one that diverges truncates to the
// common prefix). Plain class, no CAF: the gateway maps its ids to client actors.
//
// Invariants:
//  1. At most max_active leases are out at once (admission: the gateway answers 503
//     beyond it); at most max_idle sessions are kept between requests, the least recently
//     used evicted first.
//  2. A kept session is leased to one request at a time.
//  3. A request gets the kept session sharing the longest prefix with its tokens, if that
//     prefix is longer than min_shared tokens; otherwise a new session.
// Not thread-safe: the gateway holds a mutex around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace corolla {

class session_pool {
 public:
  session_pool(size_t max_active, size_t max_idle, size_t min_shared = 1)
      : max_active_(max_active), max_idle_(max_idle), min_shared_(min_shared) {}

  struct lease {
    uint64_t id = 0;
    bool fresh = true;         // a new session: the gateway starts a client for id
    size_t shared_tokens = 0;  // a kept session's tokens the request starts with
  };

  // A session for a request with `tokens`; nullopt when max_active are out.
  std::optional<lease> acquire(const std::vector<int32_t>& tokens);

  // The request on `id` ended. With keep, its session stays open holding `context` (the
  // tokens its caches now hold, or a prefix of them); returns the ids the gateway must
  // close: `id` itself when not kept, and kept sessions evicted to stay within max_idle.
  std::vector<uint64_t> release(uint64_t id, std::vector<int32_t> context, bool keep);

  // The least recently used kept session, removed (the servers' KV budget is short);
  // nullopt when none is kept.
  std::optional<uint64_t> evict_idle();

  size_t active() const { return active_; }
  size_t idle() const { return idle_.size(); }
  size_t max_active() const { return max_active_; }

 private:
  struct kept {
    uint64_t id = 0;
    uint64_t last_used = 0;
    std::vector<int32_t> context;
  };

  size_t max_active_;
  size_t max_idle_;
  size_t min_shared_;
  size_t active_ = 0;
  uint64_t next_id_ = 1;
  uint64_t clock_ = 0;  // logical: order of use is all LRU needs
  std::vector<kept> idle_;
};

}  // namespace corolla
