#include "procfs/sockstat.h"

#include "procfs/text.h"

namespace memledger {

std::vector<SockstatProtocol> parse_sockstat(std::string_view text) {
  std::vector<SockstatProtocol> protocols;
  text::LineReader lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (text::trim(line).empty()) continue;
    std::string_view rest = line;
    std::string_view name = text::next_field(rest);
    if (name.size() < 2 || name.back() != ':') throw ParseError(lines.number(), "expected \"NAME:\"");
    SockstatProtocol protocol;
    protocol.protocol = std::string(name.substr(0, name.size() - 1));
    for (;;) {
      std::string_view key = text::next_field(rest);
      if (key.empty()) break;
      std::string_view value = text::next_field(rest);
      if (value.empty()) throw ParseError(lines.number(), "key " + std::string(key) + " has no value");
      std::uint64_t number = text::require_u64(value, lines.number(), key);
      if (key == "mem") protocol.memory_pages = number;
      else if (key == "memory") protocol.memory_bytes = number;
      else if (key == "inuse") protocol.inuse = number;
    }
    protocols.push_back(std::move(protocol));
  }
  return protocols;
}

const std::vector<SockstatProtocol>& read_sockstat(Snapshot& snapshot) {
  return snapshot.parsed<std::vector<SockstatProtocol>>(Root::proc, "net/sockstat", parse_sockstat);
}

const std::vector<SockstatProtocol>& read_sockstat6(Snapshot& snapshot) {
  return snapshot.parsed<std::vector<SockstatProtocol>>(Root::proc, "net/sockstat6", parse_sockstat);
}

}  // namespace memledger
