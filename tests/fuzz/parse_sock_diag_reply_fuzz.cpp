// Seeds: tests/fixtures/sockets/netlink/*_dump.bin
// The same bytes as an inet (tcp) and as a unix dump reply.
#include "procfs/sock_diag.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (auto protocol : {memledger::DiagProtocol::tcp, memledger::DiagProtocol::unix_socket}) {
    memledger::fuzz::parse_or_reject(data, size, [&](std::string_view bytes) {
      auto reply = memledger::parse_sock_diag_reply(bytes, protocol);
      for (const auto& socket : reply.sockets) {
        if (socket.meminfo) memledger::held_bytes(*socket.meminfo, protocol);
      }
    });
  }
  return 0;
}
