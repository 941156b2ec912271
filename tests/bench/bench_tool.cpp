// The benchmark's two native helpers (tests/bench/bench.py drives them):
//
//   bench_tool idle N
//       Starts N idle processes (`sleep infinity`, each killed by the kernel if this
//       parent dies: PR_SET_PDEATHSIG), prints "ready N", waits for EOF on stdin, then
//       kills every child by pid and reaps it.
//
//   bench_tool floor OPS_FILE [THREADS]
//       The raw-read floor: for each line read on stdin, performs once the file
//       operations listed in OPS_FILE (captured from one scrape of the exporter with
//       strace, see bench.py) and prints "wall_seconds user_seconds system_seconds".
//       Nothing else: no parsing, no allocation per file, one reused 64 KiB buffer.
//       With THREADS > 1 the threads take the operations in order, 8 at a time, as the
//       exporter's reading threads take processes.
//       Driven line by line so that bench.py interleaves it with the daemons' scrapes.
//
// OPS_FILE has one operation per line, "<op> <path>" or "<op> <directory>\t<name>":
//   r PATH         open, read(2) until it returns 0, close
//   l DIR          open the directory and read all its entries (getdents64)
//   L DIR\tNAME    readlinkat(dirfd(DIR), NAME): how the shmem collector scans fd/
//   s DIR\tNAME    fstatat(dirfd(DIR), NAME)
//   s PATH         stat(PATH)
//   f PATH         statfs(PATH)
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

int idle(long count) {
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) {
    std::perror("open /dev/null");
    return 1;
  }
  const pid_t parent = ::getpid();
  std::vector<pid_t> children;
  children.reserve(static_cast<std::size_t>(count));
  int status = 0;
  for (long i = 0; i < count; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(0);  // the parent died before prctl
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execlp("sleep", "sleep", "infinity", static_cast<char*>(nullptr));
      ::pause();  // no sleep(1): stay idle all the same
      ::_exit(0);
    }
    if (pid < 0) {
      std::fprintf(stderr, "fork failed after %zu children: %s\n", children.size(),
                   std::strerror(errno));
      status = 1;
      break;
    }
    children.push_back(pid);
  }
  if (status == 0) {
    std::printf("ready %zu\n", children.size());
    std::fflush(stdout);
    char c;
    for (;;) {
      ssize_t n = ::read(0, &c, 1);
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      break;
    }
  }
  for (pid_t pid : children) ::kill(pid, SIGKILL);
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  return status;
}

struct Op {
  char kind;
  std::string path;  // a file, or the directory of an "L"/"s" relative operation
  std::string name;  // empty unless relative to path
};

std::vector<Op> load_ops(const char* file) {
  std::ifstream in(file);
  std::vector<Op> ops;
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 3 || line[1] != ' ') continue;
    Op op{line[0], line.substr(2), {}};
    if (auto tab = op.path.find('\t'); tab != std::string::npos) {
      op.name = op.path.substr(tab + 1);
      op.path.resize(tab);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

// Replays operations. A directory stays open while the operations that
// follow are relative to it, as the exporter keeps fd/ open while reading its links.
class Replayer {
 public:
  void run(const Op* begin, const Op* end) {
    for (const Op* op = begin; op != end; ++op) {
      switch (op->kind) {
        case 'r':
          read_file(op->path);
          break;
        case 'l':
          list(op->path);
          break;
        case 'L':
          ::readlinkat(dir_for(op->path), op->name.c_str(), link_, sizeof link_);
          break;
        case 's':
          if (op->name.empty()) {
            ::stat(op->path.c_str(), &st_);
          } else {
            ::fstatat(dir_for(op->path), op->name.c_str(), &st_, 0);
          }
          break;
        case 'f':
          ::statfs(op->path.c_str(), &sfs_);
          break;
      }
    }
  }

  void close_dir() {
    if (dir_ >= 0) ::close(dir_);
    dir_ = -1;
    dir_path_.clear();
  }

 private:
  void read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    while (::read(fd, buffer_.data(), buffer_.size()) > 0) {
    }
    ::close(fd);
  }

  void list(const std::string& path) {
    close_dir();
    dir_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_ < 0) return;
    dir_path_ = path;
    while (::syscall(SYS_getdents64, dir_, buffer_.data(), buffer_.size()) > 0) {
    }
  }

  int dir_for(const std::string& path) {
    if (dir_ >= 0 && dir_path_ == path) return dir_;
    close_dir();
    dir_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    dir_path_ = path;
    return dir_;
  }

  std::vector<char> buffer_ = std::vector<char>(64 * 1024);
  char link_[4096];
  struct stat st_;
  struct statfs sfs_;
  int dir_ = -1;
  std::string dir_path_;
};

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; }

int replay_floor(const char* file, long threads) {
  std::vector<Op> ops = load_ops(file);
  if (ops.empty()) {
    std::fprintf(stderr, "%s: no operations\n", file);
    return 1;
  }
  std::vector<Replayer> replayers(static_cast<std::size_t>(threads));
  std::string request;
  while (std::getline(std::cin, request)) {
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    auto start = std::chrono::steady_clock::now();
    constexpr std::size_t kChunk = 8;
    std::atomic<std::size_t> next{0};
    auto work = [&](Replayer& replayer) {
      for (;;) {
        std::size_t begin = next.fetch_add(kChunk);
        if (begin >= ops.size()) break;
        replayer.run(ops.data() + begin, ops.data() + std::min(ops.size(), begin + kChunk));
      }
      replayer.close_dir();
    };
    std::vector<std::thread> workers;
    for (std::size_t t = 1; t < replayers.size(); ++t) {
      workers.emplace_back([&work, &replayers, t] { work(replayers[t]); });
    }
    work(replayers[0]);
    for (auto& worker : workers) worker.join();
    std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
    ::getrusage(RUSAGE_SELF, &after);
    std::printf("%.6f %.6f %.6f\n", wall.count(), seconds(after.ru_utime) - seconds(before.ru_utime),
                seconds(after.ru_stime) - seconds(before.ru_stime));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "idle" && argc == 3) return idle(std::atol(argv[2]));
  if (command == "floor" && (argc == 3 || argc == 4)) {
    long threads = argc == 4 ? std::atol(argv[3]) : 1;
    return replay_floor(argv[2], threads < 1 ? 1 : threads);
  }
  std::fprintf(stderr,
               "usage: bench_tool idle N\n"
               "       bench_tool floor OPS_FILE [THREADS]\n");
  return 2;
}
