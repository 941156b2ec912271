#include "collectors/sockets.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <unordered_map>
#include <utility>

#include "procfs/sockstat.h"
#include "procfs/text.h"

namespace memledger {

const MetricFamilyDecl kSockstatMemoryBytes{
    "memledger_sockstat_memory_bytes", MetricType::Gauge,
    "Memory charged to a protocol by /proc/net/sockstat{,6} (mem pages x page size; FRAG's "
    "memory in bytes): skb truesize, sk_buff slab objects included. Names the culprit of "
    "unexplained memory; not to be subtracted from it.",
    {"protocol"}};
const MetricFamilyDecl kSocketMemoryBytes{
    "memledger_socket_memory_bytes", MetricType::Gauge,
    "Bytes held by the queues of the sockets a process group owns (sock_diag sk_meminfo: "
    "receive queue, backlog, send queue, option memory); top groups, the rest as other.",
    {"group", "protocol"}};
const MetricFamilyDecl kSocketUnjoinedBytes{
    "memledger_socket_unjoined_bytes", MetricType::Gauge,
    "Bytes held by sockets no process descriptor names: closed but still draining, "
    "kernel sockets, or opened since the last descriptor scan.",
    {"protocol"}};
const MetricFamilyDecl kSocketUnjoinedSockets{
    "memledger_socket_unjoined_sockets", MetricType::Gauge,
    "Sockets holding memory that no process descriptor names.",
    {"protocol"}};
const MetricFamilyDecl kSocketDescriptorScanAgeSeconds{
    "memledger_socket_descriptor_scan_age_seconds", MetricType::Gauge,
    "Time since the descriptors of all processes were last scanned for sockets "
    "(sockets.descriptor_refresh_seconds).",
    {}};
const MetricFamilyDecl kSocketUnscannedProcesses{
    "memledger_socket_unscanned_processes", MetricType::Gauge,
    "Processes whose descriptors could not be listed (exited, or not permitted): their "
    "sockets count as unjoined.",
    {}};
const MetricFamilyDecl kPagePoolInflightBytes{
    "memledger_page_pool_inflight_bytes", MetricType::Gauge,
    "Memory of page pool pages in flight (netdev page-pool-get, Linux 6.8+), per "
    "interface; interface=\"detached\" for pools whose netdev is gone.",
    {"interface"}};

namespace {

constexpr std::array kProtocols = {DiagProtocol::tcp, DiagProtocol::udp, DiagProtocol::unix_socket};
constexpr std::size_t kProtocolCount = kProtocols.size();
using PerProtocol = std::array<std::uint64_t, kProtocolCount>;

std::uint64_t total(const PerProtocol& bytes) {
  std::uint64_t sum = 0;
  for (auto b : bytes) sum += b;
  return sum;
}

class SystemSocketNetlink final : public SocketNetlink {
 public:
  bool describes(const Snapshot& snapshot) const override { return snapshot.roots().procfs == "/proc"; }
  std::optional<std::vector<DiagSocket>> sockets(DiagProtocol protocol) override { return dump_sockets(protocol); }
  std::optional<std::vector<PagePool>> page_pools() override { return dump_page_pools(); }
};

// The memory a socket holds; a unix socket of a kernel without UNIX_DIAG_MEMINFO falls
// back to UNIX_DIAG_RQLEN's bytes sent and not yet freed.
std::uint64_t socket_bytes(const DiagSocket& socket, DiagProtocol protocol) {
  if (socket.meminfo) return held_bytes(*socket.meminfo, protocol);
  return socket.unix_wqueue.value_or(0);
}

class SocketsCollector final : public Collector {
 public:
  SocketsCollector(const SocketsConfig& config, std::unique_ptr<SocketNetlink> netlink,
                   std::shared_ptr<DescriptorScanCache> descriptors)
      : config_(config), netlink_(std::move(netlink)), descriptors_(std::move(descriptors)),
        grouper_(grouping(config)) {}
  std::string_view name() const override { return "sockets"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    emit_sockstat(snapshot, sink);
    if (!netlink_->describes(snapshot)) return;
    emit_sockets(snapshot, sink);
    emit_page_pools(snapshot, sink);
  }

