#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "collectors/shmem.h"
#include "procfs/mountinfo.h"
#include "procfs/sysvipc.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

constexpr std::uint64_t MiB = 1024 * 1024;

const std::string kHost = std::string(MEMLEDGER_FIXTURES) + "/shmem/linux-6.18-firecracker";

// Answers statfs and fd listings from tables instead of the running system.
class FakeProbe final : public ShmemProbe {
 public:
  std::map<std::string, FilesystemUsage> usage_by_path;
  std::vector<std::string> asked;

  std::optional<FilesystemUsage> usage(const std::string& path, std::uint32_t, std::uint32_t) override {
    asked.push_back(path);
    auto it = usage_by_path.find(path);
    if (it == usage_by_path.end()) return std::nullopt;
    return it->second;
  }
};

class FakeLister final : public DescriptorLister {
 public:
  std::map<std::string, std::vector<OpenFile>> files_by_fd_directory;
  int fd_listings = 0;

  bool list(const std::string& fd_directory, ProcessDescriptors& out) override {
    ++fd_listings;
    auto it = files_by_fd_directory.find(fd_directory);
    if (it == files_by_fd_directory.end()) return false;
    out.deleted_files.insert(out.deleted_files.end(), it->second.begin(), it->second.end());
    return true;
  }
};

// A collector over a fake probe and its own descriptor scans through `lister`.
std::unique_ptr<Collector> shmem_collector(const ShmemConfig& config, std::unique_ptr<FakeProbe> probe,
                                           std::unique_ptr<FakeLister> lister = std::make_unique<FakeLister>()) {
  return make_shmem_collector_with_probe(config, std::move(probe),
                                         std::make_shared<DescriptorScanCache>(std::move(lister)));
}

}  // namespace

TEST_CASE("parse_mountinfo reads device, mount point and type, decoding escapes") {
  auto mounts = parse_mountinfo(
      "25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k\n"
      "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime shared:9 unbindable - cgroup cgroup rw,name=systemd\n");
  REQUIRE(mounts.size() == 3);
  CHECK(mounts[0].major == 0);
  CHECK(mounts[0].minor == 23);
  CHECK(mounts[0].mountpoint == "/dev/shm");
  CHECK(mounts[0].fstype == "tmpfs");
  CHECK(mounts[1].mountpoint == "/mnt two");
  CHECK(mounts[1].major == 98);
  CHECK(mounts[2].fstype == "cgroup");
  CHECK_THROWS_AS(parse_mountinfo("25 24 0:23 / /dev/shm rw tmpfs tmpfs rw\n"), ParseError);
  CHECK_THROWS_AS(parse_mountinfo("25 24 zero / /dev/shm rw - tmpfs tmpfs rw\n"), ParseError);
}

TEST_CASE("each shmem filesystem is measured once, through a mount point that reaches it") {
  // This VM mounts a second tmpfs over /dev/shm: the first is hidden and unreachable.
  auto mounts = parse_mountinfo(
      "24 27 0:6 / /dev rw - devtmpfs devtmpfs rw,size=12334460k\n"
      "25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw\n"
      "27 1 254:0 / / rw - ext4 /dev/vda rw\n"
      "30 25 0:27 / /dev/shm rw - tmpfs tmpfs rw\n"
      "31 23 0:28 / /run rw - tmpfs tmpfs rw\n"
      "32 23 0:28 /lock /run/lock rw - tmpfs tmpfs rw\n");
  auto shmem = measurable_shmem_mounts(mounts);
  REQUIRE(shmem.size() == 3);
  CHECK(shmem[0].mountpoint == "/dev");
  CHECK(shmem[1].mountpoint == "/dev/shm");
  CHECK(shmem[1].minor == 27);
  CHECK(shmem[2].mountpoint == "/run");  // the bind mount of the same filesystem is left out
}

TEST_CASE("parse_sysvipc_shm finds columns by name, with and without rss") {
  std::string text;
  {
    Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys"});
    text = snapshot.text(Root::proc, "sysvipc/shm");
  }
  auto segments = parse_sysvipc_shm(text);
  REQUIRE(segments.size() == 2);
  CHECK(segments[0].size == 8 * MiB);
  CHECK(segments[0].nattch == 1);
  CHECK(segments[0].rss == 8 * MiB);
  CHECK(segments[1].nattch == 0);
  CHECK(segments[1].rss == 2 * MiB);
  CHECK(segments[1].swap == 0u);

  // 2.6.32 printed no rss and swap columns.
  auto old = parse_sysvipc_shm(
      "       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime\n"
      "         0      32768   600     393216  2386  2401      2  1000  1000  1000  1000 1300000000          0 1300000000\n");
  REQUIRE(old.size() == 1);
  CHECK(old[0].size == 393216);
  CHECK_FALSE(old[0].rss);
  CHECK(parse_sysvipc_shm("       key      shmid perms   size nattch\n").empty());
  CHECK_THROWS_AS(parse_sysvipc_shm("key shmid perms\n"), ParseError);
  CHECK_THROWS_AS(parse_sysvipc_shm("key size nattch\n1 2\n"), ParseError);
  CHECK_THROWS_AS(parse_sysvipc_shm("key size nattch\n1 x 0\n"), ParseError);
}

