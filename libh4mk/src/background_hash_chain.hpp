// The VERI hash chain (hash_chain.hpp) computed on a second thread, so the
// writer does its own work while SHA-256 runs: with VERI the chain is most
// of the time spent, and it cannot be split (each link hashes the previous
// one). verify() hands its chain over once it meets a group with a record
// per block, whose checks are worth overlapping; for other files the
// hand-off measured slower than hashing in place (bench/RESULTS.md).
//
// Chunks are copied into batches of about 64 KiB, handed to one worker in
// order; at most about 1 MiB waits to be hashed, and chunks over 2 MiB (the
// index, very large groups) are not copied but hashed in place once the
// worker has caught up, so the copies cost a few MiB however much passes
// through. Nothing goes to a thread until a whole batch is full, or when the
// process may run on one CPU only (sched_getaffinity): small files and pinned
// processes hash on the caller's thread, as before. The result is the same
// chain either way.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "hash_chain.hpp"

namespace h4mk::detail {

class BackgroundHashChain {
 public:
  // allow_thread false: everything is hashed on the caller's thread.
  explicit BackgroundHashChain(bool allow_thread);
  ~BackgroundHashChain();
  BackgroundHashChain(const BackgroundHashChain&) = delete;
  BackgroundHashChain& operator=(const BackgroundHashChain&) = delete;

  // From now on, chunks may go to a worker thread, under the same conditions
  // as allow_thread in the constructor: for a caller that decides once it
  // has seen what it hashes (verify()).
  void allow_thread();

  void start(std::span<const uint8_t> file_header);
  void add_chunk(std::span<const uint8_t> header12, std::span<const uint8_t> payload);
  // Both wait until every chunk added so far is hashed, and rethrow what
  // the worker threw.
  uint64_t count();
  std::string hex();

  // Whether a worker thread was started, and the most bytes copied into one
  // batch (tests and benchmarks).
  bool used_thread() const { return thread_.joinable(); }
  size_t largest_batch_bytes() const { return largest_batch_bytes_; }

 private:
  // Chunks back to back: a 12-byte header then the payload, each ending at
  // the offset in `ends`.
  struct Batch {
    std::vector<uint8_t> bytes;
    std::vector<size_t> ends;
  };

  bool queue_full() const;
  void hand_off();
  void drain();
  void hash(const Batch& b);
  void run();

  HashChain chain_;
  bool allow_thread_;
  bool no_thread_to_be_had_ = false;  // std::thread failed once
  Batch filling_;

  std::mutex mutex_;
  std::condition_variable work_ready_;  // the worker waits on it
  std::condition_variable room_;        // the caller waits on it: queue space, or done
  std::deque<Batch> queue_;             // handed off, not yet hashed
  std::vector<Batch> spare_;            // hashed, kept for their capacity
  size_t queued_bytes_ = 0;
  bool worker_busy_ = false;
  bool worker_waiting_ = false;
  bool caller_waiting_ = false;
  bool started_ = false;            // the first batch was handed off
  size_t largest_batch_bytes_ = 0;  // the caller's alone
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// Whether this process may run on more than one CPU.
bool may_use_second_cpu();

}  // namespace h4mk::detail
