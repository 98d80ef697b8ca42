// tcp_relay: a TCP forwarder on 127.0.0.1 between a process and a node, for tests and
// benchmarks — it can record what each side sent (the wire fuzzer's seeds are real
// traffic captured this way), change one byte of it, as a faulty link or a meddler, and
// hold every byte back a one-way latency in each direction, as a long link does (this
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

// A blocking TCP connection to 127.0.0.1:port; -1 when refused.
int connect_loopback(uint16_t port);

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
  // Every byte of connections accepted from now on reaches the other side this long
  // after the relay read it, in both directions; bytes keep their order and the link
  // its throughput (a delay line, not a pause).
  void set_one_way_latency(std::chrono::microseconds latency) { latency_us_ = latency.count(); }

 private:
  void accept_loop();
  void pump(int from, int to, size_t index, bool to_target, std::chrono::microseconds latency);

  uint16_t target_port_;
  bool record_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> latency_us_{0};
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
