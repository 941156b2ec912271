#include "procfs/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "procfs/errors.h"

namespace memledger {

Snapshot::Snapshot(SourceRoots roots)
    : roots_(std::move(roots)),
      page_size_(roots_.page_size ? roots_.page_size : static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE))) {}

bool Reading::missing() const { return error == ENOENT || error == ENOTDIR; }

int read_whole_file(const std::string& path, std::string& out) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  // Straight into out's storage, doubling from one page: no staging buffer (one per
  // thread stayed resident in every HTTP worker), and a buffer reused across files is
  // zeroed by resize() only as far as the file reaches, not over its whole capacity.
  constexpr std::size_t kFirstRead = 4096;
  std::size_t used = 0;
  int error = 0;
  out.resize(kFirstRead);
  for (;;) {
    if (used == out.size()) out.resize(2 * out.size());
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(used);
  return error;
}

std::string Snapshot::path(Root root, std::string_view relative) const {
  const auto& base = root == Root::proc ? roots_.procfs : roots_.sysfs;
  std::string full = base.string();
  if (!full.empty() && full.back() != '/') full.push_back('/');
  full.append(relative);
  return full;
}

const Reading& Snapshot::read(Root root, std::string_view relative) {
  return fetch(root, relative, Access::raw);
}

bool Snapshot::readable(Root root, std::string_view relative) {
  return fetch(root, relative, Access::check).ok();
}

bool Snapshot::missing(Root root, std::string_view relative) {
  return fetch(root, relative, Access::check).missing();
}

const Reading& Snapshot::fetch(Root root, std::string_view relative, Access access) {
  std::string full = path(root, relative);
  Entry* entry;
  {
    std::lock_guard lock(mutex_);
    auto it = files_.find(full);
    if (it == files_.end()) it = files_.emplace(full, std::make_unique<Entry>()).first;
    entry = it->second.get();
    if (access == Access::raw) ++entry->use.raw_reads;
    if (access == Access::parse) ++entry->use.parses;
  }
  std::call_once(entry->once, [&] {
    entry->reading.path = full;
    entry->reading.error = read_whole_file(full, entry->reading.text);
  });
  return entry->reading;
}

const std::string& Snapshot::text(Root root, std::string_view relative) {
  const Reading& r = read(root, relative);
  if (!r.ok()) throw CollectError(r.path, 0, std::strerror(r.error));
  return r.text;
}

const std::vector<std::string>& Snapshot::list(Root root, std::string_view relative) {
  std::string full = path(root, relative);
  Listing* listing;
  {
    std::lock_guard lock(mutex_);
    auto it = listings_.find(full);
    if (it == listings_.end()) it = listings_.emplace(full, std::make_unique<Listing>()).first;
    listing = it->second.get();
  }
  std::call_once(listing->once, [&] {
    DIR* dir = ::opendir(full.c_str());
    if (!dir) return;
    while (const dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      listing->names.emplace_back(name);
    }
    ::closedir(dir);
    std::sort(listing->names.begin(), listing->names.end());
  });
  return listing->names;
}

int Snapshot::read_uncached(Root root, std::string_view relative, std::string& buffer) const {
  return read_whole_file(path(root, relative), buffer);
}

Snapshot::Derived* Snapshot::derived_slot(std::string_view key, const std::type_info& type) {
  std::lock_guard lock(mutex_);
  auto it = derived_.find(key);
  if (it == derived_.end()) {
    it = derived_.emplace(std::string(key), std::make_unique<Derived>()).first;
    it->second->type = &type;
  } else if (*it->second->type != type) {
    throw std::logic_error("snapshot key " + std::string(key) + " derived as two types");
  }
  return it->second.get();
}

std::map<std::string, Snapshot::FileUse> Snapshot::file_uses() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, FileUse> out;
  for (const auto& [path, entry] : files_) out[path] = entry->use;
  return out;
}

std::size_t Snapshot::files_read() const {
  std::lock_guard lock(mutex_);
  return files_.size();
}

}  // namespace memledger
