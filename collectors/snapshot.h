#pragma once
// One scrape's view of /proc and /sys. Every file is read at most once per scrape and
// then served from memory, so every figure of a scrape comes from the same readings,
// whichever collector asks first. Thread-safe: collectors may run concurrently.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memledger {

struct SourceRoots {
  std::filesystem::path procfs = "/proc";
  std::filesystem::path sysfs = "/sys";
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
  explicit Snapshot(SourceRoots roots) : roots_(std::move(roots)) {}
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  const SourceRoots& roots() const { return roots_; }
  std::string path(Root root, std::string_view relative) const;

  // The file's reading, cached for the rest of the scrape (errors are cached too).
  const Reading& read(Root root, std::string_view relative);

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
  // names one type. If compute throws, the next caller computes again.
  template <class T, class Compute>
  const T& derived(std::string_view key, Compute&& compute) {
    Derived* slot;
    {
      std::lock_guard lock(mutex_);
      auto it = derived_.find(key);
      if (it == derived_.end()) it = derived_.emplace(std::string(key), std::make_unique<Derived>()).first;
      slot = it->second.get();
    }
    std::call_once(slot->once, [&] { slot->value = std::make_shared<T>(compute()); });
    return *static_cast<const T*>(slot->value.get());
  }

 private:
  struct Entry {
    std::once_flag once;
    Reading reading;
  };
  struct Listing {
    std::once_flag once;
    std::vector<std::string> names;
  };
  struct Derived {
    std::once_flag once;
    std::shared_ptr<const void> value;
  };
  SourceRoots roots_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Derived>, std::less<>> derived_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> files_;
  std::map<std::string, std::unique_ptr<Listing>, std::less<>> listings_;
};

// Reads a whole file with read(2) (st_size is 0 for /proc files). Returns errno or 0.
int read_whole_file(const std::string& path, std::string& out);

}  // namespace memledger
