#pragma once
// The descriptors of every process (/proc/<pid>/fd, fs/proc/fd.c): the deleted files they
// hold open (for shmem) and the sockets they own, as socket:[inode] links (for sockets).
// Listing every descriptor of every process costs ~10 us per descriptor, so one scan is
// shared by the collectors that need it and serves them for a refresh period.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

// One open file of a process, as stat(2) on /proc/<pid>/fd/<n> sees it.
struct OpenFile {
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::uint64_t inode = 0;
  std::uint64_t allocated_bytes = 0;  // st_blocks x 512: pages held, not the file size
  bool memfd = false;                 // the link reads "/memfd:..."
};

// What one process's descriptor directory holds that some collector wants.
struct ProcessDescriptors {
  std::vector<OpenFile> deleted_files;       // regular files with no name left (st_nlink 0)
  std::vector<std::uint64_t> socket_inodes;  // one per descriptor (duplicates possible)
};

// The inode of a "socket:[12345]" link target (fs/proc/fd.c, sockfs_dname), else nullopt.
std::optional<std::uint64_t> socket_link_inode(std::string_view link_target);
// Whether a link target names an unlinked file: d_path appends " (deleted)".
bool is_deleted_link(std::string_view link_target);

// The system calls behind a scan, replaceable in tests.
class DescriptorLister {
 public:
  virtual ~DescriptorLister() = default;
  // Fills `out` from one /proc/<pid>/fd directory; false when it cannot be read (process
  // gone, or not permitted).
  virtual bool list(const std::string& fd_directory, ProcessDescriptors& out) = 0;
};
std::unique_ptr<DescriptorLister> make_system_descriptor_lister();

struct DescriptorScan {
  struct Process {
    int pid = 0;
    ProcessDescriptors descriptors;
  };
  std::vector<Process> processes;      // the readable ones, by pid
  std::uint64_t unreadable = 0;        // processes whose fd directory could not be listed
  std::chrono::steady_clock::time_point taken;
  std::string procfs;                  // the root it was taken under
};

// The latest scan, taken again when older than the caller's max_age (0: every call) or
// taken under another procfs root. Thread-safe: collectors running at the same time share
// one scan; the second waits for the first's.
class DescriptorScanCache {
 public:
  explicit DescriptorScanCache(std::unique_ptr<DescriptorLister> lister) : lister_(std::move(lister)) {}
  std::shared_ptr<const DescriptorScan> scan(Snapshot& snapshot, double max_age_seconds);

 private:
  std::mutex mutex_;
  std::unique_ptr<DescriptorLister> lister_;
  std::shared_ptr<const DescriptorScan> latest_;
};

// The one cache of the daemon, on the system's descriptors: shmem and sockets use it.
std::shared_ptr<DescriptorScanCache> shared_descriptor_scan_cache();

}  // namespace memledger
