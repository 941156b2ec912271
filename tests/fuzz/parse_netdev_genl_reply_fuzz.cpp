// Seeds: tests/fixtures/sockets/netlink/genl_family_netdev.bin
// Both generic netlink reply parsers of procfs/netdev_genl on the same bytes.
#include "procfs/netdev_genl.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  memledger::fuzz::parse_or_reject(data, size, [](std::string_view bytes) {
    memledger::parse_page_pool_reply(bytes);
  });
  return memledger::fuzz::parse_or_reject(data, size, [](std::string_view bytes) {
    memledger::parse_genl_family_reply(bytes);
  });
}
