#include "collectors/shmem.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "procfs/meminfo.h"
#include "procfs/mountinfo.h"
#include "procfs/sysvipc.h"
#include "procfs/text.h"

namespace memledger {

// The metric families this file emits.
const MetricFamilyDecl kTmpfsUsedBytes{
    "memledger_tmpfs_used_bytes", MetricType::Gauge,
    "Pages held by a tmpfs or devtmpfs filesystem (statfs), resident or swapped out; each "
    "filesystem once, under its first mount point.",
    {"mountpoint"}};
const MetricFamilyDecl kTmpfsSizeBytes{
    "memledger_tmpfs_size_bytes", MetricType::Gauge,
    "The size limit of the tmpfs (size= mount option): how far it may grow.",
    {"mountpoint"}};
const MetricFamilyDecl kTmpfsUnmeasuredMounts{
    "memledger_tmpfs_unmeasured_mounts", MetricType::Gauge,
    "Shmem filesystems whose usage statfs cannot tell: mounted without a size limit, "
    "hidden under another mount, or not reachable from this process.",
    {}};
const MetricFamilyDecl kShmemUnattributedBytes{
    "memledger_shmem_unattributed_bytes", MetricType::Gauge,
    "Shmem minus what tmpfs mounts, System V segments and open memfd files hold: shared "
    "anonymous mappings, GPU buffers, unmeasured mounts. Signed: tmpfs usage includes "
    "swapped-out pages, Shmem does not.",
    {}};
const MetricFamilyDecl kSysvShmSegments{
    "memledger_sysv_shm_segments", MetricType::Gauge,
    "System V shared memory segments (/proc/sysvipc/shm).",
    {}};
const MetricFamilyDecl kSysvShmSizeBytes{
    "memledger_sysv_shm_size_bytes", MetricType::Gauge,
    "Sum of the segments' requested sizes.",
    {}};
const MetricFamilyDecl kSysvShmBytes{
    "memledger_sysv_shm_bytes", MetricType::Gauge,
    "Bytes the segments hold in RAM (resident) and in swap (swapped).",
    {"state"}};
const MetricFamilyDecl kSysvShmOrphanedSegments{
    "memledger_sysv_shm_orphaned_segments", MetricType::Gauge,
    "Segments no process has attached (nattch 0): they live until IPC_RMID or reboot, a "
    "classic Shmem leak.",
    {}};
const MetricFamilyDecl kSysvShmOrphanedBytes{
    "memledger_sysv_shm_orphaned_bytes", MetricType::Gauge,
    "Resident bytes of the segments no process has attached.",
    {}};
const MetricFamilyDecl kTmpfsDeletedOpenFiles{
    "memledger_tmpfs_deleted_open_files", MetricType::Gauge,
    "Files deleted from a tmpfs that processes still hold open: their pages stay in use "
    "(and in memledger_tmpfs_used_bytes) until the last descriptor closes.",
    {"mountpoint"}};
const MetricFamilyDecl kTmpfsDeletedOpenBytes{
    "memledger_tmpfs_deleted_open_bytes", MetricType::Gauge,
    "Pages held by deleted tmpfs files that are still open.",
    {"mountpoint"}};
const MetricFamilyDecl kMemfdFiles{
    "memledger_memfd_files", MetricType::Gauge,
    "memfd_create files held open by a process.",
    {}};
const MetricFamilyDecl kMemfdBytes{
    "memledger_memfd_bytes", MetricType::Gauge,
    "Pages held by open memfd files.",
    {}};
const MetricFamilyDecl kShmemOpenFilesScanAgeSeconds{
    "memledger_shmem_open_files_scan_age_seconds", MetricType::Gauge,
    "Time since the descriptors of all processes were last scanned for deleted files "
    "(shmem.open_files_refresh_seconds).",
    {}};
const MetricFamilyDecl kShmemUnscannedProcesses{
    "memledger_shmem_unscanned_processes", MetricType::Gauge,
    "Processes whose open files could not be listed (exited, or not permitted: the "
    "exporter needs root or CAP_SYS_PTRACE to see other users' descriptors).",
    {}};

bool is_shmem_filesystem(std::string_view fstype) { return fstype == "tmpfs" || fstype == "devtmpfs"; }

std::vector<MountEntry> measurable_shmem_mounts(const std::vector<MountEntry>& mounts) {
  // mountinfo lists mounts in the order they were made: the last one on a path is the
  // one that path reaches.
  std::map<std::string_view, std::size_t> top_of_path;
  for (std::size_t i = 0; i < mounts.size(); ++i) top_of_path[mounts[i].mountpoint] = i;
  std::vector<MountEntry> out;
  std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    const MountEntry& m = mounts[i];
    if (!is_shmem_filesystem(m.fstype) || top_of_path[m.mountpoint] != i) continue;
    if (!seen.insert({m.major, m.minor}).second) continue;
    out.push_back(m);
  }
  return out;
}


