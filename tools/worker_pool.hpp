// A fixed set of threads for the work requests ask for (packing an upload,
// reading a file's index), so that it never runs on the threads that poll
// connections: /health and every other connection stay answered while it
// runs. The queue is bounded; what does not fit is refused by its caller.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace h4mk::cli {

class WorkerPool {
 public:
  // A job runs once: job(false) on a worker, or job(true) from stop() when it
  // was still queued (it then only says it was cancelled).
  using Job = std::function<void(bool cancelled)>;

  WorkerPool(unsigned workers, size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues the job; false (and the job is not kept) when the queue is full
  // or the pool is stopping.
  bool submit(Job job);
  // Cancels what is queued, waits for the running jobs and joins the threads.
  void stop();

 private:
  void work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace h4mk::cli
