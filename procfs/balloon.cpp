#include "procfs/balloon.h"

#include <algorithm>
#include <array>

#include "procfs/meminfo.h"
#include "procfs/sysfs_value.h"
#include "procfs/vmstat.h"

#include "procfs/text.h"

namespace memledger {

namespace {

// "name:   value [unit]" lines of the debugfs files; the name is trimmed.
struct DebugfsLine {
  std::string_view name;
  std::string_view value;
  std::string_view unit;
};

bool split_debugfs_line(std::string_view line, DebugfsLine& out) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  out.name = text::trim(line.substr(0, colon));
  std::string_view rest = line.substr(colon + 1);
  out.value = text::next_field(rest);
  out.unit = text::next_field(rest);
  return true;
}

}  // namespace

VmwBalloonStatus parse_vmw_balloon_debugfs(std::string_view text) {
  text::require_content(text);
  VmwBalloonStatus status;
  bool have_target = false;
  bool have_current = false;
  text::LineReader lines(text);
  std::string_view line;
  DebugfsLine field;
  while (lines.next(line)) {
    // The statistics further down reuse "target:" for a command count ("N (M failed)"):
    // the sizes are the lines whose unit is "pages".
    if (!split_debugfs_line(line, field) || field.unit != "pages") continue;
    if (field.name == "target" && !have_target) {
      status.target_pages = text::require_u64(field.value, lines.number(), "target");
      have_target = true;
    } else if (field.name == "current" && !have_current) {
      status.current_pages = text::require_u64(field.value, lines.number(), "current");
      have_current = true;
    }
  }
  if (!have_current) throw ParseError(0, "no \"current: N pages\" line");
  return status;
}

HvBalloonStatus parse_hv_balloon_debugfs(std::string_view text) {
  text::require_content(text);
  HvBalloonStatus status;
  bool have_ballooned = false;
  text::LineReader lines(text);
  std::string_view line;
  DebugfsLine field;
  while (lines.next(line)) {
    if (!split_debugfs_line(line, field)) continue;
    if (field.name == "page_size") {
      status.page_size = text::require_u64(field.value, lines.number(), "page_size");
    } else if (field.name == "pages_ballooned") {
      status.pages_ballooned = text::require_u64(field.value, lines.number(), "pages_ballooned");
      have_ballooned = true;
    }
  }
  if (!have_ballooned) throw ParseError(0, "no \"pages_ballooned:\" line");
  return status;
}

bool virtio_balloon_deflates_on_oom(std::string_view features) {
  return features.size() > 2 && features[2] == '1';
}

BalloonPlacement BalloonReadings::placement() const {
  return drivers.empty() ? BalloonPlacement::inside_memtotal : drivers.front().placement;
}

std::optional<std::uint64_t> BalloonReadings::bytes_inside_memtotal() const {
  std::optional<std::uint64_t> total;
  for (const auto& driver : drivers) {
    if (driver.placement != BalloonPlacement::inside_memtotal || !driver.bytes) continue;
    total = total.value_or(0) + *driver.bytes;
  }
  return total;
}

