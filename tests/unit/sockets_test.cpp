#include <catch2/catch.hpp>

#include <linux/genetlink.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "collectors/shmem.h"
#include "collectors/sockets.h"
#include "procfs/netdev_genl.h"
#include "procfs/pid_fds.h"
#include "procfs/sock_diag.h"
#include "procfs/sockstat.h"
#include "sample_lookup.h"

using namespace memledger;
using memledger::testing::find_sample;
using memledger::testing::gauge_value;
using memledger::testing::sample_count;

namespace {

const std::string kFixtures = std::string(MEMLEDGER_FIXTURES) + "/sockets";
const std::string kHost = kFixtures + "/linux-6.18-firecracker";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

template <class T>
std::string bytes_of(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

std::string pad4(std::string bytes) {
  bytes.resize((bytes.size() + 3) & ~std::size_t{3}, '\0');
  return bytes;
}

std::string attribute(std::uint16_t type, const std::string& value) {
  nlattr header{};
  header.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + value.size());
  header.nla_type = type;
  return pad4(bytes_of(header) + value);
}

std::string message(std::uint16_t type, const std::string& payload) {
  nlmsghdr header{};
  header.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + payload.size());
  header.nlmsg_type = type;
  return pad4(bytes_of(header) + payload);
}

std::string done() { return message(NLMSG_DONE, bytes_of(std::int32_t{0})); }

std::string meminfo(std::uint32_t rmem_alloc, std::uint32_t wmem_alloc, std::uint32_t wmem_queued,
                    std::uint32_t backlog = 0, std::uint32_t optmem = 0) {
  std::uint32_t fields[SK_MEMINFO_VARS] = {};
  fields[SK_MEMINFO_RMEM_ALLOC] = rmem_alloc;
  fields[SK_MEMINFO_WMEM_ALLOC] = wmem_alloc;
  fields[SK_MEMINFO_WMEM_QUEUED] = wmem_queued;
  fields[SK_MEMINFO_BACKLOG] = backlog;
  fields[SK_MEMINFO_OPTMEM] = optmem;
  fields[SK_MEMINFO_FWD_ALLOC] = 1 << 20;  // headroom, never counted
  return std::string(reinterpret_cast<const char*>(fields), sizeof fields);
}

std::string inet_socket(std::uint32_t inode, const std::string& attributes) {
  inet_diag_msg msg{};
  msg.idiag_family = AF_INET;
  msg.idiag_inode = inode;
  return message(SOCK_DIAG_BY_FAMILY, bytes_of(msg) + attributes);
}

std::string unix_socket(std::uint32_t inode, const std::string& attributes) {
  unix_diag_msg msg{};
  msg.udiag_family = AF_UNIX;
  msg.udiag_ino = inode;
  return message(SOCK_DIAG_BY_FAMILY, bytes_of(msg) + attributes);
}

std::string page_pool(std::uint64_t id, std::optional<std::uint32_t> ifindex, std::uint64_t inflight_bytes) {
  genlmsghdr genl{};
  genl.cmd = netdev_genl::kCmdPagePoolGet;
  std::string attributes = attribute(netdev_genl::kAttrId, bytes_of(id));
  if (ifindex) attributes += attribute(netdev_genl::kAttrIfindex, bytes_of(*ifindex));
  attributes += attribute(netdev_genl::kAttrInflight, bytes_of(std::uint32_t(inflight_bytes / 4096)));
  attributes += attribute(netdev_genl::kAttrInflightMem, bytes_of(inflight_bytes));
  return message(0x1a, bytes_of(genl) + attributes);
}

}  // namespace

TEST_CASE("parse_sockstat reads mem pages, FRAG memory bytes and inuse per protocol") {
  auto protocols = parse_sockstat(slurp(kHost + "/proc/net/sockstat"));
  REQUIRE(protocols.size() == 6);
  CHECK(protocols[0].protocol == "sockets");
  CHECK_FALSE(protocols[0].memory_pages);
  CHECK(protocols[1].protocol == "TCP");
  CHECK(protocols[1].memory_pages == 8687u);
  CHECK(protocols[1].inuse == 6u);
  CHECK(protocols[3].protocol == "UDPLITE");
  CHECK_FALSE(protocols[3].memory_pages);
  CHECK(protocols[5].protocol == "FRAG");
  CHECK(protocols[5].memory_bytes == 0u);
  CHECK_FALSE(protocols[5].memory_pages);

  auto v6 = parse_sockstat("TCP6: inuse 3\nFRAG6: inuse 1 memory 4096\n");
  REQUIRE(v6.size() == 2);
  CHECK_FALSE(v6[0].memory_pages);
  CHECK(v6[1].memory_bytes == 4096u);
  CHECK_THROWS_AS(parse_sockstat("TCP inuse 3\n"), ParseError);
  CHECK_THROWS_AS(parse_sockstat("TCP: inuse\n"), ParseError);
  CHECK_THROWS_AS(parse_sockstat("TCP: mem x\n"), ParseError);
}

