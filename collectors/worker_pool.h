#pragma once
// The one worker pool: the scrape runs collectors on it, the process collector reads
// /proc/<pid> files on it. Threads live for one call; a thread that cannot be had leaves
// its share to the others.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace memledger {

// Calls fn(worker, index) for every index below `count` on up to `threads` threads, the
// caller's being worker 0. Indexes go out `chunk` at a time, in order, so that slow reads
// balance out and the order of a list is roughly kept. The first exception a worker
// throws is rethrown here once every worker has stopped.
template <class Fn>
void parallel_for(std::size_t count, std::size_t threads, std::size_t chunk, Fn&& fn) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&](std::size_t worker) {
    try {
      while (!failed.load(std::memory_order_relaxed)) {
        std::size_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
        if (begin >= count) return;
        for (std::size_t i = begin; i < std::min(count, begin + chunk); ++i) fn(worker, i);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> helpers;
  const std::size_t wanted = std::min(threads, (count + chunk - 1) / chunk);
  for (std::size_t worker = 1; worker < wanted; ++worker) {
    try {
      helpers.emplace_back(work, worker);
    } catch (const std::system_error&) {
      break;  // no thread to be had: fewer workers read it all the same
    }
  }
  work(0);
  for (auto& helper : helpers) helper.join();
  if (error) std::rethrow_exception(error);
}

inline std::size_t usable_threads(std::size_t wanted) {
  std::size_t cpus = std::thread::hardware_concurrency();
  return std::max<std::size_t>(1, cpus ? std::min(wanted, cpus) : wanted);
}


}  // namespace memledger
