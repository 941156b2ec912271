#pragma once
// /proc/kpageflags (root): 64 flag bits per page frame (Documentation/admin-guide/mm/pagemap.rst),
// and /proc/iomem's "System RAM" ranges that say which frames are RAM.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace memledger {

// Bits of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h, and
// include/linux/kernel-page-flags.h for the ones from 32 up).
namespace kpf {
inline constexpr int kLocked = 0, kError = 1, kReferenced = 2, kUptodate = 3, kDirty = 4, kLru = 5,
                     kActive = 6, kSlab = 7, kWriteback = 8, kReclaim = 9, kBuddy = 10, kMmap = 11,
                     kAnon = 12, kSwapcache = 13, kSwapbacked = 14, kCompoundHead = 15,
                     kCompoundTail = 16, kHuge = 17, kUnevictable = 18, kHwpoison = 19,
                     kNopage = 20, kKsm = 21, kThp = 22, kOffline = 23, kZeroPage = 24, kIdle = 25,
                     kPgtable = 26, kReserved = 32, kMlocked = 33, kOwner2 = 34, kPrivate = 35,
                     kPrivate2 = 36, kOwnerPrivate = 37, kArch = 38, kUncached = 39,
                     kSoftdirty = 40, kArch2 = 41, kArch3 = 42;
}  // namespace kpf

// Every page frame in exactly one class, by the first that applies:
//   no_page   not RAM: KPF_NOPAGE, or outside /proc/iomem's "System RAM" ranges (the
//             memmap of holes such as the PCI window below 4 GiB reads as flagless pages)
//   reserved  PG_reserved: kernel image, boot allocations, firmware; outside MemTotal
//   offline   PageOffline (5.1+; KPF_BALLOON before): balloon-inflated or offlined pages
//   hwpoison  memory the kernel retired after a hardware error
//   free      in the buddy allocator (the head of a free block; every page of it on 4.x+)
//   typed     any flag that names a use: LRU, slab, anon, mapped, page table, huge page,
//             compound, page-cache state, private data...
//   untyped   none of those. Only the idle-tracking (IDLE) and per-arch bits (ARCH*,
//             UNCACHED, SOFTDIRTY) are ignored: a kernel page never gets a use from them.
enum class PageClass { no_page, reserved, offline, hwpoison, free, typed, untyped };
inline constexpr std::size_t kPageClasses = 7;
std::string_view page_class_name(PageClass c);
PageClass classify_page(std::uint64_t flags);

// Physical page frames [first, end).
struct PfnRange {
  std::uint64_t first = 0;
  std::uint64_t end = 0;
};

// The top-level "System RAM" ranges of /proc/iomem, in page frames. Empty when the file
// shows no addresses (they read as zero without CAP_SYS_ADMIN). Throws ParseError on a
// malformed range.
std::vector<PfnRange> parse_iomem_system_ram(std::string_view text, std::uint64_t page_size);

struct PageCensus {
  std::uint64_t pages[kPageClasses] = {};
  std::uint64_t page_table_pages = 0;  // typed pages with KPF_PGTABLE (4.17+)
  std::uint64_t ram_pages = 0;         // frames inside the RAM ranges (0 without ranges)

  std::uint64_t count(PageClass c) const { return pages[static_cast<std::size_t>(c)]; }
  // Adds the flags of page frames first_pfn, first_pfn + 1, ...; frames outside `ram`
  // (sorted, disjoint) count as no_page. An empty `ram` means every frame may be RAM.
  void add(const std::uint64_t* flags, std::size_t n, std::uint64_t first_pfn,
           const std::vector<PfnRange>& ram);
};

}  // namespace memledger