TEST_CASE("socket links and deleted links are told from a descriptor's target") {
  CHECK(socket_link_inode("socket:[123456]") == 123456u);
  CHECK_FALSE(socket_link_inode("socket:[]"));
  CHECK_FALSE(socket_link_inode("socket:[12"));
  CHECK_FALSE(socket_link_inode("/tmp/socket:[1]"));
  CHECK_FALSE(socket_link_inode("pipe:[99]"));
  CHECK(is_deleted_link("/dev/shm/x (deleted)"));
  CHECK_FALSE(is_deleted_link("/dev/shm/x"));
}

TEST_CASE("held_bytes counts queues and option memory, TCP's send side as wmem_queued") {
  SkMeminfo m;
  m.rmem_alloc = 1000;
  m.wmem_alloc = 300;
  m.wmem_queued = 5000;
  m.backlog = 20;
  m.optmem = 4;
  m.fwd_alloc = 1 << 20;
  CHECK(held_bytes(m, DiagProtocol::tcp) == 1000 + 5000 + 20 + 4);
  CHECK(held_bytes(m, DiagProtocol::udp) == 1000 + 300 + 20 + 4);
  CHECK(held_bytes(m, DiagProtocol::unix_socket) == 1000 + 300 + 20 + 4);
}

TEST_CASE("captured sock_diag dumps parse: inodes and sk_meminfo of every socket, then done") {
  auto tcp = parse_sock_diag_reply(slurp(kFixtures + "/netlink/tcp_dump.bin"), DiagProtocol::tcp);
  CHECK(tcp.done);
  CHECK(tcp.error == 0);
  REQUIRE(tcp.sockets.size() == 3);
  for (const auto& socket : {tcp.sockets[0], tcp.sockets[1]}) {  // two with a file
    CHECK(socket.inode > 0);
    REQUIRE(socket.meminfo);
    CHECK(socket.meminfo->rcvbuf > 0);
    CHECK(socket.meminfo->sndbuf > 0);
  }
  // A TIME_WAIT socket: no file, no memory info (inet_diag's inet_twsk_diag_fill).
  CHECK(tcp.sockets[2].inode == 0);
  CHECK_FALSE(tcp.sockets[2].meminfo);
  auto unix_sockets = parse_sock_diag_reply(slurp(kFixtures + "/netlink/unix_dump.bin"), DiagProtocol::unix_socket);
  CHECK(unix_sockets.done);
  REQUIRE(unix_sockets.sockets.size() == 3);
  for (const auto& socket : unix_sockets.sockets) {
    CHECK(socket.inode > 0);
    CHECK(socket.meminfo);
    CHECK(socket.unix_rqueue);
  }
}

TEST_CASE("constructed sock_diag replies: attributes, errors and truncation") {
  unix_diag_rqlen rqlen{7, 4096};
  auto reply = parse_sock_diag_reply(
      unix_socket(42, attribute(UNIX_DIAG_RQLEN, bytes_of(rqlen)) + attribute(UNIX_DIAG_MEMINFO, meminfo(0, 8192, 0))) +
          done(),
      DiagProtocol::unix_socket);
  REQUIRE(reply.sockets.size() == 1);
  CHECK(reply.sockets[0].inode == 42);
  CHECK(reply.sockets[0].unix_wqueue == 4096u);
  CHECK(held_bytes(*reply.sockets[0].meminfo, DiagProtocol::unix_socket) == 8192);
  CHECK(reply.done);

  // A kernel sending fewer sk_meminfo fields (older): the rest stay 0.
  auto short_meminfo = parse_sock_diag_reply(
      inet_socket(9, attribute(INET_DIAG_SKMEMINFO, meminfo(100, 0, 0).substr(0, 8))), DiagProtocol::tcp);
  REQUIRE(short_meminfo.sockets.size() == 1);
  CHECK(short_meminfo.sockets[0].meminfo->rmem_alloc == 100);
  CHECK_FALSE(short_meminfo.done);

  auto refused = parse_sock_diag_reply(message(NLMSG_ERROR, bytes_of(std::int32_t{-ENOENT})), DiagProtocol::udp);
  CHECK(refused.error == -ENOENT);

  std::string whole = inet_socket(1, attribute(INET_DIAG_SKMEMINFO, meminfo(1, 2, 3)));
  CHECK_THROWS_AS(parse_sock_diag_reply(whole.substr(0, whole.size() - 8), DiagProtocol::tcp), ParseError);
  CHECK_THROWS_AS(parse_sock_diag_reply(message(SOCK_DIAG_BY_FAMILY, "abc"), DiagProtocol::tcp), ParseError);
  CHECK_THROWS_AS(parse_sock_diag_reply(whole.substr(0, 10), DiagProtocol::tcp), ParseError);
}