 private:
  static ProcessConfig grouping(const SocketsConfig& config) {
    ProcessConfig process;
    process.group_by = config.group_by;
    return process;
  }

  void emit_sockstat(Snapshot& snapshot, MetricSink& sink) {
    auto emit = [&](const std::vector<SockstatProtocol>& protocols) {
      for (const auto& p : protocols) {
        if (p.memory_pages) {
          sink.emit(kSockstatMemoryBytes, {p.protocol}, static_cast<double>(*p.memory_pages * snapshot.page_size()));
        } else if (p.memory_bytes) {
          sink.emit(kSockstatMemoryBytes, {p.protocol}, static_cast<double>(*p.memory_bytes));
        }
      }
    };
    // sockstat exists only with CONFIG_NET (and CONFIG_PROC_FS), sockstat6 only with IPv6
    // (CONFIG_IPV6, not ipv6.disable=1).
    if (!snapshot.missing(Root::proc, "net/sockstat")) emit(read_sockstat(snapshot));
    if (!snapshot.missing(Root::proc, "net/sockstat6")) emit(read_sockstat6(snapshot));
  }

  void emit_sockets(Snapshot& snapshot, MetricSink& sink) {
    auto scan = descriptors_->scan(snapshot, config_.descriptor_refresh_seconds);
    // A socket shared by several processes (inherited over fork, passed over SCM_RIGHTS)
    // is counted once, for the lowest pid that holds it.
    std::unordered_map<std::uint64_t, int> owner_of_inode;
    for (const auto& process : scan->processes) {
      for (auto inode : process.descriptors.socket_inodes) owner_of_inode.emplace(inode, process.pid);
    }

    std::map<int, PerProtocol> bytes_of_pid;
    PerProtocol unjoined_bytes{}, unjoined_sockets{};
    std::array<bool, kProtocolCount> available{};
    for (std::size_t p = 0; p < kProtocolCount; ++p) {
      auto sockets = netlink_->sockets(kProtocols[p]);
      if (!sockets) continue;  // the kernel has no diag module for it
      available[p] = true;
      for (const auto& socket : *sockets) {
        std::uint64_t bytes = socket_bytes(socket, kProtocols[p]);
        if (bytes == 0) continue;
        auto owner = socket.inode ? owner_of_inode.find(socket.inode) : owner_of_inode.end();
        if (owner == owner_of_inode.end()) {
          unjoined_bytes[p] += bytes;
          unjoined_sockets[p] += 1;
        } else {
          bytes_of_pid[owner->second][p] += bytes;
        }
      }
    }

    std::map<std::string, PerProtocol> bytes_of_group;
    for (const auto& [pid, bytes] : bytes_of_pid) {
      auto group = group_of(snapshot, pid);
      if (!group) {  // exited since the scan: its sockets are gone or orphaned
        for (std::size_t p = 0; p < kProtocolCount; ++p) {
          unjoined_bytes[p] += bytes[p];
          unjoined_sockets[p] += bytes[p] ? 1 : 0;
        }
        continue;
      }
      auto& sum = bytes_of_group[*group];
      for (std::size_t p = 0; p < kProtocolCount; ++p) sum[p] += bytes[p];
    }

    std::vector<std::pair<std::string, PerProtocol>> ranked(bytes_of_group.begin(), bytes_of_group.end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return total(a.second) != total(b.second) ? total(a.second) > total(b.second) : a.first < b.first;
    });
    PerProtocol other{};
    std::size_t shown = 0;
    for (const auto& [group, bytes] : ranked) {
      // A real group named "other" joins the catch-all so that no series is duplicated.
      if (shown >= config_.top_groups || group == "other") {
        for (std::size_t p = 0; p < kProtocolCount; ++p) other[p] += bytes[p];
        continue;
      }
      ++shown;
      for (std::size_t p = 0; p < kProtocolCount; ++p) {
        if (bytes[p]) sink.emit(kSocketMemoryBytes, {group, diag_protocol_name(kProtocols[p])}, static_cast<double>(bytes[p]));
      }
    }
    for (std::size_t p = 0; p < kProtocolCount; ++p) {
      if (!available[p]) continue;
      std::string_view protocol = diag_protocol_name(kProtocols[p]);
      if (other[p]) sink.emit(kSocketMemoryBytes, {"other", protocol}, static_cast<double>(other[p]));
      sink.emit(kSocketUnjoinedBytes, {protocol}, static_cast<double>(unjoined_bytes[p]));
      sink.emit(kSocketUnjoinedSockets, {protocol}, static_cast<double>(unjoined_sockets[p]));
    }
    sink.emit(kSocketDescriptorScanAgeSeconds, {},
              std::chrono::duration<double>(std::chrono::steady_clock::now() - scan->taken).count());
    sink.emit(kSocketUnscannedProcesses, {}, static_cast<double>(scan->unreadable));
  }

