#pragma once
// /proc/sys/kernel/osrelease: which kernel wrote the other files (some counters changed
// meaning between versions).
#include <optional>
#include <string_view>

#include "procfs/snapshot.h"

namespace memledger {

struct KernelVersion {
  int major = 0;
  int minor = 0;
  bool at_least(int want_major, int want_minor) const {
    return major > want_major || (major == want_major && minor >= want_minor);
  }
};

// "6.18.44-fc-v669\n" -> {6, 18}; nullopt when it does not start with two numbers.
std::optional<KernelVersion> parse_kernel_release(std::string_view osrelease);

// The running kernel of the snapshot's tree; nullopt when the file is missing or odd.
const std::optional<KernelVersion>& read_kernel_release(Snapshot& snapshot);

}  // namespace memledger