TEST_CASE("page-pool-get replies parse, detached pools without an ifindex") {
  auto reply = parse_page_pool_reply(page_pool(1, 2u, 3 << 20) + page_pool(2, std::nullopt, 1 << 20) + done());
  CHECK(reply.done);
  REQUIRE(reply.pools.size() == 2);
  CHECK(reply.pools[0].id == 1);
  CHECK(reply.pools[0].ifindex == 2u);
  CHECK(reply.pools[0].inflight_bytes == 3u << 20);
  CHECK(reply.pools[0].inflight_pages == (3u << 20) / 4096);
  CHECK_FALSE(reply.pools[1].ifindex);
  CHECK(parse_page_pool_reply(message(NLMSG_ERROR, bytes_of(std::int32_t{-EOPNOTSUPP}))).error == -EOPNOTSUPP);
  CHECK_THROWS_AS(parse_page_pool_reply(message(0x1a, "ab")), ParseError);
  // An attribute of a size netlink's uint never has.
  genlmsghdr genl{};
  CHECK_THROWS_AS(parse_page_pool_reply(message(0x1a, bytes_of(genl) + attribute(netdev_genl::kAttrInflightMem, "abc"))),
                  ParseError);

  auto family = parse_genl_family_reply(slurp(kFixtures + "/netlink/genl_family_netdev.bin"));
  CHECK(family.id);
  CHECK(family.error == 0);
  CHECK(parse_genl_family_reply(message(NLMSG_ERROR, bytes_of(std::int32_t{-ENOENT}))).error == -ENOENT);
}

