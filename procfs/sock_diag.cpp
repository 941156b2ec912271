#include "procfs/sock_diag.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "procfs/netlink.h"

namespace memledger {

std::string_view diag_protocol_name(DiagProtocol protocol) {
  switch (protocol) {
    case DiagProtocol::tcp: return "tcp";
    case DiagProtocol::udp: return "udp";
    case DiagProtocol::unix_socket: return "unix";
  }
  return "unknown";
}

std::uint64_t held_bytes(const SkMeminfo& m, DiagProtocol protocol) {
  std::uint64_t send = protocol == DiagProtocol::tcp ? m.wmem_queued : m.wmem_alloc;
  return std::uint64_t{m.rmem_alloc} + m.backlog + send + m.optmem;
}

namespace {

SkMeminfo parse_meminfo(std::string_view value) {
  // An array of u32 indexed by SK_MEMINFO_*; older kernels send fewer entries.
  std::uint32_t fields[SK_MEMINFO_VARS] = {};
  std::size_t count = std::min<std::size_t>(value.size() / sizeof(std::uint32_t), SK_MEMINFO_VARS);
  for (std::size_t i = 0; i < count; ++i) {
    fields[i] = netlink::read_at<std::uint32_t>(value, i * sizeof(std::uint32_t), "sk_meminfo");
  }
  SkMeminfo m;
  m.rmem_alloc = fields[SK_MEMINFO_RMEM_ALLOC];
  m.rcvbuf = fields[SK_MEMINFO_RCVBUF];
  m.wmem_alloc = fields[SK_MEMINFO_WMEM_ALLOC];
  m.sndbuf = fields[SK_MEMINFO_SNDBUF];
  m.fwd_alloc = fields[SK_MEMINFO_FWD_ALLOC];
  m.wmem_queued = fields[SK_MEMINFO_WMEM_QUEUED];
  m.optmem = fields[SK_MEMINFO_OPTMEM];
  m.backlog = fields[SK_MEMINFO_BACKLOG];
  m.drops = fields[SK_MEMINFO_DROPS];
  return m;
}

DiagSocket parse_inet(std::string_view payload) {
  if (payload.size() < sizeof(inet_diag_msg)) throw ParseError(0, "inet_diag_msg: truncated");
  DiagSocket socket;
  socket.inode = netlink::read_at<std::uint32_t>(payload, offsetof(inet_diag_msg, idiag_inode), "idiag_inode");
  netlink::for_each_attribute(payload.substr(NLMSG_ALIGN(sizeof(inet_diag_msg))),
                              [&](std::uint16_t type, std::string_view value) {
                                if (type == INET_DIAG_SKMEMINFO) socket.meminfo = parse_meminfo(value);
                              });
  return socket;
}

DiagSocket parse_unix(std::string_view payload) {
  if (payload.size() < sizeof(unix_diag_msg)) throw ParseError(0, "unix_diag_msg: truncated");
  DiagSocket socket;
  socket.inode = netlink::read_at<std::uint32_t>(payload, offsetof(unix_diag_msg, udiag_ino), "udiag_ino");
  netlink::for_each_attribute(payload.substr(NLMSG_ALIGN(sizeof(unix_diag_msg))),
                              [&](std::uint16_t type, std::string_view value) {
                                if (type == UNIX_DIAG_MEMINFO) {
                                  socket.meminfo = parse_meminfo(value);
                                } else if (type == UNIX_DIAG_RQLEN) {
                                  socket.unix_rqueue = netlink::read_at<std::uint32_t>(value, 0, "udiag_rqueue");
                                  socket.unix_wqueue = netlink::read_at<std::uint32_t>(value, 4, "udiag_wqueue");
                                }
                              });
  return socket;
}

}  // namespace

DiagReply parse_sock_diag_reply(std::string_view bytes, DiagProtocol protocol) {
  DiagReply reply;
  netlink::for_each_message(bytes, [&](const netlink::Message& message) {
    if (reply.done || reply.error) return;  // nothing of this dump follows its end
    if (message.type == NLMSG_DONE) {
      reply.done = true;
    } else if (message.type == NLMSG_ERROR) {
      reply.error = netlink::error_of(message);
      if (reply.error == 0) reply.done = true;
    } else if (message.type == SOCK_DIAG_BY_FAMILY) {
      reply.sockets.push_back(protocol == DiagProtocol::unix_socket ? parse_unix(message.payload)
                                                                    : parse_inet(message.payload));
    }
  });
  return reply;
}

namespace {

template <class Request>
std::string dump_request(const Request& body) {
  nlmsghdr header{};
  header.nlmsg_len = NLMSG_LENGTH(sizeof(Request));
  header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  header.nlmsg_seq = 1;
  std::string bytes(NLMSG_SPACE(sizeof(Request)), '\0');
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + NLMSG_HDRLEN, &body, sizeof body);
  return bytes;
}

// Collects one dump; false when the kernel refuses it with ENOENT (no diag handler for the
// family/protocol: CONFIG_INET_UDP_DIAG or unix_diag absent).
bool collect_dump(const std::string& request, DiagProtocol protocol, std::vector<DiagSocket>& out) {
  int error = 0;
  netlink::request(NETLINK_SOCK_DIAG, request, [&](std::string_view buffer) {
    DiagReply reply;
    try {
      reply = parse_sock_diag_reply(buffer, protocol);
    } catch (const ParseError& e) {
      throw CollectError("NETLINK_SOCK_DIAG " + std::string(diag_protocol_name(protocol)) + " dump", 0, e.what());
    }
    out.insert(out.end(), reply.sockets.begin(), reply.sockets.end());
    error = reply.error;
    return reply.done || reply.error != 0;
  });
  if (error == -ENOENT) return false;
  if (error != 0) {
    throw CollectError("NETLINK_SOCK_DIAG " + std::string(diag_protocol_name(protocol)) + " dump", 0,
                       std::strerror(-error));
  }
  return true;
}

}  // namespace

std::optional<std::vector<DiagSocket>> dump_sockets(DiagProtocol protocol) {
  std::vector<DiagSocket> sockets;
  if (protocol == DiagProtocol::unix_socket) {
    unix_diag_req request{};
    request.sdiag_family = AF_UNIX;
    request.udiag_states = ~0u;
    request.udiag_show = UDIAG_SHOW_MEMINFO | UDIAG_SHOW_RQLEN;
    if (!collect_dump(dump_request(request), protocol, sockets)) return std::nullopt;
    return sockets;
  }
  bool any = false;
  for (std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    inet_diag_req_v2 request{};
    request.sdiag_family = family;
    request.sdiag_protocol = protocol == DiagProtocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
    request.idiag_ext = 1u << (INET_DIAG_SKMEMINFO - 1);
    request.idiag_states = ~0u;
    any = collect_dump(dump_request(request), protocol, sockets) || any;
  }
  if (!any) return std::nullopt;
  return sockets;
}

}  // namespace memledger
