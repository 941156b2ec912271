#include "procfs/netdev_genl.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "procfs/netlink.h"

namespace memledger {

namespace {

constexpr std::size_t kGenlHeader = GENL_HDRLEN;

std::string_view genl_attributes(const netlink::Message& message) {
  if (message.payload.size() < kGenlHeader) throw ParseError(0, "genlmsghdr: truncated");
  return message.payload.substr(kGenlHeader);
}

}  // namespace

PagePoolReply parse_page_pool_reply(std::string_view bytes) {
  PagePoolReply reply;
  netlink::for_each_message(bytes, [&](const netlink::Message& message) {
    if (reply.done || reply.error) return;
    if (message.type == NLMSG_DONE) {
      reply.done = true;
      return;
    }
    if (message.type == NLMSG_ERROR) {
      reply.error = netlink::error_of(message);
      if (reply.error == 0) reply.done = true;
      return;
    }
    if (message.type < NLMSG_MIN_TYPE) return;  // NLMSG_NOOP, NLMSG_OVERRUN
    PagePool pool;
    netlink::for_each_attribute(genl_attributes(message), [&](std::uint16_t type, std::string_view value) {
      switch (type) {
        case netdev_genl::kAttrId: pool.id = netlink::unsigned_value(value, "page pool id"); break;
        case netdev_genl::kAttrIfindex:
          pool.ifindex = static_cast<std::uint32_t>(netlink::unsigned_value(value, "page pool ifindex"));
          break;
        case netdev_genl::kAttrInflight: pool.inflight_pages = netlink::unsigned_value(value, "inflight"); break;
        case netdev_genl::kAttrInflightMem:
          pool.inflight_bytes = netlink::unsigned_value(value, "inflight-mem");
          break;
        case netdev_genl::kAttrDetachTime: pool.detach_time = netlink::unsigned_value(value, "detach-time"); break;
        default: break;
      }
    });
    reply.pools.push_back(pool);
  });
  return reply;
}

GenlFamilyReply parse_genl_family_reply(std::string_view bytes) {
  GenlFamilyReply reply;
  netlink::for_each_message(bytes, [&](const netlink::Message& message) {
    if (message.type == NLMSG_ERROR) {
      if (int error = netlink::error_of(message)) reply.error = error;
      return;
    }
    if (message.type != GENL_ID_CTRL) return;
    netlink::for_each_attribute(genl_attributes(message), [&](std::uint16_t type, std::string_view value) {
      if (type == CTRL_ATTR_FAMILY_ID) {
        reply.id = static_cast<std::uint16_t>(netlink::unsigned_value(value, "family id"));
      }
    });
  });
  return reply;
}

namespace {

// A generic netlink request: nlmsghdr, genlmsghdr, then attributes already encoded.
std::string genl_request(std::uint16_t family, std::uint8_t command, std::uint16_t flags,
                         std::string_view attributes) {
  nlmsghdr header{};
  header.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + GENL_HDRLEN + attributes.size());
  header.nlmsg_type = family;
  header.nlmsg_flags = flags;
  header.nlmsg_seq = 1;
  genlmsghdr genl{};
  genl.cmd = command;
  genl.version = 1;
  std::string bytes(NLMSG_ALIGN(header.nlmsg_len), '\0');
  std::memcpy(bytes.data(), &header, sizeof header);
  std::memcpy(bytes.data() + NLMSG_HDRLEN, &genl, sizeof genl);
  // An empty view's data() may be null, which memcpy must not be given even for 0 bytes.
  if (!attributes.empty()) {
    std::memcpy(bytes.data() + NLMSG_HDRLEN + GENL_HDRLEN, attributes.data(), attributes.size());
  }
  return bytes;
}

std::string string_attribute(std::uint16_t type, std::string_view text) {
  nlattr attribute{};
  attribute.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + text.size() + 1);
  attribute.nla_type = type;
  std::string bytes(NLA_ALIGN(attribute.nla_len), '\0');
  std::memcpy(bytes.data(), &attribute, sizeof attribute);
  std::memcpy(bytes.data() + NLA_HDRLEN, text.data(), text.size());
  return bytes;
}

}  // namespace

std::optional<std::vector<PagePool>> dump_page_pools() {
  GenlFamilyReply family;
  netlink::request(NETLINK_GENERIC,
                   genl_request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_REQUEST,
                                string_attribute(CTRL_ATTR_FAMILY_NAME, "netdev")),
                   [&](std::string_view buffer) {
                     try {
                       family = parse_genl_family_reply(buffer);
                     } catch (const ParseError& e) {
                       throw CollectError("generic netlink CTRL_CMD_GETFAMILY netdev", 0, e.what());
                     }
                     return true;
                   });
  if (!family.id) return std::nullopt;  // no netdev family (before 6.5, or CONFIG_NET off)

  std::vector<PagePool> pools;
  int error = 0;
  netlink::request(NETLINK_GENERIC,
                   genl_request(*family.id, netdev_genl::kCmdPagePoolGet, NLM_F_REQUEST | NLM_F_DUMP, {}),
                   [&](std::string_view buffer) {
                     PagePoolReply reply;
                     try {
                       reply = parse_page_pool_reply(buffer);
                     } catch (const ParseError& e) {
                       throw CollectError("netdev page-pool-get dump", 0, e.what());
                     }
                     pools.insert(pools.end(), reply.pools.begin(), reply.pools.end());
                     error = reply.error;
                     return reply.done || reply.error != 0;
                   });
  // A kernel with the family but without the command answers EOPNOTSUPP (genl_family_rcv_msg).
  if (error == -EOPNOTSUPP || error == -EINVAL) return std::nullopt;
  if (error != 0) throw CollectError("netdev page-pool-get dump", 0, std::strerror(-error));
  return pools;
}

}  // namespace memledger
