// Live checks of the attribution collectors on the running kernel (root only; exit 77 =
// skipped). Each scenario changes the machine in a known way, reads the collector
// in-process and undoes the change:
//   tmpfs:      a tmpfs mounted on a temporary directory and filled with 64 MiB shows
//               64 MiB under its mount point; a 16 MiB file deleted while open shows as
//               one deleted open file of 16 MiB;
//   sysv:       an 8 MiB System V segment, touched then detached, shows as resident and
//               orphaned;
//   memfd:      an 8 MiB memfd shows in memledger_memfd_bytes;
//   cgroup:     256 pipes filled inside a new memory cgroup raise its kernel memory by
//               the pipe buffers' size;
//   balloon:    the balloon driver of this VM is detected with its MemTotal placement;
//   buddyinfo:  the zones' free lists add up to the zones' free page counters;
//   pagecensus: a census completes, its cost per GiB is printed, its black-hole estimate
//               agrees with the ledger's unexplained, and pipe buffers that no counter
//               records raise it by their size.
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "collectors/registry.h"
#include "collectors/balloon.h"
#include "collectors/buddyinfo.h"
#include "collectors/cgroup.h"
#include "collectors/ledger.h"
#include "collectors/meminfo.h"
#include "collectors/pagecensus.h"
#include "collectors/shmem.h"
#include "collectors/zoneinfo.h"
#include "procfs/meminfo.h"
#include "procfs/zoneinfo.h"
#include "procfs/balloon.h"
#include "procfs/buddyinfo.h"
#include "ledger/ledger.h"
#include "collectors/ledger_emit.h"
#include "procfs/kernel_release.h"
#include "procfs/kpageflags.h"
#include "ledger/accounted_untyped.h"
#include "procfs/mountinfo.h"
#include "procfs/sysvipc.h"
#include "procfs/cgroup.h"

using namespace memledger;
namespace fs = std::filesystem;

namespace {

constexpr double kMiB = 1024.0 * 1024.0;
int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  if (!ok) ++failures;
}

// One collection of a collector over the real /proc and /sys; nullopt-like NaN when the
// sample is absent.
double sample(Collector& collector, std::string_view family, std::vector<LabelPair> labels) {
  Snapshot snapshot(SourceRoots{});
  MetricSink sink;
  collector.collect(snapshot, sink);
  for (const auto& f : sink.families()) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      bool all = m.label.size() == labels.size();
      for (const auto& [name, value] : labels) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == name && l.value == value);
        all = all && found;
      }
      if (all) return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return NAN;
}

std::string mib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / kMiB);
  return buf;
}

void write_bytes(int fd, std::size_t bytes) {
  std::vector<char> block(1 << 20, 'x');
  for (std::size_t done = 0; done < bytes; done += block.size()) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      std::perror("write");
      return;
    }
  }
}

// A shmem collector that rescans the descriptors on every collection.
Config every_scrape() {
  return parse_exporter_config("collectors:\n  shmem:\n    open_files_refresh_seconds: 0\n", "test");
}

