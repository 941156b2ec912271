#pragma once
// One scrape's view of /proc and /sys. Every file is read at most once per scrape and
// then served from memory, so every figure of a scrape comes from the same readings,
// whichever collector asks first. Thread-safe: collectors may run concurrently.
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

#include "procfs/errors.h"

namespace memledger {

struct SourceRoots {
  std::filesystem::path procfs = "/proc";
  std::filesystem::path sysfs = "/sys";
  // The page size the tree's counters are in; 0: this machine's (sysconf). Tests set it to
  // read fixture trees of 64 KiB-page kernels (arm64, ppc64le).
  std::uint64_t page_size = 0;
};

enum class Root { proc, sys };

// The outcome of reading one file: text when it could be read, else the errno.
struct Reading {
  std::string path;  // full path, for error messages
  std::string text;
  int error = 0;  // 0 on success
  bool ok() const { return error == 0; }
  bool missing() const;  // ENOENT or ENOTDIR: the kernel lacks this file
};

class Snapshot {
 public:
  explicit Snapshot(SourceRoots roots);
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  const SourceRoots& roots() const { return roots_; }
  std::uint64_t page_size() const { return page_size_; }
  std::string path(Root root, std::string_view relative) const;

  // The file's reading, cached for the rest of the scrape (errors are cached too). For
  // files whose raw text is the value (a device id, a feature bit string); files with a
  // format are read through parsed() so that each is parsed once.
  const Reading& read(Root root, std::string_view relative);

  // Whether the file can be read / does not exist (ENOENT, ENOTDIR): the same cached
  // reading, for the checks made before parsing a file that a kernel may lack.
  bool readable(Root root, std::string_view relative);
  bool missing(Root root, std::string_view relative);

  // The file's text; throws CollectError naming the file when it cannot be read.
  const std::string& text(Root root, std::string_view relative);

  // Sorted names in a directory (cached); empty when it does not exist or is unreadable.
  const std::vector<std::string>& list(Root root, std::string_view relative);

  // Reads a file that only one collector reads once per scrape (per-process files), into
  // a caller-owned buffer so thousands of them need no cache entries. Returns errno or 0.
  int read_uncached(Root root, std::string_view relative, std::string& buffer) const;

  // How many distinct files this snapshot read from disk (tests assert one read each).
  std::size_t files_read() const;

  // A value derived from this scrape's readings, computed once however many collectors
  // ask (the ledger's inputs are parsed for the ledger and the pss ledger alike). Each key
  // names one type. What compute throws is kept too: every caller sees the same error.
  template <class T, class Compute>
  const T& derived(std::string_view key, Compute&& compute) {
    Derived* slot = derived_slot(key, typeid(T));
    std::call_once(slot->once, [&] {
      try {
        slot->value = std::make_shared<T>(compute());
      } catch (...) {
        slot->error = std::current_exception();
      }
    });
    if (slot->error) std::rethrow_exception(slot->error);
    return *static_cast<const T*>(slot->value.get());
  }

  // One kernel file parsed once per snapshot: the memoized accessors of procfs/ are built on
  // this. The parser's ParseError becomes a CollectError naming the file and line.
  template <class T, class Parser>
  const T& parsed(Root root, std::string_view relative, Parser&& parser) {
    std::string key = "file:" + path(root, relative);
    return derived<T>(key, [&]() -> T {
      const Reading& reading = fetch(root, relative, Access::parse);
      if (!reading.ok()) throw CollectError(reading.path, 0, std::strerror(reading.error));
      const std::string& content = reading.text;
      try {
        return parser(std::string_view(content));
      } catch (const ParseError& e) {
        throw CollectError(path(root, relative), e.line(), e.what());
      }
    });
  }

  // How each file of this snapshot was used: a test asserts that every kernel file of a
  // scrape is parsed once, by one accessor, and never also taken raw to parse elsewhere.
  struct FileUse {
    std::size_t parses = 0;     // through parsed()
    std::size_t raw_reads = 0;  // through read() or text()
  };
  std::map<std::string, FileUse> file_uses() const;

 private:
  enum class Access { check, raw, parse };
  const Reading& fetch(Root root, std::string_view relative, Access access);
  struct Entry {
    std::once_flag once;
    Reading reading;
    FileUse use;  // under mutex_
  };
  struct Listing {
    std::once_flag once;
    std::vector<std::string> names;
  };
  struct Derived {
    std::once_flag once;
    std::shared_ptr<const void> value;
    std::exception_ptr error;
    const std::type_info* type = nullptr;  // one key, one type
  };
  Derived* derived_slot(std::string_view key, const std::type_info& type);

  SourceRoots roots_;
  std::uint64_t page_size_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Derived>, std::less<>> derived_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> files_;
  std::map<std::string, std::unique_ptr<Listing>, std::less<>> listings_;
};

// Parses one file of the snapshot with a pure parser, once per snapshot whoever asks:
// "what file and line were wrong" comes as a CollectError.
template <class Parser>
const auto& parse_file(Snapshot& snapshot, Root root, std::string_view relative, Parser&& parser) {
  using T = std::decay_t<decltype(parser(std::string_view{}))>;
  return snapshot.parsed<T>(root, relative, std::forward<Parser>(parser));
}

// Reads a whole file with read(2) (st_size is 0 for /proc files). Returns errno or 0.
int read_whole_file(const std::string& path, std::string& out);

}  // namespace memledger
