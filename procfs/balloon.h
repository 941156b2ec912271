#pragma once
// Balloon drivers: guest memory a hypervisor has taken back. Which driver is loaded, how
// much it holds and whether those pages still count in MemTotal: virtio_balloon
// (drivers/virtio/virtio_balloon.c), vmw_balloon (drivers/misc/vmw_balloon.c), hv_balloon
// (drivers/hv/hv_balloon.c), xen (drivers/xen/balloon.c), pseries CMM
// (arch/powerpc/platforms/pseries/cmm.c), and the Balloon: line of /proc/meminfo (6.15+).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

// What the balloon driver in use does with MemTotal.
enum class BalloonPlacement {
  inside_memtotal,   // vmw_balloon; virtio_balloon with deflate-on-OOM negotiated
  outside_memtotal,  // virtio_balloon without deflate-on-OOM, hv_balloon, xen, pseries cmm
};

struct BalloonDriver {
  std::string name;  // virtio_balloon, vmw_balloon, hv_balloon, xen, pseries_cmm, unknown
  BalloonPlacement placement = BalloonPlacement::inside_memtotal;
  std::optional<std::uint64_t> bytes;         // held now; nullopt when nothing says
  std::string_view source;                    // the file bytes came from (documentation)
  std::optional<std::uint64_t> target_bytes;  // what the host asks for, when the driver says
};

struct BalloonReadings {
  std::optional<std::uint64_t> meminfo_bytes;        // "Balloon:" (6.15+), all drivers
  std::optional<std::uint64_t> vmstat_bytes;         // nr_balloon_pages (6.15+)
  std::optional<std::uint64_t> inflated_pages_total;  // vmstat balloon_inflate (since boot)
  std::optional<std::uint64_t> deflated_pages_total;  // vmstat balloon_deflate
  std::vector<BalloonDriver> drivers;                 // detected, in a fixed order

  // The first driver's placement; inside when there is none (nothing to subtract then).
  BalloonPlacement placement() const;
  // Bytes held by drivers whose pages stay inside MemTotal, from the best source each has;
  // nullopt when no such driver reports a size.
  std::optional<std::uint64_t> bytes_inside_memtotal() const;
};

// /sys/kernel/debug/vmmemctl: "target:" and "current:" in 4 KiB pages.
struct VmwBalloonStatus {
  std::uint64_t target_pages = 0;
  std::uint64_t current_pages = 0;
};
VmwBalloonStatus parse_vmw_balloon_debugfs(std::string_view text);

// /sys/kernel/debug/hv-balloon (5.19+): "pages_ballooned" in units of "page_size".
struct HvBalloonStatus {
  std::uint64_t page_size = 4096;
  std::uint64_t pages_ballooned = 0;
};
HvBalloonStatus parse_hv_balloon_debugfs(std::string_view text);

// /sys/bus/virtio/devices/virtioN/features: one '0'/'1' per feature bit. Bit 2 is
// VIRTIO_BALLOON_F_DEFLATE_ON_OOM, without which inflated pages leave MemTotal.
bool virtio_balloon_deflates_on_oom(std::string_view features);

// Reads every balloon source through the snapshot; a driver file that is missing or
// unreadable (debugfs is root only) leaves that figure nullopt. Throws CollectError when
// /proc/meminfo cannot be read or a driver file is malformed.
const BalloonReadings& read_balloon(Snapshot& snapshot);


}  // namespace memledger