  // The group of a live process, as the process collector names it; nullopt once it exited.
  std::optional<std::string> group_of(Snapshot& snapshot, int pid) {
    std::string comm;
    if (snapshot.read_uncached(Root::proc, PidPath(pid, "comm").view(), comm) != 0) return std::nullopt;
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();  // fs/proc/base.c comm_show
    PidFacts facts(snapshot, pid, comm);
    return grouper_.group_of(facts);
  }

  void emit_page_pools(Snapshot& snapshot, MetricSink& sink) {
    auto pools = netlink_->page_pools();
    if (!pools) return;  // before 6.8
    std::map<std::uint32_t, std::string> name_of_ifindex;
    for (const auto& name : snapshot.list(Root::sys, "class/net")) {
      const Reading& reading = snapshot.read(Root::sys, "class/net/" + name + "/ifindex");
      if (!reading.ok()) continue;
      if (auto index = text::to_u64(text::trim(reading.text))) name_of_ifindex[static_cast<std::uint32_t>(*index)] = name;
    }
    std::map<std::string, std::uint64_t> bytes_of_interface;
    for (const auto& pool : *pools) {
      std::string interface = "detached";
      if (pool.ifindex) {
        auto it = name_of_ifindex.find(*pool.ifindex);
        interface = it != name_of_ifindex.end() ? it->second : "ifindex " + std::to_string(*pool.ifindex);
      }
      bytes_of_interface[interface] += pool.inflight_bytes;
    }
    for (const auto& [interface, bytes] : bytes_of_interface) {
      sink.emit(kPagePoolInflightBytes, {interface}, static_cast<double>(bytes));
    }
  }

  SocketsConfig config_;
  std::unique_ptr<SocketNetlink> netlink_;
  std::shared_ptr<DescriptorScanCache> descriptors_;
  ProcessGrouper grouper_;
};

}  // namespace

std::unique_ptr<SocketNetlink> make_system_socket_netlink() { return std::make_unique<SystemSocketNetlink>(); }

const CollectorInfo kSocketsCollector{
    {"sockets", true, {
          group_by_option(),
          {"top_groups", OptionDecl::Kind::count, "20"},
          {"descriptor_refresh_seconds", OptionDecl::Kind::seconds, "30"}}},
    "socket memory: sockstat per protocol, per process group (sock_diag), page pools in flight",
    {&kSockstatMemoryBytes, &kSocketMemoryBytes, &kSocketUnjoinedBytes, &kSocketUnjoinedSockets,
     &kSocketDescriptorScanAgeSeconds, &kSocketUnscannedProcesses, &kPagePoolInflightBytes},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      return make_sockets_collector_with(sockets_config(options), make_system_socket_netlink(),
                                         shared_descriptor_scan_cache());
    }};

SocketsConfig sockets_config(const CollectorOptions& options) {
  SocketsConfig config;
  config.group_by = group_by_of(options);
  config.top_groups = options.count("top_groups");
  config.descriptor_refresh_seconds = options.seconds("descriptor_refresh_seconds");
  return config;
}

std::unique_ptr<Collector> make_sockets_collector_with(const SocketsConfig& config,
                                                       std::unique_ptr<SocketNetlink> netlink,
                                                       std::shared_ptr<DescriptorScanCache> descriptors) {
  return std::make_unique<SocketsCollector>(config, std::move(netlink), std::move(descriptors));
}

}  // namespace memledger
