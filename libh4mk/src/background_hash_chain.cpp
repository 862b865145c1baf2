#include "background_hash_chain.hpp"

#include <sched.h>

#include <algorithm>
#include <system_error>
#include <utility>

namespace h4mk::detail {

namespace {
// A batch is handed off once it holds this much: few enough hand-offs that
// their locking does not show, small enough that the worker starts early.
constexpr size_t kBatchBytes = 64 * 1024;
// The caller waits while this much is queued: the bound on memory.
constexpr size_t kMaxQueuedBytes = 1024 * 1024;
// A worker that ran out of work is woken once this much waits, not for
// each batch: on a VM every wake-up is a costly round through the host.
constexpr size_t kWakeWorkerBytes = 256 * 1024;
// Larger chunks are not copied: once the worker has caught up they are
// hashed in place, so the copies never cost more than a few MiB (the writer's
// default groups, up to 1 MiB and a block, still go to the worker; an index
// or a very large group does not).
constexpr size_t kMaxCopiedChunkBytes = 2 * kMaxQueuedBytes;
}  // namespace

bool may_use_second_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return false;
  return CPU_COUNT(&set) > 1;
}

BackgroundHashChain::BackgroundHashChain(bool allow_thread)
    : allow_thread_(allow_thread && may_use_second_cpu()) {}

BackgroundHashChain::~BackgroundHashChain() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  work_ready_.notify_one();
  thread_.join();
}

void BackgroundHashChain::allow_thread() {
  allow_thread_ = !no_thread_to_be_had_ && may_use_second_cpu();
}

void BackgroundHashChain::start(std::span<const uint8_t> file_header) {
  drain();
  chain_.start(file_header);
}

void BackgroundHashChain::add_chunk(std::span<const uint8_t> header12,
                                    std::span<const uint8_t> payload) {
  if (!allow_thread_ || header12.size() + payload.size() > kMaxCopiedChunkBytes) {
    drain();  // what came before is hashed first, and the worker is idle
    chain_.add_chunk(header12, payload);
    return;
  }
  Batch& b = filling_;
  b.bytes.insert(b.bytes.end(), header12.begin(), header12.end());
  b.bytes.insert(b.bytes.end(), payload.begin(), payload.end());
  b.ends.push_back(b.bytes.size());
  if (b.bytes.size() >= kBatchBytes) hand_off();
}

void BackgroundHashChain::hash(const Batch& b) {
  size_t at = 0;
  for (size_t end : b.ends) {
    chain_.add_chunk({b.bytes.data() + at, 12}, {b.bytes.data() + at + 12, end - at - 12});
    at = end;
  }
}

void BackgroundHashChain::hand_off() {
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      allow_thread_ = false;  // no thread to be had: hash here, from now on
      no_thread_to_be_had_ = true;
      hash(filling_);
      filling_.bytes.clear();
      filling_.ends.clear();
      return;
    }
  }
  Batch next;
  bool wake;
  {
    std::unique_lock lock(mutex_);
    if (queue_full()) {
      caller_waiting_ = true;
      room_.wait(lock, [&] { return !queue_full() || error_; });
      caller_waiting_ = false;
    }
    if (error_) std::rethrow_exception(error_);
    if (!spare_.empty()) {
      next = std::move(spare_.back());
      spare_.pop_back();
    }
    largest_batch_bytes_ = std::max(largest_batch_bytes_, filling_.bytes.size());
    queued_bytes_ += filling_.bytes.size();
    queue_.push_back(std::move(filling_));
    wake = worker_waiting_ && (queued_bytes_ >= kWakeWorkerBytes || !started_);
    started_ = true;
  }
  if (wake) work_ready_.notify_one();
  filling_ = std::move(next);
  filling_.bytes.clear();
  filling_.ends.clear();
}

// Full when 1 MiB waits, but the worker always has a next batch ready
// behind the one it hashes, however large each is.
bool BackgroundHashChain::queue_full() const {
  return queued_bytes_ >= kMaxQueuedBytes && queue_.size() >= 2;
}

void BackgroundHashChain::drain() {
  if (!thread_.joinable()) {
    hash(filling_);
    filling_.bytes.clear();
    filling_.ends.clear();
    return;
  }
  if (!filling_.ends.empty()) hand_off();
  std::unique_lock lock(mutex_);
  caller_waiting_ = true;
  if (worker_waiting_) work_ready_.notify_one();
  room_.wait(lock, [&] { return (queue_.empty() && !worker_busy_) || error_; });
  caller_waiting_ = false;
  if (error_) std::rethrow_exception(error_);
}

void BackgroundHashChain::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!stop_ && queue_.empty()) {
      worker_waiting_ = true;
      work_ready_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      worker_waiting_ = false;
    }
    if (stop_) return;
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    worker_busy_ = true;
    lock.unlock();
    std::exception_ptr error;
    try {
      hash(b);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    worker_busy_ = false;
    queued_bytes_ -= b.bytes.size();
    // A batch that grew around one large chunk is freed, not kept.
    if (b.bytes.capacity() <= 2 * kBatchBytes) spare_.push_back(std::move(b));
    if (error) {
      error_ = error;
      queue_.clear();
      queued_bytes_ = 0;
    }
    // The caller waits for room (woken once half the queue is hashed) or
    // for everything to be hashed.
    if (caller_waiting_ && (queued_bytes_ <= kMaxQueuedBytes / 2 || queue_.size() < 2 || error_))
      room_.notify_one();
  }
}

uint64_t BackgroundHashChain::count() {
  drain();
  return chain_.count();
}

std::string BackgroundHashChain::hex() {
  drain();
  return chain_.hex();
}

}  // namespace h4mk::detail
