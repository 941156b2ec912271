/* The blackhole tracer: every non-movable page allocation of the page allocator is kept
 * in the `pages` map until the pages are freed; userspace (collectors/blackhole.cpp)
 * drops those that became accounted memory and names the rest.
 *
 * BTF-typed tracepoints (tp_btf) attach without tracefs. Their arguments are the
 * tracepoints' TP_PROTO in include/trace/events/kmem.h (6.x):
 *   mm_page_alloc(struct page *page, unsigned int order, gfp_t gfp_flags, int migratetype)
 *   mm_page_free(struct page *page, unsigned int order)
 *   mm_page_free_batched(struct page *page)
 * mm_page_alloc fires in __alloc_frozen_pages_noprof (mm/page_alloc.c), so frozen-page
 * allocations (page frags, slab) are seen too; mm_page_free fires in free_pages_prepare()
 * for every path that returns pages to the allocator (__free_pages, folio_put,
 * free_frozen_pages), mm_page_free_batched in free_unref_folios(). alloc_pages_bulk()
 * takes pages off the per-CPU lists without mm_page_alloc: those are unseen.
 *
 * No type of the kernel is read: the program only keeps the struct page pointer, so it
 * needs no vmlinux.h and no CO-RE relocation; it loads on any kernel whose BTF has these
 * tracepoints. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/blackhole.h"

struct page;
typedef unsigned int gfp_t;

/* ___GFP_MOVABLE_BIT is 3 in include/linux/gfp_types.h (and __GFP_MOVABLE 0x08 since
 * 2.6.23): user and page-cache pages, which the LRU accounts for. */
#define GFP_MOVABLE_FLAG 0x08u

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC); /* memory only for the entries in use */
  __uint(max_entries, 65536);           /* set from the configuration before loading */
  __type(key, __u64);
  __type(value, struct blackhole_page);
} pages SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_STACK_TRACE);
  __uint(max_entries, 16384); /* set from the configuration before loading */
  __uint(key_size, sizeof(__u32));
  __uint(value_size, BLACKHOLE_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* Calibration: userspace sets calibration_tid to one of its threads and faults in an
 * anonymous page; the program keeps that (movable, order 0) page's struct page pointer,
 * which userspace pairs with the pfn from /proc/self/pagemap to convert pointers. */
volatile __u32 calibration_tid = 0;
volatile __u64 calibration_page = 0;

/* One non-movable allocation in sample_period is recorded (chosen at random), and
 * userspace counts each recorded one sample_period times. Set before loading. */
const volatile __u32 sample_period = 1;

/* Events that could not be recorded. */
__u64 pages_lost = 0;  /* the pages map was full */
__u64 stacks_lost = 0; /* the stack map was full or the stack collided */

SEC("tp_btf/mm_page_alloc")
int BPF_PROG(on_page_alloc, struct page *page, unsigned int order, gfp_t gfp_flags, int migratetype)
{
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!page) return 0;
  if (gfp_flags & GFP_MOVABLE_FLAG) {
    if (calibration_tid != 0 && (__u32)pid_tgid == calibration_tid && order == 0)
      calibration_page = (__u64)page;
    return 0;
  }
  if (sample_period > 1 && bpf_get_prandom_u32() % sample_period != 0) return 0;
  struct blackhole_page value = {};
  /* Skip one frame: this program's own. */
  value.stack_id = bpf_get_stackid(ctx, &stacks, 1);
  if (value.stack_id < 0) __sync_fetch_and_add(&stacks_lost, 1);
  value.tgid = pid_tgid >> 32;
  value.order = order;
  bpf_get_current_comm(value.comm, sizeof(value.comm));
  __u64 key = (__u64)page;
  if (bpf_map_update_elem(&pages, &key, &value, BPF_ANY) != 0) __sync_fetch_and_add(&pages_lost, 1);
  return 0;
}

static __always_inline void forget(struct page *page)
{
  __u64 key = (__u64)page;
  bpf_map_delete_elem(&pages, &key);
}

SEC("tp_btf/mm_page_free")
int BPF_PROG(on_page_free, struct page *page, unsigned int order)
{
  forget(page);
  return 0;
}

SEC("tp_btf/mm_page_free_batched")
int BPF_PROG(on_page_free_batched, struct page *page)
{
  forget(page);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
