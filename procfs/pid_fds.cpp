#include "procfs/pid_fds.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs/text.h"

namespace memledger {

std::optional<std::uint64_t> socket_link_inode(std::string_view link_target) {
  constexpr std::string_view kPrefix = "socket:[";
  if (!text::starts_with(link_target, kPrefix) || link_target.back() != ']') return std::nullopt;
  return text::to_u64(link_target.substr(kPrefix.size(), link_target.size() - kPrefix.size() - 1));
}

bool is_deleted_link(std::string_view link_target) {
  constexpr std::string_view kDeleted = " (deleted)";
  return link_target.size() >= kDeleted.size() &&
         link_target.substr(link_target.size() - kDeleted.size()) == kDeleted;
}

namespace {

class SystemDescriptorLister final : public DescriptorLister {
 public:
  bool list(const std::string& fd_directory, ProcessDescriptors& out) override {
    DIR* dir = ::opendir(fd_directory.c_str());
    if (!dir) return false;
    char link[4096];
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.') continue;
      // readlink only formats a path; stat is done for deleted files alone, so a hung
      // network filesystem behind some other descriptor cannot stall the scrape.
      ssize_t n = ::readlinkat(::dirfd(dir), entry->d_name, link, sizeof link);
      if (n <= 0) continue;
      std::string_view target(link, static_cast<std::size_t>(n));
      if (auto inode = socket_link_inode(target)) {
        out.socket_inodes.push_back(*inode);
        continue;
      }
      if (!is_deleted_link(target)) continue;
      struct stat st {};
      if (::fstatat(::dirfd(dir), entry->d_name, &st, 0) != 0) continue;
      if (!S_ISREG(st.st_mode) || st.st_nlink != 0) continue;
      OpenFile file;
      file.major = ::major(st.st_dev);
      file.minor = ::minor(st.st_dev);
      file.inode = st.st_ino;
      file.allocated_bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
      file.memfd = text::starts_with(target, "/memfd:");
      out.deleted_files.push_back(file);
    }
    ::closedir(dir);
    return true;
  }
};

}  // namespace

std::unique_ptr<DescriptorLister> make_system_descriptor_lister() {
  return std::make_unique<SystemDescriptorLister>();
}

std::shared_ptr<const DescriptorScan> DescriptorScanCache::scan(Snapshot& snapshot, double max_age_seconds) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  const std::string procfs = snapshot.roots().procfs.string();
  if (latest_ && latest_->procfs == procfs && max_age_seconds > 0 &&
      now - latest_->taken < std::chrono::duration<double>(max_age_seconds)) {
    return latest_;
  }
  auto scan = std::make_shared<DescriptorScan>();
  scan->procfs = procfs;
  for (const auto& name : snapshot.list(Root::proc, "")) {
    auto pid = text::to_u64(name);
    if (name.empty() || !pid) continue;
    DescriptorScan::Process process;
    process.pid = static_cast<int>(*pid);
    if (lister_->list(snapshot.path(Root::proc, name + "/fd"), process.descriptors)) {
      scan->processes.push_back(std::move(process));
    } else {
      ++scan->unreadable;
    }
  }
  scan->taken = now;
  latest_ = scan;
  return latest_;
}

std::shared_ptr<DescriptorScanCache> shared_descriptor_scan_cache() {
  static const auto cache = std::make_shared<DescriptorScanCache>(make_system_descriptor_lister());
  return cache;
}

}  // namespace memledger
