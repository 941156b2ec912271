#pragma once
// NETLINK_SOCK_DIAG (net/core/sock_diag.c, net/ipv4/inet_diag.c, net/unix/diag.c): every
// socket of the exporter's network namespace with the memory its queues hold. Netlink is
// not a file, so it cannot go through the Snapshot: the reply parsers here are pure (bytes
// in, structs out) and the socket I/O is one small function, used only when --path.procfs
// is the real /proc.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace memledger {

enum class DiagProtocol { tcp, udp, unix_socket };
std::string_view diag_protocol_name(DiagProtocol protocol);  // "tcp", "udp", "unix"

// The socket's sk_meminfo (sock_diag_put_meminfo, include/uapi/linux/sock_diag.h): bytes
// charged to its queues. Fields a kernel does not send stay 0.
struct SkMeminfo {
  std::uint32_t rmem_alloc = 0;   // receive queue skbs' truesize (sk_rmem_alloc)
  std::uint32_t rcvbuf = 0;       // limit
  std::uint32_t wmem_alloc = 0;   // skbs sent and not yet freed (sk_wmem_alloc - 1)
  std::uint32_t sndbuf = 0;       // limit
  std::uint32_t fwd_alloc = 0;    // quota reserved ahead from the protocol's pool, not held
  std::uint32_t wmem_queued = 0;  // TCP write + retransmit queues' truesize
  std::uint32_t optmem = 0;       // socket options, filters (sk_omem_alloc)
  std::uint32_t backlog = 0;      // skbs on the backlog while the socket is locked
  std::uint32_t drops = 0;        // a counter, not memory
};

// The memory a socket holds, in bytes: its receive queue and backlog, its send queue,
// and its option memory. TCP's send queue is wmem_queued (the skbs stay there until
// acked; sk_wmem_alloc then counts clones of them in flight, which share their data, so
// adding it would count the data twice). UDP and unix have no wmem_queued: their send
// side is sk_wmem_alloc (for unix, the skbs waiting in the peer's receive queue are
// charged to the sender, net/unix/af_unix.c skb_set_owner_w). fwd_alloc is accounting
// headroom, not memory held.
std::uint64_t held_bytes(const SkMeminfo& meminfo, DiagProtocol protocol);

struct DiagSocket {
  std::uint64_t inode = 0;  // of its socket:[inode] file; 0 for sockets without one
  std::optional<SkMeminfo> meminfo;  // INET_DIAG_SKMEMINFO / UNIX_DIAG_MEMINFO
  // UNIX_DIAG_RQLEN of a connected unix socket: bytes unread, bytes sent and not freed.
  std::optional<std::uint32_t> unix_rqueue, unix_wqueue;
};

// One recv(2)'s worth of a dump reply: the sockets in it, and whether the dump ended
// (NLMSG_DONE) or the kernel refused it (NLMSG_ERROR, a negative errno; e.g. -ENOENT when
// udp_diag is not loaded).
struct DiagReply {
  std::vector<DiagSocket> sockets;
  bool done = false;
  int error = 0;
};

// Parses a buffer of netlink messages answering a SOCK_DIAG_BY_FAMILY dump: inet_diag_msg
// payloads for tcp and udp, unix_diag_msg for unix. Throws ParseError (line 0, the byte
// offset in the message) on a truncated or malformed message.
DiagReply parse_sock_diag_reply(std::string_view bytes, DiagProtocol protocol);

// The system calls: dumps every socket of `protocol` (IPv4 and IPv6 for tcp and udp).
// Throws CollectError when netlink fails; nullopt when the kernel does not offer the dump
// (the diag module of that protocol is absent).
std::optional<std::vector<DiagSocket>> dump_sockets(DiagProtocol protocol);

}  // namespace memledger
