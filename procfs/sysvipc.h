#pragma once
// /proc/sysvipc/shm (ipc/shm.c, sysvipc_shm_proc_show): System V shared memory segments.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct SysvShmSegment {
  std::uint64_t size = 0;    // bytes requested
  std::uint64_t nattch = 0;  // attached processes; 0 = orphaned, kept until IPC_RMID
  std::optional<std::uint64_t> rss;   // resident bytes (columns added in 3.x)
  std::optional<std::uint64_t> swap;  // swapped-out bytes
};

// Columns are found by the header's names, so layouts of every kernel parse.
// Throws ParseError on a missing header column or a malformed row.
std::vector<SysvShmSegment> parse_sysvipc_shm(std::string_view text);

// /proc/sysvipc/shm, parsed once per snapshot; throws CollectError.
const std::vector<SysvShmSegment>& read_sysvipc_shm(Snapshot& snapshot);

}  // namespace memledger