OpenFileSummary summarize_deleted_open_files(const std::vector<MountEntry>& mounts,
                                             const std::vector<OpenFile>& files) {
  OpenFileSummary summary;
  summary.per_mount.resize(mounts.size());
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::size_t> mount_of_device;
  for (std::size_t i = 0; i < mounts.size(); ++i) mount_of_device[{mounts[i].major, mounts[i].minor}] = i;
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint64_t>> counted;
  for (const auto& file : files) {
    if (!counted.insert({file.major, file.minor, file.inode}).second) continue;
    DeletedOpenFiles* bucket = nullptr;
    if (file.memfd) {
      bucket = &summary.memfd;
    } else if (auto it = mount_of_device.find({file.major, file.minor}); it != mount_of_device.end()) {
      bucket = &summary.per_mount[it->second];
    }
    if (!bucket) continue;  // a deleted file on a disk filesystem: not Shmem
    bucket->files += 1;
    bucket->bytes += file.allocated_bytes;
  }
  return summary;
}

namespace {

class SystemShmemProbe final : public ShmemProbe {
 public:
  std::optional<FilesystemUsage> usage(const std::string& path, std::uint32_t major,
                                       std::uint32_t minor) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    if (::major(st.st_dev) != major || ::minor(st.st_dev) != minor) return std::nullopt;
    struct statvfs vfs {};
    if (::statvfs(path.c_str(), &vfs) != 0) return std::nullopt;
    FilesystemUsage usage;
    if (vfs.f_blocks > 0) {
      usage.size_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
      usage.used_bytes = static_cast<std::uint64_t>(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
    }
    return usage;
  }
};

class ShmemCollector final : public Collector {
 public:
  ShmemCollector(const ShmemConfig& config, std::unique_ptr<ShmemProbe> probe,
                 std::shared_ptr<DescriptorScanCache> descriptors)
      : config_(config), probe_(std::move(probe)), descriptors_(std::move(descriptors)) {}
  std::string_view name() const override { return "shmem"; }

  void collect(Snapshot& snapshot, MetricSink& sink) override {
    Meminfo meminfo = parse_file(snapshot, Root::proc, "meminfo", parse_meminfo);
    std::vector<MountEntry> mounts = read_mounts(snapshot);

    std::int64_t attributed = 0;
    std::uint64_t unmeasured = hidden_;
    for (const auto& mount : mounts) {
      auto usage = measure(snapshot, mount);
      if (!usage || !usage->used_bytes) {
        ++unmeasured;
        continue;
      }
      attributed += static_cast<std::int64_t>(*usage->used_bytes);
      sink.emit(kTmpfsUsedBytes, {mount.mountpoint}, static_cast<double>(*usage->used_bytes));
      sink.emit(kTmpfsSizeBytes, {mount.mountpoint}, static_cast<double>(usage->size_bytes.value_or(0)));
    }
    sink.emit(kTmpfsUnmeasuredMounts, {}, static_cast<double>(unmeasured));

    attributed += collect_sysv(snapshot, sink);
    if (config_.scan_open_files) attributed += collect_open_files(snapshot, mounts, sink);

    if (auto shmem = meminfo.bytes("Shmem")) {
      sink.emit(kShmemUnattributedBytes, {}, static_cast<double>(static_cast<std::int64_t>(*shmem) - attributed));
    }
  }

 private:
  // The host's mounts: pid 1's mount namespace as seen under --path.procfs.
  // Counts in hidden_ the shmem filesystems that only a hidden mount reaches.
  std::vector<MountEntry> read_mounts(Snapshot& snapshot) {
    via_init_root_ = snapshot.readable(Root::proc, "1/mountinfo");
    std::string_view file = via_init_root_ ? "1/mountinfo" : "self/mountinfo";
    const auto& all = read_mountinfo(snapshot, file);
    auto reachable = measurable_shmem_mounts(all);
    std::set<std::pair<std::uint32_t, std::uint32_t>> filesystems;
    for (const auto& m : all) {
      if (is_shmem_filesystem(m.fstype)) filesystems.insert({m.major, m.minor});
    }
    hidden_ = filesystems.size() - reachable.size();
    return reachable;
  }

  // Through /proc/1/root when permitted (root, or CAP_SYS_PTRACE): the path as pid 1 sees
  // it, even from a container. Otherwise the plain path, which is the same filesystem
  // only when this process shares pid 1's view, i.e. when procfs is the real /proc.
  std::optional<FilesystemUsage> measure(Snapshot& snapshot, const MountEntry& mount) {
    if (via_init_root_) {
      if (auto usage = probe_->usage(snapshot.path(Root::proc, "1/root") + mount.mountpoint,
                                     mount.major, mount.minor)) {
        return usage;
      }
    }
    if (snapshot.roots().procfs != "/proc") return std::nullopt;
    return probe_->usage(mount.mountpoint, mount.major, mount.minor);
  }

