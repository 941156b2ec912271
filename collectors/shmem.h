#pragma once
// Where /proc/meminfo's Shmem lives: tmpfs mounts (statfs), System V shared memory
// segments (/proc/sysvipc/shm), memfd files and deleted tmpfs files that processes still
// hold open (/proc/<pid>/fd). tmpfs memory belongs to no process (mm/shmem.c charges it to
// the page cache), so it looks like a leak until the mount that holds it is named.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/collector.h"
#include "procfs/mountinfo.h"
#include "procfs/pid_fds.h"
#include "collectors/registry.h"

namespace memledger {

// Filesystems whose pages are Shmem: tmpfs, and devtmpfs (tmpfs inside when CONFIG_TMPFS).
bool is_shmem_filesystem(std::string_view fstype);

// The shmem mounts to measure: each superblock once, under the first mount point that
// reaches it; a mount hidden under a later mount on the same point is unreachable by
// path, so it is left out.
std::vector<MountEntry> measurable_shmem_mounts(const std::vector<MountEntry>& mounts);


struct FilesystemUsage {
  // Both nullopt for a tmpfs mounted without a size limit: its statfs reports no blocks.
  std::optional<std::uint64_t> size_bytes;
  std::optional<std::uint64_t> used_bytes;  // pages held, resident or swapped out
};

// The system calls behind the collector, replaceable in tests.
class ShmemProbe {
 public:
  virtual ~ShmemProbe() = default;
  // statfs of a path, nullopt when it cannot be measured or is not on device major:minor.
  virtual std::optional<FilesystemUsage> usage(const std::string& path, std::uint32_t major,
                                               std::uint32_t minor) = 0;
};

std::unique_ptr<ShmemProbe> make_system_shmem_probe();

// Deleted-but-open files summed per shmem mount, each inode once however many fds hold it.
struct DeletedOpenFiles {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};
struct OpenFileSummary {
  std::vector<DeletedOpenFiles> per_mount;  // parallel to the mounts passed in
  DeletedOpenFiles memfd;
};
OpenFileSummary summarize_deleted_open_files(const std::vector<MountEntry>& mounts,
                                             const std::vector<OpenFile>& files);

// The collector's options (see its declaration for the defaults).
struct ShmemConfig {
  bool scan_open_files = true;  // look for deleted files in every /proc/<pid>/fd
  double open_files_refresh_seconds = 60;  // a scan serves the scrapes of this long
};

extern const CollectorInfo kShmemCollector;
ShmemConfig shmem_config(const CollectorOptions& options);
// The deleted open files come from `descriptors`, the scan shared with other collectors.
std::unique_ptr<Collector> make_shmem_collector_with_probe(
    const ShmemConfig& config, std::unique_ptr<ShmemProbe> probe,
    std::shared_ptr<DescriptorScanCache> descriptors);

}  // namespace memledger
