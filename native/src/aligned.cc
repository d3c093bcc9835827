#include "aligned.h"

#include <new>

namespace ds {

std::atomic<int64_t> Counters::alignedBytes{0};
std::atomic<int64_t> Counters::openTargets{0};
std::atomic<int64_t> Counters::liveJobs{0};
std::atomic<int64_t> Counters::heldLocks{0};

AlignedBuffer::AlignedBuffer(size_t size, size_t alignment) : size_(size) {
  data_ = static_cast<uint8_t*>(platform::AlignedAlloc(size, alignment));
  if (!data_) throw std::bad_alloc();
  Counters::alignedBytes += static_cast<int64_t>(size);
}

AlignedBuffer::~AlignedBuffer() {
  if (data_) {
    platform::AlignedFree(data_);
    Counters::alignedBytes -= static_cast<int64_t>(size_);
  }
}

AlignedBuffer::AlignedBuffer(AlignedBuffer&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& o) noexcept {
  if (this != &o) {
    if (data_) {
      platform::AlignedFree(data_);
      Counters::alignedBytes -= static_cast<int64_t>(size_);
    }
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

BufferPool::BufferPool(size_t count, size_t size, size_t alignment) : size_(size) {
  bufs_.reserve(count);
  for (size_t i = 0; i < count; i++) {
    bufs_.emplace_back(size, alignment);
    free_.push_back(static_cast<int>(i));
  }
}

int BufferPool::acquire() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return closed_ || !free_.empty(); });
  if (closed_) return -1;
  int i = free_.back();
  free_.pop_back();
  return i;
}

void BufferPool::release(int index) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    free_.push_back(index);
  }
  cv_.notify_one();
}

void BufferPool::close() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

size_t BufferPool::inUse() const {
  std::lock_guard<std::mutex> lk(mu_);
  return bufs_.size() - free_.size();
}

}  // namespace ds
