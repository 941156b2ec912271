#pragma once
// The "netdev" generic netlink family (Documentation/netlink/specs/netdev.yaml,
// net/core/netdev-genl.c): page pools and the memory their pages hold while in flight
// (handed to the stack or a driver, not yet returned). page-pool-get exists from Linux
// 6.8. Pure reply parsers; the I/O is one function, used only when --path.procfs is /proc.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace memledger {

// Attribute and command numbers of include/uapi/linux/netdev.h (Debian bookworm's
// linux-libc-dev predates them).
namespace netdev_genl {
inline constexpr std::uint8_t kCmdPagePoolGet = 5;     // NETDEV_CMD_PAGE_POOL_GET
inline constexpr std::uint16_t kAttrId = 1;            // NETDEV_A_PAGE_POOL_ID
inline constexpr std::uint16_t kAttrIfindex = 2;       // NETDEV_A_PAGE_POOL_IFINDEX
inline constexpr std::uint16_t kAttrInflight = 4;      // NETDEV_A_PAGE_POOL_INFLIGHT
inline constexpr std::uint16_t kAttrInflightMem = 5;   // NETDEV_A_PAGE_POOL_INFLIGHT_MEM
inline constexpr std::uint16_t kAttrDetachTime = 6;    // NETDEV_A_PAGE_POOL_DETACH_TIME
}  // namespace netdev_genl

struct PagePool {
  std::uint64_t id = 0;
  // Absent once the pool's netdev is gone (or for pools of no netdev); such a pool lives on
  // while pages are in flight: detach_time says since when.
  std::optional<std::uint32_t> ifindex;
  std::uint64_t inflight_pages = 0;
  std::uint64_t inflight_bytes = 0;
  std::optional<std::uint64_t> detach_time;  // CLOCK_BOOTTIME seconds when its driver let go
};

struct PagePoolReply {
  std::vector<PagePool> pools;
  bool done = false;
  int error = 0;  // a negative errno from NLMSG_ERROR
};

// A buffer of netlink messages answering a page-pool-get dump (genlmsghdr, attributes).
// Throws ParseError on a malformed message or attribute.
PagePoolReply parse_page_pool_reply(std::string_view bytes);

struct GenlFamilyReply {
  std::optional<std::uint16_t> id;  // CTRL_ATTR_FAMILY_ID
  int error = 0;                    // -ENOENT: no such family
};
// The answer to CTRL_CMD_GETFAMILY (include/uapi/linux/genetlink.h). Throws ParseError.
GenlFamilyReply parse_genl_family_reply(std::string_view bytes);

// Every page pool of the network namespace; nullopt when the kernel has no netdev family
// or no page-pool-get (before 6.8). Throws CollectError on netlink failure.
std::optional<std::vector<PagePool>> dump_page_pools();

}  // namespace memledger
