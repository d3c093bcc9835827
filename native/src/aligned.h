// Aligned buffers for direct I/O (CONTRIBUTING.md, "Native code": bounded memory, RAII handles).
// JS never holds one of these.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "platform.h"

namespace ds {

// One heap block aligned to `alignment` (a power of two ≥ the target's logical sector size).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(size_t size, size_t alignment);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& o) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A fixed pool of equal aligned buffers: the memory cap of a job. acquire() blocks until one is free
// or the pool is closed (then returns -1). Any thread.
class BufferPool {
 public:
  BufferPool(size_t count, size_t size, size_t alignment);
  int acquire();  // index of a free buffer, or -1 once close() was called
  void release(int index);
  void close();  // wakes every waiter; acquire() returns -1 from now on
  uint8_t* data(int index) const { return bufs_[index].data(); }
  size_t bufferSize() const { return size_; }
  size_t count() const { return bufs_.size(); }
  size_t inUse() const;

 private:
  std::vector<AlignedBuffer> bufs_;
  std::vector<int> free_;
  size_t size_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
};

// Process-wide counters, exposed to JS as counters() so tests can see that nothing leaks.
struct Counters {
  static std::atomic<int64_t> alignedBytes;  // bytes currently allocated in aligned buffers
  static std::atomic<int64_t> openTargets;   // open platform::File objects owned by JS handles/jobs
  static std::atomic<int64_t> liveJobs;      // jobs whose thread has not been joined
  static std::atomic<int64_t> heldLocks;     // target locks currently held
};

}  // namespace ds