namespace {

class FakeNetlink final : public SocketNetlink {
 public:
  std::map<DiagProtocol, std::vector<DiagSocket>> sockets_of;
  std::optional<std::vector<PagePool>> pools;
  bool describes(const Snapshot&) const override { return true; }
  std::optional<std::vector<DiagSocket>> sockets(DiagProtocol protocol) override {
    auto it = sockets_of.find(protocol);
    if (it == sockets_of.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::vector<PagePool>> page_pools() override { return pools; }
};

class FakeLister final : public DescriptorLister {
 public:
  std::map<std::string, ProcessDescriptors> of_directory;
  int listings = 0;
  bool list(const std::string& fd_directory, ProcessDescriptors& out) override {
    ++listings;
    auto it = of_directory.find(fd_directory);
    if (it == of_directory.end()) return false;
    out = it->second;
    return true;
  }
};

DiagSocket diag(std::uint64_t inode, std::uint32_t rmem_alloc, std::uint32_t wmem_queued) {
  DiagSocket socket;
  socket.inode = inode;
  socket.meminfo = SkMeminfo{};
  socket.meminfo->rmem_alloc = rmem_alloc;
  socket.meminfo->wmem_queued = wmem_queued;
  socket.meminfo->wmem_alloc = wmem_queued;
  return socket;
}

}  // namespace

TEST_CASE("the sockets collector emits sockstat in bytes, and no netlink series on a fixture tree") {
  auto collector = testing::make_collector(kSocketsCollector);
  Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys", 4096});
  MetricSink sink;
  collector->collect(snapshot, sink);
  CHECK(gauge_value(sink, "memledger_sockstat_memory_bytes", {{"protocol", "TCP"}}) == 8687.0 * 4096);
  CHECK(gauge_value(sink, "memledger_sockstat_memory_bytes", {{"protocol", "FRAG6"}}) == 0);
  CHECK_FALSE(find_sample(sink, "memledger_sockstat_memory_bytes", {{"protocol", "TCP6"}}));
  CHECK(sample_count(sink, "memledger_socket_memory_bytes") == 0);
  CHECK(sample_count(sink, "memledger_page_pool_inflight_bytes") == 0);
}

TEST_CASE("socket memory is joined to processes by inode, grouped, ranked, the rest is unjoined") {
  auto netlink = std::make_unique<FakeNetlink>();
  netlink->sockets_of[DiagProtocol::tcp] = {diag(11, 1000, 2000), diag(12, 500, 0), diag(21, 700, 0),
                                            diag(99, 50, 0), diag(0, 60, 0), diag(13, 0, 0)};
  netlink->sockets_of[DiagProtocol::unix_socket] = {diag(31, 0, 400)};
  netlink->pools = std::vector<PagePool>{{1, 2u, 10, 40960, std::nullopt}, {2, 2u, 1, 4096, std::nullopt},
                                         {3, std::nullopt, 3, 12288, 1700000000u}};
  auto lister = std::make_unique<FakeLister>();
  lister->of_directory[kHost + "/proc/100/fd"].socket_inodes = {11, 12, 13};
  lister->of_directory[kHost + "/proc/200/fd"].socket_inodes = {21, 11};  // 11 inherited from 100
  lister->of_directory[kHost + "/proc/300/fd"].socket_inodes = {31};
  SocketsConfig config;
  config.top_groups = 1;
  auto collector = make_sockets_collector_with(config, std::move(netlink),
                                               std::make_shared<DescriptorScanCache>(std::move(lister)));
  Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys", 4096});
  MetricSink sink;
  collector->collect(snapshot, sink);

  // nginx (pids 100 and 200): 3000 + 500 + 700, socket 11 once; postgres ranks below.
  CHECK(gauge_value(sink, "memledger_socket_memory_bytes", {{"group", "nginx"}, {"protocol", "tcp"}}) == 4200);
  CHECK(gauge_value(sink, "memledger_socket_memory_bytes", {{"group", "other"}, {"protocol", "unix"}}) == 400);
  CHECK_FALSE(find_sample(sink, "memledger_socket_memory_bytes", {{"group", "postgres"}, {"protocol", "unix"}}));
  CHECK_FALSE(find_sample(sink, "memledger_socket_memory_bytes", {{"group", "other"}, {"protocol", "tcp"}}));
  CHECK(gauge_value(sink, "memledger_socket_unjoined_bytes", {{"protocol", "tcp"}}) == 110);
  CHECK(gauge_value(sink, "memledger_socket_unjoined_sockets", {{"protocol", "tcp"}}) == 2);
  CHECK(gauge_value(sink, "memledger_socket_unjoined_bytes", {{"protocol", "unix"}}) == 0);
  // No udp diag module: no udp series at all.
  CHECK_FALSE(find_sample(sink, "memledger_socket_unjoined_bytes", {{"protocol", "udp"}}));
  CHECK(gauge_value(sink, "memledger_socket_unscanned_processes", {}) == 0);

  CHECK(gauge_value(sink, "memledger_page_pool_inflight_bytes", {{"interface", "eth0"}}) == 45056);
  CHECK(gauge_value(sink, "memledger_page_pool_inflight_bytes", {{"interface", "detached"}}) == 12288);
  CHECK(sample_count(sink, "memledger_page_pool_inflight_bytes") == 2);
}

TEST_CASE("shmem and sockets share one descriptor scan per refresh period") {
  auto lister = std::make_unique<FakeLister>();
  FakeLister* fake = lister.get();
  for (const char* pid : {"100", "200", "300"}) lister->of_directory[kHost + "/proc/" + pid + "/fd"] = {};
  auto cache = std::make_shared<DescriptorScanCache>(std::move(lister));
  class NoFilesystems final : public ShmemProbe {
    std::optional<FilesystemUsage> usage(const std::string&, std::uint32_t, std::uint32_t) override {
      return std::nullopt;
    }
  };
  auto sockets = make_sockets_collector_with(SocketsConfig{}, std::make_unique<FakeNetlink>(), cache);
  auto shmem = make_shmem_collector_with_probe(ShmemConfig{}, std::make_unique<NoFilesystems>(), cache);
  for (int scrape = 0; scrape < 3; ++scrape) {
    Snapshot snapshot(SourceRoots{kHost + "/proc", kHost + "/sys", 4096});
    MetricSink sink;
    sockets->collect(snapshot, sink);
    // shmem reads meminfo, which this tree lacks: only the scan matters here.
    CHECK_THROWS(shmem->collect(snapshot, sink));
  }
  CHECK(fake->listings == 3);  // three pids, scanned once
}
