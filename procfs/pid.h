#pragma once
// Per-process files: /proc/<pid>/stat, status, cgroup and smaps_rollup / smaps
// (Documentation/filesystems/proc.rst; fs/proc/array.c, fs/proc/task_mmu.c).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memledger {

// The figures exported per group, in exposition order (the "kind" label).
enum class MemoryKind : std::uint8_t { rss, pss, pss_anon, pss_file, pss_shmem, uss, swap, swap_pss };
inline constexpr std::size_t kMemoryKinds = 8;
std::string_view kind_name(MemoryKind kind);

struct ProcessMemory {
  std::array<std::uint64_t, kMemoryKinds> bytes{};
  std::uint8_t present = 0;  // bit per MemoryKind the kernel provided

  bool has(MemoryKind k) const { return present & (1u << static_cast<unsigned>(k)); }
  std::uint64_t get(MemoryKind k) const { return bytes[static_cast<std::size_t>(k)]; }
  void add(MemoryKind k, std::uint64_t value) {
    bytes[static_cast<std::size_t>(k)] += value;
    present |= static_cast<std::uint8_t>(1u << static_cast<unsigned>(k));
  }
  void add(const ProcessMemory& other);
};

// /proc/<pid>/smaps_rollup, or /proc/<pid>/smaps (kernels before 4.14), whose per-mapping
// blocks are summed. Fields the kernel lacks (Pss_Anon before 5.3...) stay absent.
// Throws ParseError when a field it uses is malformed.
ProcessMemory parse_smaps(std::string_view text);

// The fields of /proc/<pid>/stat the collector uses.
struct ProcStat {
  std::string_view comm;  // raw bytes: may hold ')', spaces, newlines, invalid UTF-8
  char state = '?';
  std::uint64_t flags = 0;
  std::uint64_t starttime = 0;  // clock ticks since boot: with the pid, names one process
  std::uint64_t rss_pages = 0;
  bool kernel_thread() const { return flags & 0x00200000; }  // PF_KTHREAD
  bool exited() const { return state == 'Z' || state == 'X'; }
};
ProcStat parse_proc_stat(std::string_view text);

// The path to group by in /proc/<pid>/cgroup: the v1 memory controller's, else the v2 one.
std::string_view cgroup_path(std::string_view cgroup_file);
// The systemd hierarchy's path (v1 name=systemd, else v2).
std::string_view systemd_cgroup_path(std::string_view cgroup_file);
// The innermost .service or .scope in a cgroup path, else the innermost .slice; "-.slice"
// for the root; the path itself when it names no unit.
std::string_view systemd_unit(std::string_view path);
// The real uid of /proc/<pid>/status.
std::optional<std::uint32_t> status_real_uid(std::string_view status);

}  // namespace memledger
