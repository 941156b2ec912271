#include "procfs/kernel_release.h"

#include "procfs/text.h"

namespace memledger {

std::optional<KernelVersion> parse_kernel_release(std::string_view osrelease) {
  osrelease = text::trim(osrelease);
  auto dot = osrelease.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto major = text::to_u64(osrelease.substr(0, dot));
  std::string_view rest = osrelease.substr(dot + 1);
  std::size_t end = 0;
  while (end < rest.size() && rest[end] >= '0' && rest[end] <= '9') ++end;
  auto minor = text::to_u64(rest.substr(0, end));
  if (!major || !minor) return std::nullopt;
  return KernelVersion{static_cast<int>(*major), static_cast<int>(*minor)};
}


const std::optional<KernelVersion>& read_kernel_release(Snapshot& snapshot) {
  return snapshot.derived<std::optional<KernelVersion>>("kernel_release", [&] {
    const Reading& release = snapshot.read(Root::proc, "sys/kernel/osrelease");
    return release.ok() ? parse_kernel_release(release.text) : std::nullopt;
  });
}

}  // namespace memledger