namespace {

constexpr std::uint64_t kVmwPageSize = 4096;  // vmw_balloon counts 4 KiB pages on every guest

// A sysfs file holding one number; nullopt when the kernel lacks it or denies it.
std::optional<std::uint64_t> optional_sysfs_u64(Snapshot& snapshot, const std::string& relative) {
  if (!snapshot.readable(Root::sys, relative)) return std::nullopt;
  return read_sysfs_u64(snapshot, Root::sys, relative);
}

bool directory_exists(Snapshot& snapshot, std::string_view relative) {
  return !snapshot.list(Root::sys, relative).empty();
}

void read_virtio(Snapshot& snapshot, std::vector<BalloonDriver>& drivers) {
  constexpr std::string_view kDevices = "bus/virtio/devices/";
  for (const auto& device : snapshot.list(Root::sys, kDevices)) {
    const Reading& id = snapshot.read(Root::sys, std::string(kDevices) + device + "/device");
    if (!id.ok() || text::trim(id.text) != "0x0005") continue;  // 5: the balloon device
    const Reading& features = snapshot.read(Root::sys, std::string(kDevices) + device + "/features");
    BalloonDriver driver;
    driver.name = "virtio_balloon";
    driver.placement = features.ok() && virtio_balloon_deflates_on_oom(features.text)
                           ? BalloonPlacement::inside_memtotal
                           : BalloonPlacement::outside_memtotal;
    drivers.push_back(std::move(driver));
    return;
  }
}

void read_vmw(Snapshot& snapshot, std::vector<BalloonDriver>& drivers) {
  constexpr std::string_view kDebugfs = "kernel/debug/vmmemctl";
  BalloonDriver driver;
  driver.name = "vmw_balloon";
  driver.placement = BalloonPlacement::inside_memtotal;
  if (snapshot.readable(Root::sys, kDebugfs)) {
    auto status = parse_file(snapshot, Root::sys, kDebugfs, parse_vmw_balloon_debugfs);
    driver.bytes = status.current_pages * kVmwPageSize;
    driver.source = "/sys/kernel/debug/vmmemctl";
    driver.target_bytes = status.target_pages * kVmwPageSize;
  } else if (!directory_exists(snapshot, "module/vmw_balloon")) {
    return;
  }
  drivers.push_back(std::move(driver));
}

void read_hv(Snapshot& snapshot, std::vector<BalloonDriver>& drivers) {
  constexpr std::string_view kDebugfs = "kernel/debug/hv-balloon";
  BalloonDriver driver;
  driver.name = "hv_balloon";
  driver.placement = BalloonPlacement::outside_memtotal;
  if (snapshot.readable(Root::sys, kDebugfs)) {
    auto status = parse_file(snapshot, Root::sys, kDebugfs, parse_hv_balloon_debugfs);
    driver.bytes = status.pages_ballooned * status.page_size;
    driver.source = "/sys/kernel/debug/hv-balloon";
  } else if (!directory_exists(snapshot, "module/hv_balloon")) {
    return;
  }
  drivers.push_back(std::move(driver));
}

void read_xen(Snapshot& snapshot, std::vector<BalloonDriver>& drivers) {
  constexpr std::string_view kBase = "devices/system/xen_memory/xen_memory0";
  if (!directory_exists(snapshot, kBase)) return;
  BalloonDriver driver;
  driver.name = "xen";
  driver.placement = BalloonPlacement::outside_memtotal;
  // Ballooned-out pages are kept on two lists, low and high memory.
  auto low = optional_sysfs_u64(snapshot, std::string(kBase) + "/info/low_kb");
  auto high = optional_sysfs_u64(snapshot, std::string(kBase) + "/info/high_kb");
  if (low || high) {
    driver.bytes = (low.value_or(0) + high.value_or(0)) * 1024;
    driver.source = "/sys/devices/system/xen_memory/xen_memory0/info/{low,high}_kb";
  }
  if (auto target = optional_sysfs_u64(snapshot, std::string(kBase) + "/target_kb")) {
    driver.target_bytes = *target * 1024;
  }
  drivers.push_back(std::move(driver));
}

void read_cmm(Snapshot& snapshot, std::vector<BalloonDriver>& drivers) {
  constexpr std::string_view kBase = "devices/system/cmm/cmm0";
  if (!directory_exists(snapshot, kBase)) return;
  BalloonDriver driver;
  driver.name = "pseries_cmm";
  driver.placement = BalloonPlacement::outside_memtotal;
  if (auto loaned = optional_sysfs_u64(snapshot, std::string(kBase) + "/loaned_kb")) {
    driver.bytes = *loaned * 1024;
    driver.source = "/sys/devices/system/cmm/cmm0/loaned_kb";
  }
  if (auto target = optional_sysfs_u64(snapshot, std::string(kBase) + "/loaned_target_kb")) {
    driver.target_bytes = *target * 1024;
  }
  drivers.push_back(std::move(driver));
}

std::optional<std::uint64_t> counter(const Vmstat& vmstat, std::string_view name) {
  auto value = vmstat.get(name);
  if (!value) return std::nullopt;
  return *value > 0 ? static_cast<std::uint64_t>(*value) : 0;
}

}  // namespace

namespace {

BalloonReadings parse_balloon(Snapshot& snapshot) {
  const std::uint64_t page_size = snapshot.page_size();
  BalloonReadings out;
  out.meminfo_bytes = read_meminfo(snapshot).bytes("Balloon");
  if (snapshot.readable(Root::proc, "vmstat")) {
    const Vmstat& vmstat = read_vmstat(snapshot);
    if (auto pages = counter(vmstat, "nr_balloon_pages")) out.vmstat_bytes = *pages * page_size;
    out.inflated_pages_total = counter(vmstat, "balloon_inflate");
    out.deflated_pages_total = counter(vmstat, "balloon_deflate");
  }

  read_virtio(snapshot, out.drivers);
  read_vmw(snapshot, out.drivers);
  read_hv(snapshot, out.drivers);
  read_xen(snapshot, out.drivers);
  read_cmm(snapshot, out.drivers);

  // The kernel-wide figures cover every driver: they size a driver only when it is alone.
  // Before 6.15 the inflate/deflate events since boot (drivers using balloon compaction:
  // virtio, vmw, cmm) are the only record of what the balloon holds.
  std::optional<std::uint64_t> global;
  std::string_view global_source;
  if (out.meminfo_bytes) {
    global = out.meminfo_bytes;
    global_source = "/proc/meminfo Balloon";
  } else if (out.vmstat_bytes) {
    global = out.vmstat_bytes;
    global_source = "/proc/vmstat nr_balloon_pages";
  } else if (out.inflated_pages_total && out.deflated_pages_total) {
    std::uint64_t held = *out.inflated_pages_total > *out.deflated_pages_total
                             ? *out.inflated_pages_total - *out.deflated_pages_total
                             : 0;
    global = held * page_size;
    global_source = "/proc/vmstat balloon_inflate - balloon_deflate";
  }
  if (out.drivers.empty() && global.value_or(0) > 0) {
    BalloonDriver unknown;
    unknown.name = "unknown";
    unknown.placement = BalloonPlacement::inside_memtotal;  // nothing says it left MemTotal
    out.drivers.push_back(std::move(unknown));
  }
  if (out.drivers.size() == 1 && !out.drivers.front().bytes && global) {
    out.drivers.front().bytes = global;
    out.drivers.front().source = global_source;
  }
  return out;
}

}  // namespace

const BalloonReadings& read_balloon(Snapshot& snapshot) {
  return snapshot.derived<BalloonReadings>("balloon", [&] { return parse_balloon(snapshot); });
}

}  // namespace memledger
