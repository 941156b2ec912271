/* What the blackhole BPF program records per live kernel page allocation, shared by
 * bpf/blackhole.bpf.c and collectors/blackhole.cpp. Plain C: the BPF side includes it. */
#ifndef MEMLEDGER_BPF_BLACKHOLE_H
#define MEMLEDGER_BPF_BLACKHOLE_H

/* Frames kept per kernel stack: the tracing and allocator frames (5 to 8 on 6.x) and
 * enough callers to name the site. The unwinding cost grows with the depth. */
#define BLACKHOLE_STACK_DEPTH 12
#define BLACKHOLE_COMM_LEN 16

/* Value of the `pages` map, keyed by the struct page pointer of the first page. */
struct blackhole_page {
  int stack_id; /* in the `stacks` map; negative: the stack could not be stored */
  unsigned int tgid;
  unsigned int order;
  char comm[BLACKHOLE_COMM_LEN];
};

#endif
