#pragma once
// /proc/net/sockstat and /proc/net/sockstat6 (net/ipv4/proc.c sockstat_seq_show,
// net/ipv6/proc.c sockstat6_seq_show): sockets in use and the memory charged to them, per
// protocol, in the network namespace of the reader.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "procfs/snapshot.h"

namespace memledger {

// One "PROTO: key value key value ..." line.
struct SockstatProtocol {
  std::string protocol;  // as the kernel spells it: TCP, UDP, UDPLITE, RAW, FRAG, TCP6, ...
  // "mem": pages of skb truesize charged to the protocol (sk_memory_allocated), the
  // quantity tcp_mem/udp_mem limit. Charged, not allocated: it includes the sk_buff
  // structures (slab) and the page frags of the data.
  std::optional<std::uint64_t> memory_pages;
  // "memory" (FRAG, FRAG6): bytes held by IP fragment reassembly queues (ip_frag_mem).
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> inuse;
};

// Every protocol line, in file order ("sockets: used N" included, with neither memory).
// Throws ParseError on a line without "NAME:" or with a key lacking a numeric value.
std::vector<SockstatProtocol> parse_sockstat(std::string_view text);

// /proc/net/sockstat and /proc/net/sockstat6, parsed once per snapshot; throws CollectError.
const std::vector<SockstatProtocol>& read_sockstat(Snapshot& snapshot);
const std::vector<SockstatProtocol>& read_sockstat6(Snapshot& snapshot);

}  // namespace memledger
