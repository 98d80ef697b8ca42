// routing_table: one replica of the swarm's server records, and routes over them.
//
// Owns: the records (membership: versions, TTL, tombstones), per server its handle and
// the round trip this process measured to it, and per peer node ("host:port" its
// records announce) the handle of that node's routing table.
// Talks to: its local server (announce), peers' tables (gossip), every server it knows
// (info pings that measure round trips and refresh records), client sessions (routes).
//
// Every gossip period: expire records, push-pull with one connected peer chosen at
// random, ping every remote server, connect to peers announced but not connected yet
// (CAF 0.17 does not connect nodes by itself). A server that dies, or whose node's
// connection is lost (heartbeats), is dropped at once: the table monitors every server.
// Routes use only servers of this process or of connected peers, so a step never goes
// through a third node.
#include "actors/routing_table.hpp"

#include <algorithm>
#include <charconv>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>

#include <caf/actor_ostream.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/gossip_policy.hpp"
#include "actors/local_only.hpp"
#include "actors/membership.hpp"
#include "actors/route_planner.hpp"

namespace corolla {

using clock_time = std::chrono::steady_clock::time_point;

struct routing_table_state {
  struct peer {
    routing_table_actor table;  // null until connected
    bool connecting = false;
    std::chrono::steady_clock::time_point last_attempt;
  };
  membership members;
  std::map<uint64_t, server_actor> handles;         // by server id, for every record held
  std::map<uint64_t, double> rtt_ms;                // measured by this process
  std::map<uint64_t, server_observation> observed;  // by this process's clients
  std::map<std::string, peer> peers;                // by announced "host:port"
  // Addresses joined through: tried again while no peer is connected, so a process
  // whose whole swarm went away finds it when it comes back.
  std::set<std::string> seeds;
  gossip_settings gossip;
  gossip_rumors rumors{gossip_settings{}.rumor_rounds};
  int64_t rounds = 0;
  // This node's servers: when each record last became a rumor (refreshes are rationed),
  // and those a peer declared dead (their next announcement is news).
  std::map<uint64_t, clock_time> rumored_at;
  std::set<uint64_t> refute;
  size_t ping_from = 0;  // where this round's pings start among the servers
  std::mt19937_64 rng;
  span_host_actor host;  // this node's room for more blocks, if it has any
  static inline const char* name = "routing_table";
};

namespace {

using table_pointer = routing_table_actor::stateful_pointer<routing_table_state>;
using clock = std::chrono::steady_clock;

std::string address_of(const server_record& r) {
  return r.host.empty() ? std::string() : r.host + ":" + std::to_string(r.port);
}

bool is_local(table_pointer self, const server_actor& handle) {
  return handle && handle.node() == self->node();
}

// A server a step may go to: in this process, or on a node this table is connected to.
bool routable(table_pointer self, const server_record& r) {
  auto h = self->state.handles.find(r.server_id);
  if (h == self->state.handles.end()) return false;
  if (is_local(self, h->second)) return true;
  auto p = self->state.peers.find(address_of(r));
  return p != self->state.peers.end() && p->second.table;
}

// Drops a server that died or expired (a no-op for membership when it already expired).
void forget(table_pointer self, uint64_t server_id) {
  self->state.members.drop(server_id, clock::now());
  self->state.handles.erase(server_id);
  self->state.rtt_ms.erase(server_id);
  self->state.observed.erase(server_id);
}

void connect_peer(table_pointer self, const routing_table_config& cfg, const std::string& address,
                  std::function<void(caf::expected<routing_table_actor>)> done);

void exchange(table_pointer self, const routing_table_config& cfg, const routing_table_actor& peer,
              gossip_offer offer, std::function<void(caf::error)> done);

// A change other replicas hear of at once rather than at the server's next refresh: a
// server new to this replica, or one that changed state, span or movability.
bool structural(const server_record* before, const server_record& after) {
  return !before || before->state != after.state || before->start_block != after.start_block ||
         before->end_block != after.end_block || before->next_start != after.next_start ||
         before->next_end != after.next_end || before->movable != after.movable;
}

enum class taken { no, update, news };

// Takes a record (and its server's handle) if it is newer than what this replica holds;
// `rumor`: an update becomes a rumor (news always does). `from_peer`: it came in another
// node's gossip, which may not speak for this node's own servers (their records come from
// announce alone), nor move a known server's handle to another node.
taken take(table_pointer self, const routing_table_config& cfg, const server_record& record,
           const server_actor& handle, bool from_peer, bool rumor) {
  if (!handle) return taken::no;
  if (from_peer && is_local(self, handle)) return taken::no;
  if (auto known = self->state.handles.find(record.server_id);
      known != self->state.handles.end() && known->second.node() != handle.node()) {
    return taken::no;
  }
  const server_record* before = self->state.members.find(record.server_id);
  const bool news = structural(before, record);
  auto merged = self->state.members.merge(record, clock::now());
  if (!merged.ok() || *merged == membership::merged::stale) return taken::no;
  if (*merged == membership::merged::added) self->monitor(handle);
  self->state.handles[record.server_id] = handle;
  if (news || rumor)
    self->state.rumors.heard(gossip_entry{record.server_id, record.version, false});
  const std::string address = address_of(record);
  if (cfg.network && !address.empty() && !is_local(self, handle) &&
      !self->state.peers.count(address)) {
    connect_peer(self, cfg, address, nullptr);
  }
  return news ? taken::news : taken::update;
}

// A death notice from a peer. One about this node's own server is not taken: the server
// announces itself again at once, with a version that revives it everywhere.
bool take_death(table_pointer self, const gossip_entry& notice) {
  auto h = self->state.handles.find(notice.server_id);
  if (h != self->state.handles.end() && is_local(self, h->second)) {
    const server_record* r = self->state.members.find(notice.server_id);
    if (r && self->state.refute.insert(notice.server_id).second) {
      caf::aout(self) << r->name << ": a peer declared it dead (version " << notice.version
                      << "); announcing it again\n";
    }
    return false;
  }
  if (!self->state.members.kill(notice, clock::now())) return false;
  forget(self, notice.server_id);
  self->state.rumors.heard(notice);
  return true;
}

std::vector<routing_table_actor> connected_peers(table_pointer self) {
  std::vector<routing_table_actor> out;
  for (const auto& [address, p] : self->state.peers) {
    if (p.table) out.push_back(p.table);
  }
  return out;
}

gossip_offer make_offer(const routing_table_config& cfg, std::vector<gossip_entry> entries) {
  gossip_offer offer;
  offer.protocol_version = protocol_version;
  offer.model_id = cfg.model_id;
  offer.entries = std::move(entries);
  return offer;
}

// News goes to `fanout` connected peers at once; they ask for the records they lack.
void spread(table_pointer self, const routing_table_config& cfg,
            const std::vector<gossip_entry>& news) {
  if (news.empty() || !cfg.network) return;
  const std::vector<routing_table_actor> peers = connected_peers(self);
  for (size_t i : pick_distinct(peers.size(), size_t(self->state.gossip.fanout), self->state.rng)) {
    exchange(self, cfg, peers[i], make_offer(cfg, news), nullptr);
  }
}

// Records for `ids` as this replica holds them, at most max_servers (the rest wait for
// the next exchange), with their handles; tombstones go as death notices.
void add_records(table_pointer self, const std::vector<uint64_t>& ids, gossip_records& out,
                 std::vector<server_actor>& handles) {
  for (uint64_t id : ids) {
    if (out.records.size() == max_servers) return;
    if (const server_record* r = self->state.members.find(id)) {
      out.records.push_back(*r);
      handles.push_back(self->state.handles.at(id));
    } else if (auto e = self->state.members.entry(id); e && e->dead) {
      out.deaths.push_back(*e);
    }
  }
}

// A live entry whose record this replica should ask for.
bool wanted(table_pointer self, const gossip_entry& e) {
  auto held = self->state.members.entry(e.server_id);
  return !e.dead && (!held || supersedes(e, *held));
}

// Takes records (with their handles) and death notices from a peer; the news among them.
caf::expected<std::vector<gossip_entry>> take_records(table_pointer self,
                                                      const routing_table_config& cfg,
                                                      const gossip_records& in,
                                                      const std::vector<server_actor>& handles,
                                                      bool from_peer) {
  if (handles.size() != in.records.size()) {
    return make_error(errc::malformed_message, "gossip of " + std::to_string(in.records.size()) +
                                                   " records with " +
                                                   std::to_string(handles.size()) + " handles");
  }
  std::vector<gossip_entry> news;
  for (size_t i = 0; i < handles.size(); ++i) {
    const server_record& r = in.records[i];
    if (take(self, cfg, r, handles[i], from_peer, true) == taken::news) {
      news.push_back(gossip_entry{r.server_id, r.version, false});
    }
  }
  for (const gossip_entry& notice : in.deaths) {
    if (notice.dead && take_death(self, notice)) news.push_back(notice);
  }
  return news;
}

// The answer to a peer's offer: what this replica wants of it, its rumors (for a periodic
// round), and its entries of the buckets whose sums differ (of every bucket for a first
// table).
caf::result<gossip_answer> answer_offer(table_pointer self, const routing_table_config& cfg,
                                        const gossip_offer& offer) {
  routing_table_state& st = self->state;
  if (status ok = st.members.accepts(offer.protocol_version, offer.model_id); !ok.ok()) {
    return make_error(errc::protocol_mismatch, ok.message());
  }
  gossip_answer answer;
  std::vector<gossip_entry> news;
  std::map<uint64_t, gossip_entry> offered;
  for (const gossip_entry& e : offer.entries) {
    offered[e.server_id] = e;
    if (e.dead) {
      if (take_death(self, e)) news.push_back(e);
    } else if (wanted(self, e)) {
      answer.wants.push_back(e.server_id);
    }
  }
  if (offer.periodic) {
    for (const gossip_entry& e : st.rumors.hot()) {
      auto it = offered.find(e.server_id);
      if (it == offered.end() || supersedes(e, it->second)) answer.entries.push_back(e);
    }
  }
  std::vector<int> buckets;
  if (offer.everything) {
    answer.listed = st.members.entries({});
  } else if (!offer.sums.empty()) {
    buckets = st.members.sums().differing(offer.sums, st.gossip.listed_buckets, st.rng);
    if (!buckets.empty()) answer.listed = st.members.entries(buckets);
  }
  for (int b : buckets) answer.buckets.push_back(int32_t(b));
  if (answer.listed.size() > max_gossip_entries) answer.listed.resize(max_gossip_entries);
  spread(self, cfg, news);
  return answer;
}

// After the peer's answer: the records it wants and this replica's newer entries of the
// listed buckets go to it, with what this replica wants of its rumors and listed entries.
gossip_records records_for(table_pointer self, const gossip_answer& answer,
                           std::vector<server_actor>& handles, std::vector<gossip_entry>& news) {
  routing_table_state& st = self->state;
  gossip_records out;
  std::vector<uint64_t> send = answer.wants;
  std::map<uint64_t, gossip_entry> theirs;
  auto consider = [&](const gossip_entry& e) {
    if (e.dead) {
      if (take_death(self, e)) news.push_back(e);
    } else if (wanted(self, e)) {
      out.wants.push_back(e.server_id);
    }
  };
  for (const gossip_entry& e : answer.entries) consider(e);
  for (const gossip_entry& e : answer.listed) {
    theirs[e.server_id] = e;
    consider(e);
  }
  std::vector<int> buckets;
  for (int32_t b : answer.buckets) buckets.push_back(int(b));
  if (!buckets.empty()) {
    for (const gossip_entry& mine : st.members.entries(buckets)) {
      auto it = theirs.find(mine.server_id);
      if (it == theirs.end() || supersedes(mine, it->second)) send.push_back(mine.server_id);
    }
  }
  std::sort(send.begin(), send.end());
  send.erase(std::unique(send.begin(), send.end()), send.end());
  add_records(self, send, out, handles);
  if (out.wants.size() > max_gossip_entries) out.wants.resize(max_gossip_entries);
  return out;
}

// Records (and wants) to `peer`; its reply's records taken. A reply that comes back full
// (max_servers records) is asked again for the rest.
void send_records(table_pointer self, const routing_table_config& cfg,
                  const routing_table_actor& peer, gossip_records records,
                  std::vector<server_actor> handles, std::function<void(caf::error)> done) {
  const std::vector<uint64_t> asked = records.wants;
  self->request(peer, cfg.peer_timeout, gossip_atom::value, std::move(records), std::move(handles))
      .then(
          [self, cfg, peer, asked, done](gossip_records& back,
                                         std::vector<server_actor>& back_handles) {
            auto news = take_records(self, cfg, back, back_handles, peer.node() != self->node());
            if (!news) {
              if (done) done(news.error());
              return;
            }
            spread(self, cfg, *news);
            gossip_records rest;
            if (back.records.size() == max_servers) {
              for (uint64_t id : asked) {
                if (!self->state.members.entry(id)) rest.wants.push_back(id);
              }
            }
            if (rest.wants.empty()) {
              if (done) done(caf::error{});
              return;
            }
            send_records(self, cfg, peer, std::move(rest), {}, done);
          },
          [done](caf::error& err) {
            if (done) done(std::move(err));
          });
}

// One exchange with `peer`: the offer, the peer's answer, then records both ways; `done`
// gets the outcome.
void exchange(table_pointer self, const routing_table_config& cfg, const routing_table_actor& peer,
              gossip_offer offer, std::function<void(caf::error)> done) {
  self->request(peer, cfg.peer_timeout, gossip_atom::value, std::move(offer))
      .then(
          [self, cfg, peer, done](gossip_answer& answer) {
            std::vector<server_actor> handles;
            std::vector<gossip_entry> news;
            gossip_records records = records_for(self, answer, handles, news);
            spread(self, cfg, news);
            if (records.records.empty() && records.deaths.empty() && records.wants.empty()) {
              if (done) done(caf::error{});
              return;
            }
            send_records(self, cfg, peer, std::move(records), std::move(handles), done);
          },
          [done](caf::error& err) {
            if (done) done(std::move(err));
          });
}

// An offer of this replica's rumors that asks for the peer's in return.
gossip_offer push_pull_offer(table_pointer self, const routing_table_config& cfg) {
  gossip_offer offer = make_offer(cfg, self->state.rumors.hot());
  offer.periodic = true;
  return offer;
}

// A periodic round's offer: the rumors, and every anti_entropy_every rounds the sums.
gossip_offer round_offer(table_pointer self, const routing_table_config& cfg) {
  routing_table_state& st = self->state;
  gossip_offer offer = push_pull_offer(self, cfg);
  if (++st.rounds % st.gossip.anti_entropy_every == 0) offer.sums = st.members.sums().sums();
  st.rumors.round_done();
  return offer;
}

void connect_peer(table_pointer self, const routing_table_config& cfg, const std::string& address,
                  std::function<void(caf::expected<routing_table_actor>)> done) {
  std::string host;
  uint16_t port = 0;
  if (!split_address(address, host, port)) {
    if (done) done(make_error(errc::malformed_message, "'" + address + "' is not host:port"));
    return;
  }
  auto& p = self->state.peers[address];
  p.connecting = true;
  p.last_attempt = clock::now();
  auto fail = [self, address, done](caf::error err) {
    self->state.peers[address].connecting = false;
    if (done) done(std::move(err));
  };
  self->request(cfg.network, cfg.peer_timeout, caf::connect_atom::value, host, port)
      .then(
          [self, cfg, address, done, fail](const caf::node_id&, caf::strong_actor_ptr& ptr,
                                           const std::set<std::string>& ifs) {
            if (!ptr) {
              fail(make_error(errc::malformed_message, address + " publishes no actor"));
              return;
            }
            if (!self->system().assignable<routing_table_actor>(ifs)) {
              fail(
                  make_error(errc::protocol_mismatch,
                             address + " is not a Corolla routing table of this protocol version"));
              return;
            }
            auto table = caf::actor_cast<routing_table_actor>(std::move(ptr));
            auto& peer = self->state.peers[address];
            peer.connecting = false;
            peer.table = table;
            self->monitor(table);
            if (done) {
              done(table);
            } else {
              // A new peer: compare sums at once.
              gossip_offer offer = push_pull_offer(self, cfg);
              offer.sums = self->state.members.sums().sums();
              exchange(self, cfg, table, std::move(offer), nullptr);
            }
          },
          [address, fail](caf::error& err) {
            fail(make_error(errc::no_route, "can not reach " + address + ": " + describe(err)));
          });
}

// Pings measure round trips for routes and fetch each server's own word, a few servers a
// round in turn (gossip_settings::pings_per_round), so a large swarm's pings stay bounded.
void ping_servers(table_pointer self, const routing_table_config& cfg) {
  std::vector<std::pair<uint64_t, server_actor>> remote;
  for (const auto& [id, handle] : self->state.handles) {
    const server_record* r = self->state.members.find(id);
    if (r && !is_local(self, handle) && routable(self, *r)) remote.emplace_back(id, handle);
  }
  const size_t n = std::min(remote.size(), size_t(self->state.gossip.pings_per_round));
  for (size_t k = 0; k < n; ++k) {
    const auto [server_id, handle] = remote[(self->state.ping_from + k) % remote.size()];
    const auto sent = clock::now();
    self->request(handle, cfg.peer_timeout, info_atom::value)
        .then(
            [self, cfg, sent, server_id = server_id, handle = handle](const server_record& fresh) {
              const double ms =
                  std::chrono::duration<double, std::milli>(clock::now() - sent).count();
              auto it = self->state.rtt_ms.find(server_id);
              self->state.rtt_ms[server_id] =
                  it == self->state.rtt_ms.end() ? ms : 0.8 * it->second + 0.2 * ms;
              // The server's own word; a structural change in it is news.
              if (take(self, cfg, fresh, handle, false, false) == taken::news) {
                spread(self, cfg, {gossip_entry{fresh.server_id, fresh.version, false}});
              }
            },
            [](const caf::error&) {});
  }
  self->state.ping_from += n;
}

void on_tick(table_pointer self, const routing_table_config& cfg) {
  routing_table_state& st = self->state;
  const auto now = clock::now();
  if (cfg.record_ttl.count() > 0) {
    st.members.set_ttl(record_ttl(st.members.records().size(), st.gossip));
  }
  for (uint64_t id : st.members.expire(now)) forget(self, id);
  const std::vector<routing_table_actor> connected = connected_peers(self);
  if (!connected.empty()) {
    const auto peer = connected[size_t(random_below(st.rng, connected.size()))];
    exchange(self, cfg, peer, round_offer(self, cfg), nullptr);
  } else {
    st.rumors.round_done();
  }
  ping_servers(self, cfg);
  if (connected.empty()) {
    for (const std::string& seed : st.seeds) {
      auto p = st.peers.find(seed);
      if (p == st.peers.end() ||
          (!p->second.connecting && now - p->second.last_attempt > 2 * cfg.gossip_period)) {
        connect_peer(self, cfg, seed, nullptr);
      }
    }
  }
  // Peers announced in records but not connected: retry now and then.
  for (const auto& [id, r] : st.members.records()) {
    const std::string address = address_of(r);
    if (address.empty()) continue;
    auto p = st.peers.find(address);
    const bool idle = p == st.peers.end() || (!p->second.table && !p->second.connecting &&
                                              now - p->second.last_attempt > 2 * cfg.gossip_period);
    if (idle && !is_local(self, st.handles.at(id))) {
      connect_peer(self, cfg, address, nullptr);
    }
  }
  self->delayed_send(self, cfg.gossip_period, tick_atom::value);
}

// Every record as routing and balancing count it (membership.hpp, invariant 5), with
// this process's round trip to it.
std::vector<server_record> checked_records(table_pointer self) {
  const routing_table_state& st = self->state;
  const double median = median_ms_per_block(st.members.records());
  std::vector<server_record> out;
  for (const auto& [id, r] : st.members.records()) {
    auto seen = st.observed.find(id);
    out.push_back(checked_record(r, median, seen == st.observed.end() ? nullptr : &seen->second));
    auto rtt = st.rtt_ms.find(id);
    out.back().rtt_ms = rtt == st.rtt_ms.end() ? 0.0 : rtt->second;
  }
  return out;
}

caf::result<std::vector<route_hop>> find_route(table_pointer self, const route_request& req) {
  std::vector<route_candidate> candidates;
  for (const server_record& r : checked_records(self)) {
    const uint64_t id = r.server_id;
    const bool excluded =
        std::find(req.excluded.begin(), req.excluded.end(), id) != req.excluded.end();
    if (excluded || r.state != uint8_t(serving_state::online) || !routable(self, r)) continue;
    candidates.push_back(route_candidate_of(r));
  }
  auto planned = plan_min_latency_route(candidates, req.start_block, req.end_block);
  if (!planned) {
    // A server runs any part of its span, so there is no route exactly when a block has
    // no server: name those blocks.
    std::string missing;
    for (int64_t b = req.start_block; b < req.end_block;) {
      auto holds = [&](int64_t block) {
        return std::any_of(candidates.begin(), candidates.end(), [&](const route_candidate& c) {
          return c.start_block <= block && block < c.end_block;
        });
      };
      if (holds(b)) {
        ++b;
        continue;
      }
      const int64_t first = b;
      while (b < req.end_block && !holds(b)) ++b;
      missing += (missing.empty() ? "" : ", ") + span_text(first, b);
    }
    return make_error(errc::no_route, "no online server holds blocks " + missing +
                                          " (route over [" + std::to_string(req.start_block) +
                                          ", " + std::to_string(req.end_block) + "), " +
                                          std::to_string(candidates.size()) + " candidates)");
  }
  std::vector<route_hop> hops;
  for (const planned_hop& p : *planned) {
    server_record r = *self->state.members.find(p.server_id);
    r.rtt_ms = self->state.rtt_ms.count(p.server_id) ? self->state.rtt_ms[p.server_id] : 0.0;
    hops.push_back(route_hop{r, self->state.handles.at(p.server_id), p.start_block, p.end_block});
  }
  return hops;
}

// Offers this node's servers (and the rumors) to every connected peer as news; `done`
// gets how many exchanges completed.
void push_all(table_pointer self, const routing_table_config& cfg,
              std::function<void(uint64_t)> done) {
  struct progress {
    size_t pending = 0;
    uint64_t acknowledged = 0;
  };
  const std::vector<routing_table_actor> peers = connected_peers(self);
  if (peers.empty()) {
    if (done) done(0);
    return;
  }
  std::vector<gossip_entry> entries = self->state.rumors.hot();
  for (const auto& [id, handle] : self->state.handles) {
    const server_record* r = self->state.members.find(id);
    if (r && is_local(self, handle)) entries.push_back(gossip_entry{id, r->version, false});
  }
  auto p = std::make_shared<progress>();
  p->pending = peers.size();
  for (const routing_table_actor& peer : peers) {
    exchange(self, cfg, peer, make_offer(cfg, entries), [p, done](caf::error err) {
      if (!err) ++p->acknowledged;
      if (--p->pending == 0 && done) done(p->acknowledged);
    });
  }
}

// Loading a span takes seconds on a big model.
constexpr auto host_timeout = std::chrono::seconds(120);
// The largest link probe a table sends on request: a fast link is timed well with a
// few MiB, and a caller's mistake should not stall the link for long.
constexpr uint64_t max_probe_bytes = uint64_t(64) << 20;

// Asks peers[i], then the next, to host [start, end); the first record, or an error
// listing every refusal.
void ask_to_host(table_pointer self, std::vector<std::pair<std::string, routing_table_actor>> peers,
                 size_t i, int64_t start, int64_t end,
                 caf::typed_response_promise<server_record> promise, std::string refusals) {
  if (i == peers.size()) {
    promise.deliver(make_error(
        errc::no_route, "no node hosts blocks [" + std::to_string(start) + ", " +
                            std::to_string(end) + ")" +
                            (refusals.empty() ? std::string(": no peer connected") : refusals)));
    return;
  }
  const routing_table_actor peer = peers[i].second;
  self->request(peer, host_timeout, host_atom::value, start, end)
      .then([promise](server_record& r) mutable { promise.deliver(std::move(r)); },
            [self, peers = std::move(peers), i, start, end, promise,
             refusals](caf::error& e) mutable {
              refusals += "\n  " + peers[i].first + ": " + describe(e);
              ask_to_host(self, std::move(peers), i + 1, start, end, promise, refusals);
            });
}

// The link to the first connected peer in bytes per second: a `bytes` payload's round
// trip less a one-byte one's (the answers are a few bytes either way).
caf::result<double> measure_link(table_pointer self, const routing_table_config& cfg,
                                 uint64_t bytes) {
  routing_table_actor peer;
  for (const auto& [address, p] : self->state.peers) {
    if (p.table) {
      peer = p.table;
      break;
    }
  }
  if (!peer) return make_error(errc::no_route, "no peer to measure the link against");
  if (bytes < 2 || bytes > max_probe_bytes) {
    return make_error(errc::malformed_message,
                      "a link probe takes 2 to " + std::to_string(max_probe_bytes) + " bytes");
  }
  auto promise = self->make_response_promise<double>();
  auto fail = [promise](caf::error& e) mutable { promise.deliver(std::move(e)); };
  const auto sent = clock::now();
  self->request(peer, cfg.peer_timeout, probe_atom::value, std::string(1, 'p'))
      .then(
          [self, cfg, peer, bytes, sent, promise, fail](uint64_t) mutable {
            const auto small = clock::now() - sent;
            const auto sent_big = clock::now();
            self->request(peer, cfg.peer_timeout * 4, probe_atom::value, std::string(bytes, 'p'))
                .then(
                    [bytes, small, sent_big, promise](uint64_t) mutable {
                      const auto transfer = (clock::now() - sent_big) - small;
                      const double s =
                          std::max(std::chrono::duration<double>(transfer).count(), 1e-6);
                      promise.deliver(double(bytes) / s);
                    },
                    fail);
          },
          fail);
  return promise;
}

routing_table_actor::behavior_type routing_table_behavior(table_pointer self,
                                                          routing_table_config cfg) {
  self->state.gossip.period = cfg.gossip_period;
  self->state.gossip.min_ttl = cfg.record_ttl;
  self->state.members = membership(cfg.model_id, cfg.record_ttl, self->state.gossip.buckets);
  self->state.rumors = gossip_rumors(self->state.gossip.rumor_rounds);
  self->state.rng.seed(cfg.seed ? cfg.seed : 1);
  // Peers can send anything to a handle they know: what this actor does not handle is
  // dropped without a line on stderr (CAF's default prints each, a flood on demand).
  self->set_default_handler(caf::drop);
  self->set_down_handler([self, cfg](const caf::down_msg& down) {
    for (const auto& [id, handle] : self->state.handles) {
      if (handle.address() == down.source) {
        // Other replicas may not watch this server: tell them (invariant of
        // membership::kill: its owner's next announcement undoes a mistaken notice).
        const std::optional<gossip_entry> held = self->state.members.entry(id);
        const bool remote = !is_local(self, handle);
        forget(self, id);
        if (held && !held->dead && remote) {
          const gossip_entry notice{id, held->version, true};
          self->state.rumors.heard(notice);
          spread(self, cfg, {notice});
        }
        return;
      }
    }
    for (auto& [address, p] : self->state.peers) {
      if (p.table && p.table.address() == down.source) p.table = nullptr;
    }
  });
  if (cfg.network || cfg.record_ttl.count() > 0) {
    self->delayed_send(self, cfg.gossip_period, tick_atom::value);
  }
  return {
      [self, cfg](announce_atom, server_record& record, server_actor& handle) {
        if (!from_this_node(self)) return;
        routing_table_state& st = self->state;
        // An unchanged record becomes a rumor once a refresh interval: n servers' refreshes
        // then fit the gossip budget at every replica (gossip_policy.hpp).
        const auto now = clock::now();
        auto last = st.rumored_at.find(record.server_id);
        const bool refresh =
            last == st.rumored_at.end() ||
            now - last->second >= refresh_interval(st.members.records().size(), st.gossip);
        const bool refuted = st.refute.erase(record.server_id) > 0;
        const taken t = take(self, cfg, record, handle, false, refresh || refuted);
        if (t == taken::no) return;
        if (refresh || refuted || t == taken::news) st.rumored_at[record.server_id] = now;
        if (t == taken::news || refuted) {
          spread(self, cfg, {gossip_entry{record.server_id, record.version, false}});
        }
      },
      [self](const route_request& req) { return find_route(self, req); },
      [self](list_atom) { return checked_records(self); },
      [self](observe_atom, uint64_t server_id, double ms_per_block, int64_t steps) {
        // An opinion of this node's clients; another node's would be a lever for a liar.
        if (!from_this_node(self) || !(ms_per_block >= 0 && ms_per_block < 1e7) || steps < 1 ||
            !self->state.members.find(server_id)) {
          return;
        }
        server_observation& o = self->state.observed[server_id];
        o.ms_per_block = o.steps == 0 ? ms_per_block : 0.75 * o.ms_per_block + 0.25 * ms_per_block;
        o.steps += steps;
      },
      [self, cfg](gossip_atom, const gossip_offer& offer) {
        return answer_offer(self, cfg, offer);
      },
      [self, cfg](gossip_atom, const gossip_records& in, const std::vector<server_actor>& handles)
          -> caf::result<gossip_records, std::vector<server_actor>> {
        auto news = take_records(self, cfg, in, handles, !from_this_node(self));
        if (!news) return news.error();
        spread(self, cfg, *news);
        gossip_records back;
        std::vector<server_actor> back_handles;
        add_records(self, in.wants, back, back_handles);
        return {std::move(back), std::move(back_handles)};
      },
      [self, cfg](join_atom, const std::string& address) -> caf::result<uint64_t> {
        if (!from_this_node(self)) return refused_from_peer("join");
        if (!cfg.network) return make_error(errc::no_route, "this routing table has no network");
        self->state.seeds.insert(address);
        auto promise = self->make_response_promise<uint64_t>();
        connect_peer(self, cfg, address,
                     [self, cfg, promise](caf::expected<routing_table_actor> table) mutable {
                       if (!table) {
                         promise.deliver(table.error());
                         return;
                       }
                       // A first table: every entry the seed holds, this node's own
                       // servers offered as news.
                       gossip_offer offer = push_pull_offer(self, cfg);
                       offer.everything = true;
                       exchange(self, cfg, *table, std::move(offer),
                                [self, promise](caf::error err) mutable {
                                  if (err) {
                                    promise.deliver(std::move(err));
                                    return;
                                  }
                                  promise.deliver(uint64_t(self->state.members.records().size()));
                                });
                     });
        return promise;
      },
      [self, cfg](flush_atom) -> caf::result<uint64_t> {
        if (!from_this_node(self)) return refused_from_peer("flush");
        auto promise = self->make_response_promise<uint64_t>();
        push_all(self, cfg, [promise](uint64_t told) mutable { promise.deliver(told); });
        return promise;
      },
      [self, cfg](tick_atom) {
        if (from_this_node(self)) on_tick(self, cfg);
      },
      [self](host_atom, span_host_actor& host) {
        if (from_this_node(self)) self->state.host = std::move(host);
      },
      [self](host_atom, int64_t start, int64_t end) -> caf::result<server_record> {
        if (!self->state.host) {
          return make_error(errc::over_budget, "this node hosts no spans on request");
        }
        auto promise = self->make_response_promise<server_record>();
        self->request(self->state.host, host_timeout, host_atom::value, start, end)
            .then([promise](server_record& r) mutable { promise.deliver(std::move(r)); },
                  [promise](caf::error& e) mutable { promise.deliver(std::move(e)); });
        return promise;
      },
      [](probe_atom, const std::string& payload) { return uint64_t(payload.size()); },
      [self, cfg](probe_atom, uint64_t bytes) -> caf::result<double> {
        // A peer must not make this node send megabytes to another.
        if (!from_this_node(self)) return refused_from_peer("a link measurement");
        return measure_link(self, cfg, bytes);
      },
      [cfg](head_atom, uint64_t offset, uint64_t length) -> caf::result<head_chunk> {
        if (!cfg.head.any()) {
          return make_error(errc::no_route, "this node offers no head file");
        }
        auto chunk = read_head_chunk(cfg.head, offset, length);
        if (!chunk.ok()) return to_error(chunk.error());
        return std::move(*chunk);
      },
      [self](rehost_atom, int64_t start, int64_t end) -> caf::result<server_record> {
        if (!from_this_node(self)) return refused_from_peer("rehost");
        std::vector<std::pair<std::string, routing_table_actor>> peers;
        for (const auto& [address, p] : self->state.peers) {
          if (p.table) peers.emplace_back(address, p.table);
        }
        auto promise = self->make_response_promise<server_record>();
        ask_to_host(self, std::move(peers), 0, start, end, promise, "");
        return promise;
      },
  };
}

}  // namespace

routing_table_actor spawn_routing_table(caf::actor_system& system, routing_table_config cfg) {
  return system.spawn(routing_table_behavior, std::move(cfg));
}

bool split_address(const std::string& address, std::string& host, uint16_t& port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  unsigned value = 0;
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  const auto [stop, error] = std::from_chars(first, last, value);
  if (first == last || error != std::errc() || stop != last || value == 0 || value > 65535) {
    return false;
  }
  host = address.substr(0, colon);
  port = uint16_t(value);
  return true;
}

result<joined_swarm> join_swarm(caf::actor_system& system, const routing_table_actor& table,
                                const std::vector<std::string>& peers,
                                std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system};
  std::string failures;
  for (const std::string& peer : peers) {
    caf::error err;
    uint64_t known = 0;
    self->request(table, timeout, join_atom::value, peer)
        .receive([&](uint64_t records) { known = records; },
                 [&](caf::error& e) { err = std::move(e); });
    if (!err) return joined_swarm{peer, known};
    failures += "\n  " + peer + ": " + describe(err);
  }
  if (peers.empty()) return status::invalid_argument("no seed to join the swarm through");
  return status::io_error("could not join the swarm through any seed:" + failures);
}

}  // namespace corolla
