#include "procfs/netlink.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace memledger::netlink {

namespace {

constexpr std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

}  // namespace

void for_each_message(std::string_view buffer, const std::function<void(const Message&)>& visit) {
  std::size_t offset = 0;
  while (offset < buffer.size()) {
    auto length = read_at<std::uint32_t>(buffer, offset, "netlink message header");
    if (length < sizeof(nlmsghdr) || length > buffer.size() - offset) {
      throw ParseError(0, "netlink message at byte " + std::to_string(offset) + " has length " +
                              std::to_string(length) + " of " + std::to_string(buffer.size() - offset) +
                              " bytes left");
    }
    Message message;
    message.type = read_at<std::uint16_t>(buffer, offset + offsetof(nlmsghdr, nlmsg_type), "nlmsg_type");
    message.payload = buffer.substr(offset + sizeof(nlmsghdr), length - sizeof(nlmsghdr));
    message.offset = offset;
    visit(message);
    offset += std::min<std::size_t>(align4(length), buffer.size() - offset);
  }
}

void for_each_attribute(std::string_view attributes,
                        const std::function<void(std::uint16_t, std::string_view)>& visit) {
  std::size_t offset = 0;
  while (offset + sizeof(nlattr) <= attributes.size()) {
    auto length = read_at<std::uint16_t>(attributes, offset, "attribute length");
    auto type = read_at<std::uint16_t>(attributes, offset + 2, "attribute type");
    if (length < sizeof(nlattr) || length > attributes.size() - offset) {
      throw ParseError(0, "attribute at byte " + std::to_string(offset) + " has length " +
                              std::to_string(length));
    }
    visit(static_cast<std::uint16_t>(type & NLA_TYPE_MASK),
          attributes.substr(offset + sizeof(nlattr), length - sizeof(nlattr)));
    offset += std::min<std::size_t>(align4(length), attributes.size() - offset);
  }
}

int error_of(const Message& message) { return read_at<std::int32_t>(message.payload, 0, "nlmsgerr"); }

std::uint64_t unsigned_value(std::string_view value, const char* what) {
  switch (value.size()) {
    case 1: return read_at<std::uint8_t>(value, 0, what);
    case 2: return read_at<std::uint16_t>(value, 0, what);
    case 4: return read_at<std::uint32_t>(value, 0, what);
    case 8: return read_at<std::uint64_t>(value, 0, what);
    default: throw ParseError(0, std::string(what) + ": unexpected size " + std::to_string(value.size()));
  }
}

void request(int protocol, const std::string& request, const std::function<bool(std::string_view)>& consume) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw CollectError("netlink socket", 0, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    throw CollectError("netlink sendto", 0, std::strerror(errno));
  }
  // A dump answers in buffers of up to 32 KiB (netlink_dump's max_recvmsg_len); a larger
  // buffer never truncates one.
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw CollectError("netlink recv", 0, std::strerror(errno));
    }
    if (n == 0) throw CollectError("netlink recv", 0, "the kernel closed the socket mid-reply");
    if (consume(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) return;
  }
}

}  // namespace memledger::netlink
