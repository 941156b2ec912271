// The stall benchmark's victim (tests/bench/pss_bench.py): touches SIZE_GIB GiB of private
// 4 KiB pages, then times mmap+munmap of one page in a loop, the operations a reader of
// its page tables holding the mmap lock delays. Every second it prints the worst latency
// of that second in microseconds ("worst_us N"), until stdin closes. Between two timings
// it sleeps 100 us: run at SCHED_FIFO it then stays far below the real-time throttle
// (sched_rt_runtime_us, 95% of each second), which would otherwise stop it for 50 ms a
// second and show as a stall of its own.
//
// With "shared" after the size, the memory is one shmem segment (MAP_SHARED anonymous)
// that a forked child maps whole too: every page has a map count of 2, the case where
// pagemap needs a /proc/kpagecount lookup per page.
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  const bool shared = argc == 3 && std::strcmp(argv[2], "shared") == 0;
  if (argc != 2 && !shared) {
    std::fprintf(stderr, "usage: mmap_victim SIZE_GIB [shared]\n");
    return 2;
  }
  const std::size_t bytes = static_cast<std::size_t>(std::atof(argv[1]) * (1ull << 30));
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                        (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  ::madvise(memory, bytes, MADV_NOHUGEPAGE);  // 4 KiB pages: the most page-table entries
  for (std::size_t i = 0; i < bytes; i += 4096) static_cast<char*>(memory)[i] = 1;
  if (shared) {
    int mapped[2];
    if (::pipe(mapped) != 0) return 1;
    if (::fork() == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (std::size_t i = 0; i < bytes; i += 4096) {
        static_cast<volatile char*>(memory)[i];  // a read fault maps the shmem page
      }
      ::close(mapped[0]);
      ::close(mapped[1]);  // EOF for the parent: every page is mapped here too
      ::pause();
      return 0;
    }
    ::close(mapped[1]);
    char c;
    while (::read(mapped[0], &c, 1) > 0) {
    }
    ::close(mapped[0]);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  using Clock = std::chrono::steady_clock;
  auto window = Clock::now();
  long worst_ns = 0;
  pollfd input{STDIN_FILENO, POLLIN, 0};
  const timespec pause{0, 100 * 1000};
  for (;;) {
    ::clock_nanosleep(CLOCK_MONOTONIC, 0, &pause, nullptr);
    auto before = Clock::now();
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page != MAP_FAILED) ::munmap(page, 4096);
    auto after = Clock::now();
    long ns = std::chrono::duration_cast<std::chrono::nanoseconds>(after - before).count();
    if (ns > worst_ns) worst_ns = ns;
    if (after - window >= std::chrono::seconds(1)) {
      std::printf("worst_us %ld\n", worst_ns / 1000);
      std::fflush(stdout);
      worst_ns = 0;
      window = after;
      if (::poll(&input, 1, 0) > 0) {
        char c;
        if (::read(STDIN_FILENO, &c, 1) <= 0) return 0;  // the benchmark is done
      }
    }
  }
}
