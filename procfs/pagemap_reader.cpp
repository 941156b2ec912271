#include "procfs/pagemap_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <utility>

#include "procfs/errors.h"
#include "procfs/maps.h"

namespace memledger {

namespace {

// Entries per pagemap read: 64 KiB of buffer, 32 MiB of address space with 4 KiB pages.
// The kernel walks it PMD by PMD and drops the mmap lock between walks whatever the size.
constexpr std::size_t kEntriesPerRead = 8192;
// /proc/kpagecount reads: a run of pfns read in one call may skip up to kMaxGapEntries - 1
// unwanted entries between two wanted ones, and spans at most kMaxRunEntries. The kernel
// spends about as much per entry (kpagecount_read()) as a fifth of a call: gaps of 1 to 4
// cost the same, 16 a quarter more, 64 two fifths more (2 GiB of shmem mapped by two processes).
constexpr std::uint64_t kMaxGapEntries = 4;
constexpr std::uint64_t kMaxRunEntries = 4096;
constexpr std::size_t kKeepEntries = 1 << 16;
// Past this many mapped pages per resident page (plus a fixed allowance), reading 8 bytes
// per mapped page costs more than smaps_rollup's walk, which skips empty page tables.
constexpr std::uint64_t kMaxMappedPerResident = 8;
constexpr std::uint64_t kMappedAllowanceBytes = 1ull << 30;

int open_pid_file(const Snapshot& snapshot, int pid, std::string_view file) {
  char relative[48];
  char* end = std::to_chars(relative, relative + 12, pid).ptr;
  *end++ = '/';
  std::string path = snapshot.path(Root::proc, std::string_view(relative, end - relative)) +
                     std::string(file);
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

bool exited_errno(int error) { return error == ENOENT || error == ESRCH; }

// Reads exactly `bytes` at `offset`, or returns the bytes read before EOF/error (-1 for an
// error with errno set).
ssize_t pread_full(int fd, void* buffer, std::size_t bytes, off_t offset) {
  std::size_t done = 0;
  while (done < bytes) {
    ssize_t n = ::pread(fd, static_cast<char*>(buffer) + done, bytes - done,
                        offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return done ? static_cast<ssize_t>(done) : -1;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

PagemapReader::~PagemapReader() {
  if (kpagecount_fd_ >= 0) ::close(kpagecount_fd_);
  if (kpageflags_fd_ >= 0) ::close(kpageflags_fd_);
}

PagemapReader::PagemapReader(PagemapReader&& other) noexcept
    : kpagecount_fd_(std::exchange(other.kpagecount_fd_, -1)),
      kpageflags_fd_(std::exchange(other.kpageflags_fd_, -1)),
      kpage_failed_(other.kpage_failed_),
      maps_(std::move(other.maps_)),
      entries_(std::move(other.entries_)),
      counts_(std::move(other.counts_)),
      window_(std::move(other.window_)) {}

void PagemapReader::shrink() {
  if (maps_.capacity() > kKeepEntries) std::string().swap(maps_);
  if (counts_.capacity() > kKeepEntries) std::vector<std::uint64_t>().swap(counts_);
}

bool PagemapReader::open_kpage_files(const Snapshot& snapshot) {
  if (kpagecount_fd_ >= 0) return true;
  if (kpage_failed_) return false;
  kpagecount_fd_ = ::open(snapshot.path(Root::proc, "kpagecount").c_str(), O_RDONLY | O_CLOEXEC);
  kpageflags_fd_ = ::open(snapshot.path(Root::proc, "kpageflags").c_str(), O_RDONLY | O_CLOEXEC);
  if (kpagecount_fd_ < 0 || kpageflags_fd_ < 0) {
    if (kpagecount_fd_ >= 0) ::close(kpagecount_fd_);
    if (kpageflags_fd_ >= 0) ::close(kpageflags_fd_);
    kpagecount_fd_ = kpageflags_fd_ = -1;
    kpage_failed_ = true;  // root-only files (0400): no use retrying every process
    return false;
  }
  return true;
}

// counts[i] = the /proc/kpagecount entry of pfns[i] (sorted). Each pread covers a run of pfns
// whose gaps are at most kMaxGapEntries: the kernel's cost is per entry read, so reading a
// few unwanted entries is cheaper than another call, but a window of fixed width over
// pages scattered across memory (a large shmem segment) reads mostly unwanted ones.
bool PagemapReader::map_counts(std::span<const std::uint64_t> pfns,
                               std::vector<std::uint64_t>& counts) {
  counts.resize(pfns.size());
  window_.resize(kMaxRunEntries);
  std::size_t i = 0;
  while (i < pfns.size()) {
    const std::uint64_t first = pfns[i];
    std::size_t j = i + 1;
    while (j < pfns.size() && pfns[j] - pfns[j - 1] <= kMaxGapEntries &&
           pfns[j] - first < kMaxRunEntries) {
      ++j;
    }
    const std::uint64_t span = pfns[j - 1] - first + 1;
    ssize_t got = pread_full(kpagecount_fd_, window_.data(), span * sizeof(std::uint64_t),
                             static_cast<off_t>(first * sizeof(std::uint64_t)));
    if (got != static_cast<ssize_t>(span * sizeof(std::uint64_t))) return false;
    for (; i < j; ++i) counts[i] = window_[pfns[i] - first];
  }
  return true;
}

std::optional<std::uint64_t> PagemapReader::page_flags(std::uint64_t pfn) const {
  std::uint64_t flags = 0;
  if (pread_full(kpageflags_fd_, &flags, sizeof flags, static_cast<off_t>(pfn * sizeof flags)) !=
      static_cast<ssize_t>(sizeof flags)) {
    return std::nullopt;
  }
  return flags;
}

PagemapOutcome PagemapReader::read(const Snapshot& snapshot, int pid, std::uint64_t page_size,
                                   std::uint64_t rss_bytes, PagemapFigures& figures) {
  if (!open_kpage_files(snapshot)) return PagemapOutcome::unavailable;
  char relative[48];
  char* end = std::to_chars(relative, relative + 12, pid).ptr;
  std::string_view maps_path(relative, static_cast<std::size_t>(
                                           std::copy_n("/maps", 5, end) - relative));
  int error = snapshot.read_uncached(Root::proc, maps_path, maps_);
  if (exited_errno(error)) return PagemapOutcome::exited;
  if (error) return PagemapOutcome::denied;
  if (maps_.empty()) return PagemapOutcome::exited;  // its address space is gone
  std::vector<AddressRange> ranges;
  try {
    ranges = parse_maps_ranges(maps_);
  } catch (const ParseError& e) {
    throw CollectError(snapshot.path(Root::proc, maps_path), e.line(), e.what());
  }

  std::uint64_t mapped_bytes = 0;
  for (const AddressRange& range : ranges) mapped_bytes += range.end - range.start;
  if (mapped_bytes > kMaxMappedPerResident * rss_bytes + kMappedAllowanceBytes) {
    return PagemapOutcome::sparse;
  }

  // Opened after maps: an exec in between shows as a smaller, newer address space, read
  // whole. An exec or exit after this leaves the fd on the old one, which then reads short.
  int fd = open_pid_file(snapshot, pid, "/pagemap");
  if (fd < 0) return exited_errno(errno) ? PagemapOutcome::exited : PagemapOutcome::denied;
  PagemapCensus census(page_size, [this](std::uint64_t pfn) { return page_flags(pfn); });
  entries_.resize(kEntriesPerRead);
  PagemapOutcome outcome = PagemapOutcome::read;
  for (const AddressRange& range : ranges) {
    census.begin_mapping();
    std::uint64_t page = range.start / page_size;
    const std::uint64_t last = range.end / page_size;
    while (page < last && outcome == PagemapOutcome::read) {
      const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(last - page, kEntriesPerRead));
      ssize_t got = pread_full(fd, entries_.data(), count * sizeof(std::uint64_t),
                               static_cast<off_t>(page * sizeof(std::uint64_t)));
      if (got != static_cast<ssize_t>(count * sizeof(std::uint64_t))) {
        // Short: the address space went away (pagemap_read() finds no mm). Any other
        // error leaves the reading partial: smaps_rollup serves this process.
        outcome = (got >= 0 || exited_errno(errno)) ? PagemapOutcome::exited
                                                      : PagemapOutcome::denied;
        break;
      }
      census.add_entries(std::span(entries_.data(), count));
      page += count;
    }
    if (outcome != PagemapOutcome::read) break;
  }
  ::close(fd);
  if (outcome != PagemapOutcome::read) return outcome;
  if (!census.pfns_visible() || census.flags_failed()) return PagemapOutcome::unavailable;
  for (PagemapCensus::Shared shared : PagemapCensus::kSharedClasses) {
    if (!map_counts(census.pending_pfns(shared), counts_)) {
      return PagemapOutcome::unavailable;
    }
    census.resolve(shared, counts_);
  }
  figures = census.figures();
  return PagemapOutcome::read;
}

}  // namespace memledger
