#pragma once
// /proc/vmallocinfo (mm/vmalloc.c, vmalloc_info_show; root only): one line per area
// with its size, caller, pages=N and flags.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

struct VmallocSummary {
  // RAM (pages= x page size) per kind. Each area counts under one kind, the first of its
  // flags in the order vmalloc, vmap, user, dma-coherent, sparse, vm_map_ram, then any
  // flag a newer kernel adds; "other" when it has none. "vmalloc" and "vmap" are always
  // present. ioremap areas map device memory, not RAM: they are in ioremap_address_bytes.
  std::map<std::string, std::uint64_t, std::less<>> bytes_by_kind;
  std::uint64_t ioremap_address_bytes = 0;  // address space of ioremap areas (not RAM)
  // RAM per caller ("symbol", or "symbol [module]"; "unknown" when the kernel printed
  // none), callers with no pages left out, largest first, ties by name.
  std::vector<std::pair<std::string, std::uint64_t>> bytes_by_caller;
  // pages= over areas flagged vmalloc, x page size: equals VmallocUsed on 5.3+, and is
  // the substitute on 4.4-5.2 where VmallocUsed is 0.
  std::uint64_t vmalloc_bytes = 0;
  // vmalloc areas holding task stacks (CONFIG_VMAP_STACK): /proc/meminfo counts them in
  // both KernelStack and VmallocUsed. Includes the few freed stacks the kernel keeps
  // cached per CPU for reuse, which KernelStack no longer counts.
  std::uint64_t kernel_stack_bytes = 0;
  std::uint64_t kernel_stack_areas = 0;
  std::uint64_t areas = 0;  // live areas; "unpurged vm_area" lines (already freed) excluded
};

// Throws ParseError with the line number on a malformed or truncated line.
VmallocSummary parse_vmallocinfo(std::string_view text, std::uint64_t page_size);

// True for the callers that allocate task stacks: kernel_clone (5.10+), _do_fork
// (4.2-5.9), fork_idle, create_io_thread, vhost_task_create, and copy_process,
// dup_task_struct, alloc_thread_stack_node where the compiler did not inline them.
// Compiler suffixes (".part.3", ".isra.0", ".constprop.0") are ignored.
bool is_kernel_stack_caller(std::string_view symbol);

// /proc/vmallocinfo at the snapshot's page size, parsed once per snapshot; throws CollectError.
const VmallocSummary& read_vmallocinfo(Snapshot& snapshot);

}  // namespace memledger