  std::int64_t collect_sysv(Snapshot& snapshot, MetricSink& sink) {
    if (!snapshot.readable(Root::proc, "sysvipc/shm")) return 0;  // CONFIG_SYSVIPC=n
    const auto& segments = read_sysvipc_shm(snapshot);
    std::uint64_t size = 0, resident = 0, swapped = 0, orphans = 0, orphan_bytes = 0;
    bool has_rss = false;
    for (const auto& s : segments) {
      size += s.size;
      // Before the rss column existed a segment's size is the best figure there is.
      std::uint64_t held = s.rss.value_or(s.size);
      has_rss = has_rss || s.rss.has_value();
      resident += held;
      swapped += s.swap.value_or(0);
      if (s.nattch == 0) {
        ++orphans;
        orphan_bytes += held;
      }
    }
    sink.emit(kSysvShmSegments, {}, static_cast<double>(segments.size()));
    sink.emit(kSysvShmSizeBytes, {}, static_cast<double>(size));
    if (has_rss || segments.empty()) {
      sink.emit(kSysvShmBytes, {"resident"}, static_cast<double>(resident));
      sink.emit(kSysvShmBytes, {"swapped"}, static_cast<double>(swapped));
    }
    sink.emit(kSysvShmOrphanedSegments, {}, static_cast<double>(orphans));
    sink.emit(kSysvShmOrphanedBytes, {}, static_cast<double>(orphan_bytes));
    return static_cast<std::int64_t>(resident);
  }

  // The descriptor scan (shared with the sockets collector) serves the scrapes of
  // open_files_refresh_seconds, and its age is exported.
  std::int64_t collect_open_files(Snapshot& snapshot, const std::vector<MountEntry>& mounts,
                                  MetricSink& sink) {
    auto scan = descriptors_->scan(snapshot, config_.open_files_refresh_seconds);
    std::vector<OpenFile> files;
    for (const auto& process : scan->processes) {
      files.insert(files.end(), process.descriptors.deleted_files.begin(), process.descriptors.deleted_files.end());
    }
    OpenFileSummary summary = summarize_deleted_open_files(mounts, files);
    for (std::size_t i = 0; i < mounts.size(); ++i) {
      const auto& mount = mounts[i];
      sink.emit(kTmpfsDeletedOpenFiles, {mount.mountpoint}, static_cast<double>(summary.per_mount[i].files));
      sink.emit(kTmpfsDeletedOpenBytes, {mount.mountpoint}, static_cast<double>(summary.per_mount[i].bytes));
    }
    sink.emit(kMemfdFiles, {}, static_cast<double>(summary.memfd.files));
    sink.emit(kMemfdBytes, {}, static_cast<double>(summary.memfd.bytes));
    sink.emit(kShmemOpenFilesScanAgeSeconds, {}, std::chrono::duration<double>(std::chrono::steady_clock::now() - scan->taken).count());
    sink.emit(kShmemUnscannedProcesses, {}, static_cast<double>(scan->unreadable));
    return static_cast<std::int64_t>(summary.memfd.bytes);
  }

  ShmemConfig config_;
  std::unique_ptr<ShmemProbe> probe_;
  bool via_init_root_ = false;
  std::size_t hidden_ = 0;
  std::shared_ptr<DescriptorScanCache> descriptors_;
};

}  // namespace

std::unique_ptr<ShmemProbe> make_system_shmem_probe() { return std::make_unique<SystemShmemProbe>(); }

const CollectorInfo kShmemCollector{
    {"shmem", true, {
          {"scan_open_files", OptionDecl::Kind::boolean, "true"},
          {"open_files_refresh_seconds", OptionDecl::Kind::seconds, "60"}}},
    "Shmem by owner: tmpfs mounts, System V segments, memfd and deleted open files",
    {&kTmpfsUsedBytes, &kTmpfsSizeBytes, &kTmpfsUnmeasuredMounts, &kShmemUnattributedBytes, &kSysvShmSegments, &kSysvShmSizeBytes, &kSysvShmBytes, &kSysvShmOrphanedSegments, &kSysvShmOrphanedBytes, &kTmpfsDeletedOpenFiles, &kTmpfsDeletedOpenBytes, &kMemfdFiles, &kMemfdBytes, &kShmemOpenFilesScanAgeSeconds, &kShmemUnscannedProcesses},
    [](const CollectorOptions& options) -> std::unique_ptr<Collector> {
      return make_shmem_collector_with_probe(shmem_config(options), make_system_shmem_probe(),
                                             shared_descriptor_scan_cache());
    }};

ShmemConfig shmem_config(const CollectorOptions& options) {
  return ShmemConfig{options.boolean("scan_open_files"), options.seconds("open_files_refresh_seconds")};
}

std::unique_ptr<Collector> make_shmem_collector_with_probe(
    const ShmemConfig& config, std::unique_ptr<ShmemProbe> probe,
    std::shared_ptr<DescriptorScanCache> descriptors) {
  return std::make_unique<ShmemCollector>(config, std::move(probe), std::move(descriptors));
}

}  // namespace memledger