TEST_CASE("deleted open files are summed per mount, each inode once, memfd apart") {
  auto mounts = parse_mountinfo(
      "25 24 0:23 / /dev/shm rw - tmpfs tmpfs rw\n"
      "31 23 0:28 / /run rw - tmpfs tmpfs rw\n");
  std::vector<OpenFile> files = {
      {0, 23, 100, 64 * MiB, false},
      {0, 23, 100, 64 * MiB, false},  // the same file through a second descriptor
      {0, 28, 7, 4096, false},
      {0, 1, 55, 3 * MiB, true},      // memfd: on the kernel's internal shm mount
      {254, 0, 9, 50 * MiB, false},   // a deleted file on ext4: not Shmem
  };
  auto summary = summarize_deleted_open_files(mounts, files);
  CHECK(summary.per_mount[0].files == 1);
  CHECK(summary.per_mount[0].bytes == 64 * MiB);
  CHECK(summary.per_mount[1].files == 1);
  CHECK(summary.per_mount[1].bytes == 4096);
  CHECK(summary.memfd.files == 1);
  CHECK(summary.memfd.bytes == 3 * MiB);
}

TEST_CASE("the shmem collector names the mounts, segments and files that hold Shmem") {
  auto probe = std::make_unique<FakeProbe>();
  const std::string root = kHost + "/proc/1/root";
  probe->usage_by_path[root + "/dev"] = {12630487040ull, 0};
  probe->usage_by_path[root + "/dev/shm"] = {25276502016ull, 100 * MiB};
  probe->usage_by_path[root + "/sys/fs/cgroup"] = {12638248960ull, 0};
  // /mnt/sandboxing/... is not measurable here (say, mounted without a size limit).
  auto lister = std::make_unique<FakeLister>();
  lister->files_by_fd_directory[kHost + "/proc/1/fd"] = {};  // no pid dirs in the fixture
  FakeProbe* fake = probe.get();
  auto collector = shmem_collector(ShmemConfig{}, std::move(probe), std::move(lister));
  Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys"});
  MetricSink sink;
  collector->collect(snapshot, sink);

  CHECK(gauge_value(sink, "memledger_tmpfs_used_bytes", {{"mountpoint", "/dev/shm"}}) == 100 * MiB);
  CHECK(gauge_value(sink, "memledger_tmpfs_size_bytes", {{"mountpoint", "/dev/shm"}}) == 25276502016.0);
  CHECK_FALSE(find_sample(sink, "memledger_tmpfs_used_bytes",
                          {{"mountpoint", "/mnt/sandboxing/model_tools_env/v1/python"}}));
  // The unreachable mount and the hidden /dev/shm underneath the visible one.
  CHECK(gauge_value(sink, "memledger_tmpfs_unmeasured_mounts", {}) == 2);
  CHECK(sample_count(sink, "memledger_tmpfs_used_bytes") == 3);
  // Paths are asked through pid 1's root, and never outside the fixture (procfs is not /proc).
  for (const auto& path : fake->asked) CHECK(path.rfind(root, 0) == 0);

  CHECK(gauge_value(sink, "memledger_sysv_shm_segments", {}) == 2);
  CHECK(gauge_value(sink, "memledger_sysv_shm_bytes", {{"state", "resident"}}) == 10 * MiB);
  CHECK(gauge_value(sink, "memledger_sysv_shm_orphaned_segments", {}) == 1);
  CHECK(gauge_value(sink, "memledger_sysv_shm_orphaned_bytes", {}) == 2 * MiB);
  // Shmem 8872 kB minus 100 MiB of tmpfs and 10 MiB of segments.
  CHECK(gauge_value(sink, "memledger_shmem_unattributed_bytes", {}) ==
        static_cast<double>(8872 * 1024) - 110.0 * MiB);
}

TEST_CASE("scan_open_files: false leaves /proc/<pid>/fd alone") {
  auto probe = std::make_unique<FakeProbe>();
  ShmemConfig config;
  config.scan_open_files = false;
  auto collector = shmem_collector(config, std::move(probe));
  Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys"});
  MetricSink sink;
  collector->collect(snapshot, sink);
  CHECK(sample_count(sink, "memledger_memfd_bytes") == 0);
  CHECK(sample_count(sink, "memledger_tmpfs_deleted_open_files") == 0);
}

TEST_CASE("one scan of the descriptors serves the scrapes of open_files_refresh_seconds") {
  for (double refresh : {60.0, 0.0}) {
    auto lister = std::make_unique<FakeLister>();
    FakeLister* fake = lister.get();
    ShmemConfig config;
    config.open_files_refresh_seconds = refresh;
    auto collector = shmem_collector(config, std::make_unique<FakeProbe>(), std::move(lister));
    for (int scrape = 0; scrape < 3; ++scrape) {
      Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys"});
      MetricSink sink;
      collector->collect(snapshot, sink);
      CHECK(gauge_value(sink, "memledger_shmem_open_files_scan_age_seconds", {}) >= 0);
    }
    // The fixture has one pid directory ("1"): one listing per scan.
    CHECK(fake->fd_listings == (refresh > 0 ? 1 : 3));
  }
}
