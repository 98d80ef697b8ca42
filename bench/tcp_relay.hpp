// tcp_relay: a TCP forwarder on 127.0.0.1 between a process and a node, for tests and
// benchmarks — it can record what each side sent (the wire fuzzer's seeds are real
// traffic captured this way), change one byte of it, as a faulty link or a meddler, and
// shape each direction like a real link (latency, jitter, bandwidth, stalls: this
// machine's kernel has no netem qdisc).
//
// Thread safety: start() and the destructor from one thread; recorded() after the
// connections it asks about have closed or the relay has stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace corolla {

// One direction of a link, as the relay emulates it: a chunk read at t leaves at
// max(t, when the link is free) + its size / bandwidth + latency + jitter, never before
// the chunk ahead of it (TCP keeps order); with probability stall_fraction it is also held
// back `stall` (a lost packet's retransmission, as TCP sees loss). All zero: no shaping.
struct link_shape {
  std::chrono::microseconds latency{0};  // one way
  std::chrono::microseconds jitter{0};   // uniform in [0, jitter], added to the latency
  double mbps = 0;                       // megabits per second; 0: no cap
  double stall_fraction = 0;
  std::chrono::microseconds stall{200000};
  uint64_t seed = 1;  // the jitter's and the stalls'
  bool shaped() const {
    return latency.count() > 0 || jitter.count() > 0 || mbps > 0 || stall_fraction > 0;
  }
};

// A blocking TCP connection to 127.0.0.1:port; -1 when refused.
int connect_loopback(uint16_t port);

// A socket listening on 127.0.0.1 at a port the kernel picks (`port`); -1 when none.
int listen_loopback(uint16_t& port);

// A port of 127.0.0.1 the kernel just handed out and nobody listens on, for a process that
// must know its port before it starts (another may take it first); 0 when none.
uint16_t free_loopback_port();

class tcp_relay {
 public:
  // What one relayed connection carried, each direction in order.
  struct recording {
    std::string to_target;    // bytes the connecting side sent
    std::string from_target;  // bytes the target answered
  };

  // Listens on a free port of 127.0.0.1 and forwards every connection to
  // 127.0.0.1:target_port.
  explicit tcp_relay(uint16_t target_port, bool record = false);
  ~tcp_relay();
  tcp_relay(const tcp_relay&) = delete;
  tcp_relay& operator=(const tcp_relay&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void stop();
  std::vector<recording> recorded();
  // The (skip + 1)-th time `needle` passes towards the target within one read, its last
  // byte is changed; mangled() says whether that happened.
  void mangle_once(const std::string& needle, int skip);
  bool mangled() const { return mangled_; }
  // Connections accepted from now on carry bytes both ways as `shape` says.
  void set_link(const link_shape& shape);

 private:
  void accept_loop();
  void pump(int from, int to, size_t index, bool to_target, link_shape shape);

  uint16_t target_port_;
  bool record_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  link_shape shape_;  // under mu_
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> pumps_;
  std::vector<int> fds_;
  std::vector<recording> recordings_;
  std::string needle_;
  int skip_ = 0;
  std::atomic<bool> mangled_{false};
};

}  // namespace corolla
