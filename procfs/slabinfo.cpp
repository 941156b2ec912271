#include "procfs/slabinfo.h"

#include <algorithm>
#include <array>

#include "procfs/text.h"

namespace memledger {

namespace {

// Splits off the last whitespace-separated field; empty when none is left.
std::string_view pop_last_field(std::string_view& s) {
  while (!s.empty() && text::is_space(s.back())) s.remove_suffix(1);
  std::size_t start = s.size();
  while (start > 0 && !text::is_space(s[start - 1])) --start;
  std::string_view field = s.substr(start);
  s = s.substr(0, start);
  return field;
}

std::size_t count_lines(std::string_view text) {
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Fields of "name n1 n2 ... nN" taken from the right, because 2.4 kernels printed cache
// names with spaces. Returns the name.
template <std::size_t N>
std::string_view split_name_and_numbers(std::string_view head, std::array<std::uint64_t, N>& out,
                                        const std::array<std::string_view, N>& columns,
                                        std::size_t line) {
  for (std::size_t i = N; i-- > 0;) {
    std::string_view field = pop_last_field(head);
    if (field.empty() || text::trim(head).empty()) {
      throw ParseError(line, "expected a cache name and " + std::to_string(N) + " numbers");
    }
    out[i] = text::require_u64(field, line, columns[i]);
  }
  return text::trim(head);
}

// Format 1.x (Linux 2.4): name active_objs num_objs objsize active_slabs num_slabs
// pagesperslab, then optional " : " statistics and SMP columns.
SlabCache parse_v1_line(std::string_view line, std::size_t number) {
  static constexpr std::array<std::string_view, 6> kColumns = {
      "active_objs", "num_objs", "objsize", "active_slabs", "num_slabs", "pagesperslab"};
  std::array<std::uint64_t, 6> v{};
  std::string_view name = split_name_and_numbers(line.substr(0, line.find(" : ")), v, kColumns, number);
  SlabCache c;
  c.name = std::string(name);
  c.active_objs = v[0];
  c.num_objs = v[1];
  c.objsize = v[2];
  c.active_slabs = v[3];
  c.num_slabs = v[4];
  c.pagesperslab = v[5];
  c.objperslab = c.num_slabs ? c.num_objs / c.num_slabs : 0;
  return c;
}

// Format 2.x: name active_objs num_objs objsize objperslab pagesperslab
// " : tunables ..." " : slabdata active_slabs num_slabs sharedavail", and with
// statistics " : globalstat ..." " : cpustat ...".
SlabCache parse_v2_line(std::string_view line, std::size_t number) {
  static constexpr std::array<std::string_view, 5> kColumns = {
      "active_objs", "num_objs", "objsize", "objperslab", "pagesperslab"};
  std::array<std::uint64_t, 5> v{};
  std::size_t separator = line.find(" : ");
  std::string_view name = split_name_and_numbers(line.substr(0, separator), v, kColumns, number);
  SlabCache c;
  c.name = std::string(name);
  c.active_objs = v[0];
  c.num_objs = v[1];
  c.objsize = v[2];
  c.objperslab = v[3];
  c.pagesperslab = v[4];
  bool slabdata = false;
  std::string_view rest =
      separator == std::string_view::npos ? std::string_view{} : line.substr(separator + 3);
  while (!rest.empty() && !slabdata) {
    std::size_t next = rest.find(" : ");
    std::string_view section = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 3);
    if (text::next_field(section) != "slabdata") continue;
    c.active_slabs = text::require_u64(text::next_field(section), number, "active_slabs");
    c.num_slabs = text::require_u64(text::next_field(section), number, "num_slabs");
    slabdata = true;
  }
  if (!slabdata) throw ParseError(number, "missing the \": slabdata\" section");
  return c;
}

}  // namespace

std::uint64_t SlabInfo::total_bytes(std::uint64_t page_size) const {
  std::uint64_t total = 0;
  for (const auto& c : caches) total += c.bytes(page_size);
  return total;
}

SlabInfo parse_slabinfo(std::string_view text) {
  text::require_content(text);
  text::LineReader lines(text);
  std::string_view line;
  lines.next(line);
  constexpr std::string_view kHeader = "slabinfo - version: ";
  if (!text::starts_with(line, kHeader)) {
    throw ParseError(1, "expected \"slabinfo - version: N.N\"");
  }
  std::string_view rest = line.substr(kHeader.size());
  SlabInfo info;
  info.version = std::string(text::next_field(rest));  // then "(statistics)", "(SMP)"
  std::string_view major = std::string_view(info.version).substr(0, info.version.find('.'));
  bool v1 = major == "1";
  if (!v1 && major != "2") {
    throw ParseError(1, "unsupported slabinfo version \"" + info.version.substr(0, 20) + "\"");
  }
  while (lines.next(line)) {
    if (text::trim(line).empty() || line.front() == '#') continue;  // "# name <active_objs> ..."
    info.caches.push_back(v1 ? parse_v1_line(line, lines.number())
                             : parse_v2_line(line, lines.number()));
  }
  if (info.caches.empty()) throw ParseError(0, "no caches listed");
  return info;
}

const SlabInfo& read_slabinfo(Snapshot& snapshot) {
  return parse_file(snapshot, Root::proc, "slabinfo", parse_slabinfo);
}

}  // namespace memledger