void tmpfs_test() {
  char pattern[] = "/tmp/memledger-tmpfs-XXXXXX";
  std::string dir = ::mkdtemp(pattern);
  if (::mount("memledger-test", dir.c_str(), "tmpfs", 0, "size=256m") != 0) {
    std::perror("mount");
    expect(false, "mount a tmpfs");
    return;
  }
  auto collector = kShmemCollector.make_from(every_scrape());
  int kept = ::open((dir + "/filled").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  write_bytes(kept, 64 << 20);
  ::close(kept);
  double used = sample(*collector, "memledger_tmpfs_used_bytes", {{"mountpoint", dir}});
  std::printf("tmpfs: 64 MiB written under %s: memledger_tmpfs_used_bytes %s\n", dir.c_str(), mib(used).c_str());
  expect(used == 64 * kMiB, "the mount point shows exactly the 64 MiB written");

  int deleted = ::open((dir + "/deleted").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  write_bytes(deleted, 16 << 20);
  ::unlink((dir + "/deleted").c_str());
  double files = sample(*collector, "memledger_tmpfs_deleted_open_files", {{"mountpoint", dir}});
  double bytes = sample(*collector, "memledger_tmpfs_deleted_open_bytes", {{"mountpoint", dir}});
  used = sample(*collector, "memledger_tmpfs_used_bytes", {{"mountpoint", dir}});
  std::printf("tmpfs: 16 MiB file deleted while open: %.0f file(s), %s; used %s\n", files, mib(bytes).c_str(),
              mib(used).c_str());
  expect(files == 1 && bytes == 16 * kMiB, "the deleted open file is found with its 16 MiB");
  expect(used == 80 * kMiB, "and its pages still count in the mount's usage");
  ::close(deleted);
  expect(sample(*collector, "memledger_tmpfs_deleted_open_files", {{"mountpoint", dir}}) == 0,
         "closing it releases it");
  expect(::umount(dir.c_str()) == 0, "tmpfs unmounted");
  ::rmdir(dir.c_str());
}

void sysv_test() {
  auto collector = kShmemCollector.make_from(every_scrape());
  double before = sample(*collector, "memledger_sysv_shm_bytes", {{"state", "resident"}});
  double orphans_before = sample(*collector, "memledger_sysv_shm_orphaned_bytes", {});
  int id = ::shmget(IPC_PRIVATE, 8 << 20, IPC_CREAT | 0600);
  if (id < 0) {
    expect(false, "create a System V segment");
    return;
  }
  char* p = static_cast<char*>(::shmat(id, nullptr, 0));
  std::memset(p, 1, 8 << 20);
  double attached = sample(*collector, "memledger_sysv_shm_bytes", {{"state", "resident"}});
  ::shmdt(p);
  double orphaned = sample(*collector, "memledger_sysv_shm_orphaned_bytes", {});
  ::shmctl(id, IPC_RMID, nullptr);
  std::printf("sysv: 8 MiB segment: resident %+.1f MiB, orphaned %+.1f MiB after detaching\n",
              (attached - before) / kMiB, (orphaned - orphans_before) / kMiB);
  expect(attached - before == 8 * kMiB, "the touched segment is resident");
  expect(orphaned - orphans_before == 8 * kMiB, "detached, it is orphaned");
}

void memfd_test() {
  auto collector = kShmemCollector.make_from(every_scrape());
  double before = sample(*collector, "memledger_memfd_bytes", {});
  int fd = ::memfd_create("memledger-test", MFD_CLOEXEC);
  write_bytes(fd, 8 << 20);
  double during = sample(*collector, "memledger_memfd_bytes", {});
  ::close(fd);
  std::printf("memfd: 8 MiB memfd: memledger_memfd_bytes %+.1f MiB\n", (during - before) / kMiB);
  expect(during - before == 8 * kMiB, "the memfd is found with its 8 MiB");
}

// Fills pipes in a child and keeps them until told to go; returns the child and the
// write end of its gate.
struct PipeHolder {
  pid_t pid = -1;
  int gate = -1;
  std::uint64_t bytes = 0;
};

PipeHolder hold_pipes(int count, const std::string& cgroup_procs = "") {
  int gate[2], report[2];
  if (::pipe(gate) != 0 || ::pipe(report) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(gate[1]);
    ::close(report[0]);
    if (!cgroup_procs.empty()) std::ofstream(cgroup_procs) << ::getpid();
    std::vector<char> chunk(1 << 16, 'x');
    std::uint64_t buffered = 0;
    for (int i = 0; i < count; ++i) {
      int p[2];
      if (::pipe2(p, O_NONBLOCK) != 0) break;
      ::fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
      for (;;) {
        ssize_t n = ::write(p[1], chunk.data(), chunk.size());
        if (n <= 0) break;
        buffered += static_cast<std::uint64_t>(n);
      }
    }
    (void)!::write(report[1], &buffered, sizeof buffered);
    char c;
    while (::read(gate[0], &c, 1) < 0) {
    }
    ::_exit(0);
  }
  ::close(gate[0]);
  ::close(report[1]);
  PipeHolder holder{pid, gate[1], 0};
  (void)!::read(report[0], &holder.bytes, sizeof holder.bytes);
  ::close(report[0]);
  return holder;
}

void release(PipeHolder& holder) {
  ::close(holder.gate);
  ::waitpid(holder.pid, nullptr, 0);
}

void cgroup_test() {
  Snapshot probe(SourceRoots{});
  int version = scan_cgroups(probe).version;
  if (version != 1 && version != 2) {
    std::puts("skip: no memory cgroup hierarchy");
    return;
  }
  fs::path base = version == 1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
  fs::path dir = base / "memledger-live-test";
  fs::create_directory(dir);
  std::string name = "/memledger-live-test";
  auto collector = kCgroupCollector.make_from(
      parse_exporter_config("collectors:\n  cgroup:\n    top_cgroups: 100000\n", "test"));
  std::string_view item = version == 1 ? "kmem" : "kernel";
  double before = sample(*collector, "memledger_cgroup_kernel_bytes", {{"cgroup", name}, {"item", item}});
  PipeHolder holder = hold_pipes(128, (dir / "cgroup.procs").string());
  double during = sample(*collector, "memledger_cgroup_kernel_bytes", {{"cgroup", name}, {"item", item}});
  double residual = version == 2 ? sample(*collector, "memledger_cgroup_kernel_residual_bytes", {{"cgroup", name}}) : NAN;
  release(holder);
  std::printf("cgroup v%d: %s of pipe buffers in %s: %s %s -> %s", version, mib(holder.bytes).c_str(),
              name.c_str(), std::string(item).c_str(), mib(std::isnan(before) ? 0 : before).c_str(),
              mib(during).c_str());
  if (version == 2) std::printf(", residual %s", mib(residual).c_str());
  std::printf("\n");
  expect(during - (std::isnan(before) ? 0 : before) >= 0.95 * holder.bytes,
         "the cgroup's kernel memory rises by the pipe buffers charged to it");
  if (version == 2) expect(residual >= 0.9 * holder.bytes, "and v2 names it residual");
  // An empty cgroup is removed with rmdir once the kernel has released it.
  for (int i = 0; i < 50 && ::rmdir(dir.c_str()) != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect(!fs::exists(dir), "test cgroup removed");
}

void balloon_test() {
  Snapshot snapshot(SourceRoots{});
  BalloonReadings readings = read_balloon(snapshot);
  if (readings.drivers.empty()) {
    std::puts("skip: no balloon driver on this machine");
    return;
  }
  for (const auto& d : readings.drivers) {
    std::printf("balloon: %s, %s MemTotal, %s held (from %s)\n", d.name.c_str(),
                d.placement == BalloonPlacement::inside_memtotal ? "inside" : "outside",
                d.bytes ? mib(static_cast<double>(*d.bytes)).c_str() : "unknown",
                d.source.empty() ? "nothing" : std::string(d.source).c_str());
  }
  if (readings.meminfo_bytes && readings.drivers.size() == 1) {
    expect(readings.drivers[0].bytes == readings.meminfo_bytes, "the driver's size is the Balloon line");
  }
}

void buddyinfo_test() {
  // Compared with the zones' free counters, not MemFree: on some hypervisors (this
  // Firecracker VM) MemFree is gigabytes larger than what the zones manage.
  Snapshot snapshot(SourceRoots{});
  auto zones = parse_buddyinfo(snapshot.text(Root::proc, "buddyinfo"));
  auto counted = parse_zoneinfo(snapshot.text(Root::proc, "zoneinfo"));
  std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::uint64_t free_lists = 0, zone_free = 0;
  for (const auto& z : zones) free_lists += z.free_pages() * page;
  for (const auto& z : counted) zone_free += z.free_pages * page;
  double gap = std::abs(static_cast<double>(zone_free) - static_cast<double>(free_lists));
  std::printf("buddyinfo: free lists %s, zoneinfo free pages %s\n", mib(free_lists).c_str(), mib(zone_free).c_str());
  expect(gap < 16 * kMiB, "the zones' free blocks add up to their free page counters (within 16 MiB of churn)");
}

struct CensusReading {
  double black_hole = NAN, duration = NAN, untyped = NAN, offline = NAN;
};

CensusReading one_census() {
  auto collector = kPagecensusCollector.make_from(
      parse_exporter_config("collectors:\n  pagecensus:\n    interval_seconds: 3600\n", "test"));
  CensusReading r;
  for (int i = 0; i < 600 && std::isnan(r.black_hole); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r.black_hole = sample(*collector, "memledger_pagecensus_black_hole_bytes", {});
    r.duration = sample(*collector, "memledger_pagecensus_duration_seconds", {});
    r.untyped = sample(*collector, "memledger_pagecensus_pages", {{"class", "untyped"}});
    r.offline = sample(*collector, "memledger_pagecensus_pages", {{"class", "offline"}});
  }
  return r;
}

// The median of three censuses by black hole: pages move between the per-CPU lists, the
// buddy allocator and their users while a census reads, and other work on the machine
// makes single readings noisy.
CensusReading take_census() {
  std::vector<CensusReading> r = {one_census(), one_census(), one_census()};
  std::sort(r.begin(), r.end(), [](const CensusReading& a, const CensusReading& b) { return a.black_hole < b.black_hole; });
  return r[1];
}

void pagecensus_test() {
  CensusReading before = take_census();
  if (std::isnan(before.black_hole)) {
    expect(false, "a census completes within a minute");
    return;
  }
  Snapshot snapshot(SourceRoots{});
  double memtotal = static_cast<double>(parse_meminfo(snapshot.text(Root::proc, "meminfo")).bytes_or_zero("MemTotal"));
  std::printf("pagecensus: %.3f s for %.1f GiB of MemTotal: %.1f ms per GiB; black hole %s, offline pages %.0f\n",
              before.duration, memtotal / kMiB / 1024, before.duration * 1000 / (memtotal / kMiB / 1024),
              mib(before.black_hole).c_str(), before.offline);
  Snapshot ledger_snapshot(SourceRoots{});
  double unexplained = static_cast<double>(compute_lru_ledger(read_ledger_inputs(ledger_snapshot)).unexplained);
  std::printf("pagecensus: ledger unexplained{lru} %s next to the census's %s\n", mib(unexplained).c_str(),
              mib(before.black_hole).c_str());
  expect(std::abs(unexplained - before.black_hole) < 256 * kMiB,
         "the census's black hole agrees with the ledger's unexplained (within 256 MiB)");
  PipeHolder holder = hold_pipes(256);
  CensusReading during = take_census();
  release(holder);
  double rise = during.black_hole - before.black_hole;
  std::printf("pagecensus: %s of pipe buffers: black hole %s -> %s (%+.1f MiB; untyped pages %+.0f)\n",
              mib(holder.bytes).c_str(), mib(before.black_hole).c_str(), mib(during.black_hole).c_str(),
              rise / kMiB, during.untyped - before.untyped);
  expect(std::abs(rise - static_cast<double>(holder.bytes)) < 0.15 * holder.bytes,
         "the black-hole estimate rises by the pipe buffers (within 15%)");
}

}  // namespace

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::puts("skip: these live tests need root (mount, cgroups, /proc/kpageflags)");
    return 77;
  }
  std::string which = argc > 1 ? argv[1] : "all";
  if (which == "tmpfs" || which == "all") tmpfs_test();
  if (which == "sysv" || which == "all") sysv_test();
  if (which == "memfd" || which == "all") memfd_test();
  if (which == "cgroup" || which == "all") cgroup_test();
  if (which == "balloon" || which == "all") balloon_test();
  if (which == "buddyinfo" || which == "all") buddyinfo_test();
  if (which == "pagecensus" || which == "all") pagecensus_test();
  return failures == 0 ? 0 : 1;
}
