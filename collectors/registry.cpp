#include "collectors/registry.h"

#include "collectors/allocinfo.h"
#include "collectors/balloon.h"
#include "collectors/blackhole.h"
#include "collectors/buddyinfo.h"
#include "collectors/cgroup.h"
#include "collectors/hugepages.h"
#include "collectors/ledger.h"
#include "collectors/lru.h"
#include "collectors/meminfo.h"
#include "collectors/pagecensus.h"
#include "collectors/process.h"
#include "collectors/shmem.h"
#include "collectors/slab.h"
#include "collectors/vmalloc.h"
#include "collectors/zoneinfo.h"

namespace memledger {

const std::vector<CollectorInfo>& collector_catalog() {
  static const std::vector<CollectorInfo> catalog = {
      {"meminfo", "every /proc/meminfo field, in bytes", true, make_meminfo_collector},
      {"slab", "slab caches from /proc/slabinfo (root): the largest by name, the rest as other",
       true, make_slab_collector},
      {"vmalloc", "vmalloc RAM by kind and caller, and vmapped task stacks (/proc/vmallocinfo, root)",
       true, make_vmalloc_collector},
      {"hugepages", "hugetlbfs pools of every page size, global and per NUMA node", true,
       make_hugepages_collector},
      {"lru", "LRU lists (global, per NUMA node) and pages isolated from them", true,
       make_lru_collector},
      {"zoneinfo", "per-zone free/managed/present/spanned pages and per-CPU free lists", true,
       make_zoneinfo_collector},
      {"process", "per-process RSS/PSS/USS/swap by group within a time budget, and the pss ledger",
       true, make_process_collector},
      {"ledger", "MemTotal split into disjoint categories and the unexplained remainder", true,
       make_ledger_collector},
      {"balloon", "balloon drivers (virtio, vmw, hv, xen, pseries cmm): size, target, MemTotal placement",
       true, make_balloon_collector},
      {"shmem", "Shmem by owner: tmpfs mounts, System V segments, memfd and deleted open files",
       true, make_shmem_collector},
      {"cgroup", "kernel memory per memory cgroup and its unnamed residual (top N)", true,
       make_cgroup_collector},
      {"buddyinfo", "free blocks per order and zone, and how fragmented free memory is", true,
       make_buddyinfo_collector},
      {"allocinfo", "kernel memory per allocation call site (/proc/allocinfo, 6.10+, root)", true,
       make_allocinfo_collector},
      {"pagecensus", "background census of /proc/kpageflags (root): balloon pages, black hole",
       false, make_pagecensus_collector},
      {"blackhole", "eBPF on the page allocator: kernel pages no counter accounts for, by call site and process",
       true, make_blackhole_collector},
  };
  return catalog;
}

}  // namespace memledger
