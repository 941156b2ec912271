#pragma once
// Socket memory: what /proc/net/sockstat charges to each protocol, which processes hold
// it (NETLINK_SOCK_DIAG sk_meminfo of every tcp, udp and unix socket, joined to processes
// through their socket:[inode] descriptors), and page pools' pages in flight (netdev
// generic netlink). Data queued in sockets is allocated as page frags that no meminfo
// field names (net/core/sock.c skb_page_frag_refill), so it lands in the ledger's
// unexplained remainder; these series name its owner.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/process_groups.h"
#include "collectors/registry.h"
#include "procfs/netdev_genl.h"
#include "procfs/pid_fds.h"
#include "procfs/sock_diag.h"

namespace memledger {

struct SocketsConfig {
  ProcessGroupBy group_by = ProcessGroupBy::name;
  std::size_t top_groups = 20;
  double descriptor_refresh_seconds = 30;  // how long one descriptor scan serves
};

// The netlink side of the collector, replaceable in tests.
class SocketNetlink {
 public:
  virtual ~SocketNetlink() = default;
  // Whether netlink describes the system the snapshot reads: only when its procfs is the
  // real /proc, so runs over a fixture tree stay deterministic.
  virtual bool describes(const Snapshot& snapshot) const = 0;
  virtual std::optional<std::vector<DiagSocket>> sockets(DiagProtocol protocol) = 0;
  virtual std::optional<std::vector<PagePool>> page_pools() = 0;
};
std::unique_ptr<SocketNetlink> make_system_socket_netlink();

extern const CollectorInfo kSocketsCollector;
SocketsConfig sockets_config(const CollectorOptions& options);
std::unique_ptr<Collector> make_sockets_collector_with(const SocketsConfig& config,
                                                       std::unique_ptr<SocketNetlink> netlink,
                                                       std::shared_ptr<DescriptorScanCache> descriptors);

}  // namespace memledger
