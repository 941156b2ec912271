#pragma once
// Netlink message framing (include/uapi/linux/netlink.h, Documentation/userspace-api/
// netlink/intro.rst) shared by the sock_diag and netdev parsers: pure walking over bytes,
// and one request/dump function that is the only socket I/O.
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "procfs/errors.h"

namespace memledger::netlink {

// One netlink message: its type and payload (after the 16-byte header).
struct Message {
  std::uint16_t type = 0;
  std::string_view payload;
  std::size_t offset = 0;  // of the message in the buffer, for error messages
};

// Calls `visit` on each message of a buffer (NLMSG_ALIGN-ed, 4 bytes). Throws ParseError
// (line 0) on a length shorter than the header or running past the buffer.
void for_each_message(std::string_view buffer, const std::function<void(const Message&)>& visit);

// Calls `visit(type, value)` on each attribute (struct nlattr / rtattr, 4-byte aligned)
// of `attributes`; the nested and byte-order flags are masked off the type. Throws
// ParseError on a malformed attribute.
void for_each_attribute(std::string_view attributes,
                        const std::function<void(std::uint16_t type, std::string_view value)>& visit);

// The errno of an NLMSG_ERROR payload (struct nlmsgerr: a negative errno, 0 for an ack).
int error_of(const Message& message);

// A host-order integer at `offset` of `bytes`; throws ParseError
// when it does not fit.
template <class T>
T read_at(std::string_view bytes, std::size_t offset, const char* what) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) {
    throw ParseError(0, std::string(what) + ": truncated");
  }
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// The value of an unsigned attribute of 1, 2, 4 or 8 bytes (netlink's "uint" type may be
// 4 or 8 bytes); throws ParseError on another size.
std::uint64_t unsigned_value(std::string_view value, const char* what);

// Sends `request` (a whole netlink message, its sequence number set) on a new socket of
// `protocol` and hands each received buffer to `consume`, until it returns true (the
// reply is complete). Throws CollectError naming the call on a socket error.
void request(int protocol, const std::string& request, const std::function<bool(std::string_view)>& consume);

}  // namespace memledger::netlink
