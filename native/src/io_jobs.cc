// Direct I/O jobs (binding.d.ts "Direct I/O jobs"): copyFilesJob, hashFilesJob, writeRawJob.
// hashFilesJob is the direct reader (prep's read-back verification, check's pack hashes).
//
// Engine (docs/native-io.md has the measurement behind it): the job thread reads sequentially into a
// fixed BufferPool (the job's memory cap) and hands each filled buffer to a fixed set of worker
// threads that pwrite it, so `queueDepth` writes are in flight; copyFiles hashes the same buffer on
// separate hash workers meanwhile. hashFilesJob opens items ahead on the
// job thread and lets `threads` workers read and hash blocks across item boundaries. Plain positional writes on threads
// were as fast as io_uring and libaio at queue depth ≥ 4 here, with no extra link dependency.
// Memory: copyFiles (queueDepth + 1) × blockSize, writeRaw (queueDepth + 1) × ioSize, hashFiles
// threads × blockSize. Cancellation is checked before every read and every write; every thread is
// joined and every descriptor closed (RAII in Run) before the promise settles.
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "aligned.h"
#include "crypto.h"
#include "errors.h"
#include "job.h"
#include "md5_mb.h"
#include "modules.h"
#include "platform.h"
#include "spec_args.h"

namespace ds {

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kMaxSafe = args::kMaxSafe;

uint64_t RoundUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

// ---- Workers: a fixed set of threads running submitted tasks -------------------------------------

// The first task failure is kept; later tasks see aborted() and skip their I/O (they still release
// their buffer). The destructor joins every thread, so declare it after what tasks use.
class Workers {
 public:
  Workers(size_t n, const Job* job) : job_(job) {
    for (size_t i = 0; i < n; i++) threads_.Start([this] { Loop(); });
  }
  ~Workers() { threads_.JoinAll(); }
  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      queue_.push_back(std::move(task));
      pending_++;
    }
    cv_.notify_one();
  }
  // Job thread: waits until every submitted task has finished, then rethrows the first failure.
  void wait() {
    std::unique_lock<std::mutex> lk(mu_);
    idle_.wait(lk, [&] { return pending_ == 0; });
    if (error_) std::rethrow_exception(error_);
  }
  // Job thread: rethrows the first task failure, if any, without waiting.
  void check() {
    std::lock_guard<std::mutex> lk(mu_);
    if (error_) std::rethrow_exception(error_);
  }
  void abort() {
    std::lock_guard<std::mutex> lk(mu_);
    aborted_ = true;
  }
  bool aborted() const { return aborted_.load(std::memory_order_relaxed) || job_->cancelled(); }

 private:
  // Runs on a worker thread.
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        task();
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
        aborted_ = true;
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (--pending_ == 0) idle_.notify_all();
      }
    }
  }

  const Job* job_;
  std::mutex mu_;
  std::condition_variable cv_, idle_;
  std::deque<std::function<void()>> queue_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::atomic<bool> aborted_{false};
  std::exception_ptr error_;
  ThreadGroup threads_{[this] {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      aborted_ = true;
    }
    cv_.notify_all();
  }};
};

// Waits for in-flight tasks when a scope ends, also by exception, so no task outlives the files and
// buffers declared before it. Job thread.
class DrainGuard {
 public:
  explicit DrainGuard(Workers& w) : w_(w) {}
  ~DrainGuard() {
    if (std::uncaught_exceptions() > 0) w_.abort();
    try {
      w_.wait();
    } catch (...) {
      // The exception already unwinding (or the one wait() reported normally) is the one reported.
    }
  }

 private:
  Workers& w_;
};

// Returns a pool buffer when the task that holds it ends, however it ends.
struct BufferLease {
  BufferPool* pool;
  int index;
  ~BufferLease() {
    if (index >= 0) pool->release(index);
  }
};

// Opens a source for reading: direct when asked and the filesystem supports it, else buffered.
std::unique_ptr<platform::File> OpenSource(const std::string& path, bool direct) {
  platform::OpenOptions o;
  o.direct = direct;
  if (!direct) return platform::Open(path, o);
  try {
    return platform::Open(path, o);
  } catch (const Failure& f) {
    if (f.error().code != "EINVAL") throw;  // tmpfs and some FUSE filesystems refuse O_DIRECT
    o.direct = false;
    return platform::Open(path, o);
  }
}

size_t BufferAlignment(std::initializer_list<const platform::Geometry*> gs) {
  size_t a = 4096;
  for (auto* g : gs) a = std::max<size_t>(a, g->logicalSectorSize);
  return a;
}

// Reads exactly n bytes at off into buf (request rounded up to the source's direct alignment); a
// source that ends early changed under us.
void ReadExact(platform::File& src, uint8_t* buf, size_t n, uint64_t off, uint32_t sector) {
  size_t want = src.direct() ? RoundUp(n, sector) : n;
  size_t got = src.pread(buf, want, off);
  if (got < n)
    ThrowCode("ERR_CHANGED",
              src.path() + " ended at " + std::to_string(off + got) + " bytes while " + std::to_string(off + n) +
                  " were expected: it changed while being read; rerun once it is stable",
              src.path(), static_cast<int64_t>(off + got));
}

// ---- Spec parsing (JS thread) --------------------------------------------------------------------

using args::Fields;

Napi::Array ItemsArray(const Fields& r) { return args::GetArray(r.env, r.Get("items"), "spec.items"); }

uint64_t QueueDepth(const Fields& r) { return r.Uint("queueDepth", 4, 1, 64, 1, false, "an integer from 1 to 64"); }
uint64_t IoSize(const Fields& r) {
  return r.Uint("ioSize", 4 * kMiB, 4096, 64 * kMiB, 4096, false, "a multiple of 4096 from 4096 to 67108864");
}
uint64_t BlockSize(const Fields& r, uint64_t ioSize) {
  return r.Uint("blockSize", std::max<uint64_t>(4 * kMiB, ioSize), ioSize, 256 * kMiB, ioSize, false,
                "a multiple of spec.ioSize (" + std::to_string(ioSize) + ") up to 268435456");
}

Napi::Buffer<uint8_t> ToBuffer(Napi::Env env, const std::vector<uint8_t>& v) {
  return Napi::Buffer<uint8_t>::Copy(env, v.data(), v.size());
}

// JS thread: the result shape of the per-item jobs, {bytes: total, items: [{bytes, blockMd5, ...}]};
// `extra(o, item)` adds job-specific fields.
template <typename Item, typename Extra>
Napi::Object ItemsResult(Napi::Env env, const std::vector<Item>& items, Extra extra) {
  Napi::Object r = Napi::Object::New(env);
  Napi::Array arr = Napi::Array::New(env, items.size());
  uint64_t total = 0;
  for (size_t i = 0; i < items.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytes", static_cast<double>(items[i].bytes));
    o.Set("blockMd5", ToBuffer(env, items[i].blockMd5));
    extra(o, items[i]);
    arr.Set(i, o);
    total += items[i].bytes;
  }
  r.Set("bytes", static_cast<double>(total));
  r.Set("items", arr);
  return r;
}

CancelFlag CancelArg(const Napi::CallbackInfo& info) { return CancelToken::FromValue(info.Env(), info[2], "cancel"); }

// ---- copyFilesJob --------------------------------------------------------------------------------

class CopyFilesJob final : public Job {
 public:
  struct Item {
    std::string source, dest;
    uint64_t bytes = 0;
    std::vector<uint8_t> blockMd5;
  };
  std::vector<Item> items;
  uint64_t queueDepth = 4, ioSize = 4 * kMiB, blockSize = 4 * kMiB;
  bool direct = true, preallocate = true, sync = true;

 private:
  static constexpr size_t kNone = SIZE_MAX;

  // One destination from its open to its report. Written by the write workers and hashed by the hash
  // workers; its last block's last user hands it to a write worker that truncates, syncs and closes it.
  struct Dest {
    size_t index = 0;
    uint64_t size = 0;
    bool trimTail = false;  // direct writes were padded to the sector: truncate to size
    std::unique_ptr<platform::File> file;
    // Blocks not yet both written and hashed, + 1 that the job thread drops once every block is submitted.
    std::atomic<uint64_t> outstanding{1};
  };

  BufferPool* pool_ = nullptr;
  Workers* writers_ = nullptr;
  std::unique_ptr<std::atomic<int>[]> refs_;  // per pool buffer: its write pieces + its hash not yet done
  std::atomic<size_t> failIndex_{kNone};      // lowest failed item; work for it and later items is skipped
  std::mutex mu_;                             // guards error_, openDests_, finished_, nextReport_
  std::condition_variable cv_;
  std::exception_ptr error_;
  size_t openDests_ = 0;
  std::vector<char> finished_;
  size_t nextReport_ = 0;

  // Any thread: keeps the failure of the lowest item, the one a sequential copy would have met first.
  void Fail(size_t i, std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (i < failIndex_.load()) {
        failIndex_ = i;
        error_ = std::move(e);
      }
    }
    cv_.notify_all();
  }
  bool Skip(size_t i) const { return i >= failIndex_.load() || cancelled(); }

  // Worker thread: one user of buffer idx (a write piece or the hash) is done with it.
  void Unref(int idx, Dest* d) {
    if (refs_[idx].fetch_sub(1) != 1) return;
    pool_->release(idx);
    BlockDone(d);
  }
  // Job or worker thread: after the last block (and the job thread's submission hold), finish d.
  void BlockDone(Dest* d) {
    if (d->outstanding.fetch_sub(1) == 1) writers_->submit([this, d] { Finish(*d); });
  }

  // A block read into pool buffer idx, waiting for its MD5.
  struct HashReq {
    Dest* d;
    int idx;
    const uint8_t* buf;
    size_t n;
    uint8_t* md5;
  };
  std::mutex hashMu_;
  std::deque<HashReq> hashQueue_;  // guarded by hashMu_

  // Hash worker: MD5s every block queued by now (up to the SIMD width) in one multi-buffer pass
  // (md5_mb.h), while the write workers write the same (read-only) buffers.
  void DrainHashes() {
    HashReq batch[md5::kMaxLanes];
    size_t k = 0;
    {
      std::lock_guard<std::mutex> lk(hashMu_);
      while (k < md5::kMaxLanes && !hashQueue_.empty()) {
        batch[k++] = hashQueue_.front();
        hashQueue_.pop_front();
      }
    }
    const uint8_t* ptr[md5::kMaxLanes];
    size_t len[md5::kMaxLanes], which[md5::kMaxLanes], m = 0;
    for (size_t i = 0; i < k; i++)
      if (!Skip(batch[i].d->index)) {
        ptr[m] = batch[i].buf;
        len[m] = batch[i].n;
        which[m++] = i;
      }
    try {
      uint8_t out[md5::kMaxLanes * md5::kDigestSize];
      md5::HashMany(ptr, len, m, out);
      for (size_t j = 0; j < m; j++) std::memcpy(batch[which[j]].md5, out + 16 * j, 16);
    } catch (...) {
      Fail(m ? batch[which[0]].d->index : 0, std::current_exception());
    }
    for (size_t i = 0; i < k; i++) Unref(batch[i].idx, batch[i].d);
  }

  // Write worker: trims, syncs and closes d, then reports every item now finished in item order.
  // fdatasync comes before the report: prep's journal records a file as complete on its itemDone,
  // so a reported file must be durable. Syncs of several items run concurrently on the write
  // workers (ext4 commits them together); reports still come strictly in order.
  void Finish(Dest& d) {
    bool ok = !Skip(d.index);
    if (ok) {
      try {
        if (d.trimTail) d.file->truncate(d.size);
        if (sync) d.file->sync();
      } catch (...) {
        Fail(d.index, std::current_exception());
        ok = false;
      }
    }
    d.file.reset();  // closes
    {
      std::lock_guard<std::mutex> lk(mu_);
      openDests_--;
      if (ok) {
        items[d.index].bytes = d.size;
        finished_[d.index] = 1;
      }
      while (nextReport_ < items.size() && finished_[nextReport_] && nextReport_ < failIndex_.load())
        Report(nextReport_++);
    }
    cv_.notify_all();
  }

  // Worker thread, under mu_ (so events leave in item order).
  void Report(size_t i) {
    advance(0, 1);
    emit([i, bytes = items[i].bytes, md5 = items[i].blockMd5](Napi::Env env) -> Napi::Value {
      Napi::Object e = Napi::Object::New(env);
      e.Set("type", "itemDone");
      e.Set("index", static_cast<double>(i));
      e.Set("bytes", static_cast<double>(bytes));
      e.Set("blockMd5", ToBuffer(env, md5));
      return e;
    });
  }

 protected:
  // Job thread: opens items and reads them sequentially into the pool; each filled buffer goes to a
  // hash worker (its block MD5) and, in ioSize pieces, to the write workers at the same time, and
  // returns to the pool when its writes and its hash are all done. The next item is opened and read
  // while the previous ones are still being written and synced (at most 2 × queueDepth destinations
  // open). Memory: (queueDepth + 1) × blockSize aligned bytes.
  void Run() override {
    setTotals(0, items.size());
    finished_.assign(items.size(), 0);
    const size_t poolCount = static_cast<size_t>(queueDepth) + 1;
    // Hashing beside the writes: one block's MD5 (about 5 ms per 4 MiB on one core here) is as long as
    // its write, so hashed in line it kept the buffer twice as long and halved the writes in flight.
    const size_t hashThreads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), queueDepth);
    const size_t maxOpen = 2 * static_cast<size_t>(queueDepth);
    refs_.reset(new std::atomic<int>[poolCount]);
    std::vector<std::unique_ptr<Dest>> dests(items.size());  // outlive the workers: declared first
    std::unique_ptr<BufferPool> pool;
    size_t poolAlign = 0;
    Workers writers(queueDepth, this);
    Workers hashers(hashThreads, this);
    writers_ = &writers;
    // Hash tasks may submit a Finish to the writers, write tasks only to the writers: drain in that order.
    auto drain = [&] {
      hashers.wait();
      writers.wait();
    };
    struct DrainAtExit {
      std::function<void()>& drain;
      ~DrainAtExit() {
        try {
          drain();
        } catch (...) {
        }
      }
    };
    std::function<void()> drainFn = drain;
    DrainAtExit drainAtExit{drainFn};

    size_t cur = 0;
    try {
      for (; cur < items.size(); cur++) {
        if (failIndex_.load() != kNone) break;
        checkCancelled();
        {
          // The descriptor bound; the timeout only bounds how late a cancellation is noticed.
          std::unique_lock<std::mutex> lk(mu_);
          while (openDests_ >= maxOpen && failIndex_.load() == kNone && !cancelled())
            cv_.wait_for(lk, std::chrono::milliseconds(100));
        }
        if (failIndex_.load() != kNone) break;
        checkCancelled();
        Item& it = items[cur];
        auto src = OpenSource(it.source, direct);
        platform::Geometry sg = src->geometry();
        platform::OpenOptions o;
        o.write = o.create = o.truncate = true;
        o.direct = direct;
        auto dst = platform::Open(it.dest, o);
        platform::Geometry dg = dst->geometry();
        if (dg.kind != platform::Kind::File)
          ThrowCode("EINVAL",
                    "copyFiles writes regular files, and " + it.dest + " is a block device; use writeRaw for devices",
                    it.dest);
        const uint64_t size = sg.size;
        addTotals(size, 0);
        // One write allocates a file of up to ioSize in one go; reserving it first only added a call
        // and an unwritten extent to convert, per file, on the many-small-files path.
        if (preallocate && size > ioSize) dst->preallocate(size);
        size_t align = BufferAlignment({&sg, &dg});
        // Padded direct writes and rounded-up direct reads must stay inside one pool buffer.
        if (direct && (blockSize % align != 0 || ioSize % align != 0))
          ThrowCode("ERR_ALIGNMENT",
                    "blockSize " + std::to_string(blockSize) + " and ioSize " + std::to_string(ioSize) +
                        " must be multiples of the " + std::to_string(align) + "-byte sector size of " + it.source +
                        " / " + it.dest + " for direct I/O; choose multiples or set direct: false",
                    it.dest);
        if (!pool || align > poolAlign) {
          drain();  // nothing may still use the old buffers
          pool = std::make_unique<BufferPool>(poolCount, blockSize, align);
          poolAlign = align;
          pool_ = pool.get();
        }
        const uint64_t blocks = (size + blockSize - 1) / blockSize;
        it.blockMd5.assign(blocks * 16, 0);
        auto owned = std::make_unique<Dest>();
        Dest* d = owned.get();
        d->index = cur;
        d->size = size;
        d->trimTail = direct && size % dg.logicalSectorSize != 0;
        d->file = std::move(dst);
        dests[cur] = std::move(owned);
        {
          std::lock_guard<std::mutex> lk(mu_);
          openDests_++;
        }
        for (uint64_t b = 0; b < blocks; b++) {
          if (failIndex_.load() != kNone) break;
          checkCancelled();
          int idx = pool->acquire();
          BufferLease lease{pool.get(), idx};
          uint8_t* buf = pool->data(idx);
          const uint64_t off = b * blockSize;
          const size_t n = static_cast<size_t>(std::min<uint64_t>(blockSize, size - off));
          ReadExact(*src, buf, n, off, sg.logicalSectorSize);
          // Direct writes go out in whole sectors: zero the pad, truncate to the exact size at the end.
          const size_t padded = direct ? RoundUp(n, dg.logicalSectorSize) : n;
          std::memset(buf + n, 0, padded - n);
          const size_t pieces = (padded + ioSize - 1) / ioSize;
          refs_[idx] = static_cast<int>(pieces) + 1;
          d->outstanding++;
          lease.index = -1;  // the tasks own the buffer now; the last one returns it
          {
            std::lock_guard<std::mutex> lk(hashMu_);
            hashQueue_.push_back(HashReq{d, idx, buf, n, it.blockMd5.data() + b * 16});
          }
          // One drain per queued block, so none is left behind; a drain takes every block queued by then.
          hashers.submit([this] { DrainHashes(); });
          for (size_t done = 0; done < padded; done += ioSize) {
            const size_t len = std::min<size_t>(ioSize, padded - done);
            const size_t payload = std::min<size_t>(done + len, n) - done;  // excludes the zero pad
            writers.submit([this, d, idx, p = buf + done, len, at = off + done, payload] {
              // Write worker: one piece of up to ioSize bytes.
              try {
                if (!Skip(d->index)) {
                  checkCancelled();
                  d->file->pwrite(p, len, at);
                  advance(payload, 0, payload);
                }
              } catch (...) {
                Fail(d->index, std::current_exception());
              }
              Unref(idx, d);
            });
          }
        }
        // Only once every block was submitted: a failure before this leaves d to close at the end, unreported.
        if (failIndex_.load() == kNone) BlockDone(d);
      }
    } catch (...) {
      Fail(cur, std::current_exception());
    }
    drain();
    checkCancelled();
    std::lock_guard<std::mutex> lk(mu_);
    if (error_) std::rethrow_exception(error_);
  }

  // JS thread.
  Napi::Value Result(Napi::Env env) override {
    return ItemsResult(env, items, [](Napi::Object&, const Item&) {});
  }
};

// JS thread: validates and copies the spec, then launches.
Napi::Value CopyFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fields r = Fields::Of(env, info[0], "spec");
  auto job = std::make_unique<CopyFilesJob>();
  Napi::Array items = ItemsArray(r);
  for (uint32_t i = 0; i < items.Length(); i++) {
    Fields it = r.Element(items, "items", i);
    CopyFilesJob::Item item;
    item.source = it.String("source");
    item.dest = it.String("dest");
    job->items.push_back(std::move(item));
  }
  job->queueDepth = QueueDepth(r);
  job->ioSize = IoSize(r);
  job->blockSize = BlockSize(r, job->ioSize);
  job->direct = r.Bool("direct", true);
  job->preallocate = r.Bool("preallocate", true);
  job->sync = r.Bool("sync", true);
  Napi::Value cb = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelArg(info);
  return Job::Launch(env, std::move(job), cb, cancel);
}

// ---- hashFilesJob --------------------------------------------------------------------------------

class HashFilesJob final : public Job {
 public:
  struct Item {
    std::string path;
    uint64_t offset = 0;
    bool hasLength = false;
    uint64_t length = 0;
    uint64_t bytes = 0;
    std::vector<uint8_t> blockMd5, sha256;
  };
  std::vector<Item> items;
  uint64_t blockSize = 4 * kMiB, queueDepth = 4, threads = 2;
  bool direct = true, sha = false;

 private:
  // An item between being opened (job thread) and being reported (job thread); workers read it.
  struct Open {
    size_t index = 0;
    std::unique_ptr<platform::File> file;
    uint64_t length = 0, blocks = 0;
    uint32_t sector = 512;
    uint64_t nextClaim = 0, nextSha = 0, blocksDone = 0;  // under mu_
    std::unique_ptr<crypto::Digest> sha;
  };
  static constexpr size_t kNone = SIZE_MAX;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Open>> window_;  // opened, not yet reported, in item order
  size_t readsInFlight_ = 0;
  bool openingDone_ = false;  // no item will be added to window_ any more
  bool stop_ = false;         // cancelled, or the job is unwinding: every thread leaves
  size_t failIndex_ = kNone;  // lowest item that failed; items before it still finish and are reported
  uint64_t failBlock_ = 0;
  std::exception_ptr error_;  // its error
  size_t batch_ = 1;          // blocks a worker claims, reads and hashes together

  // Any thread, under mu_: records a failure of item `index` at `block`; the lowest (index, block)
  // wins, so the error is the one a sequential run would have met first.
  void FailLocked(size_t index, uint64_t block, std::exception_ptr e) {
    if (index < failIndex_ || (index == failIndex_ && block < failBlock_)) {
      failIndex_ = index;
      failBlock_ = block;
      error_ = std::move(e);
    }
    if (cancelled()) stop_ = true;
    cv_.notify_all();
  }

  // Job thread: opens and validates item i.
  std::shared_ptr<Open> OpenItem(size_t i) {
    Item& it = items[i];
    auto o = std::make_shared<Open>();
    o->index = i;
    o->file = OpenSource(it.path, direct);
    platform::Geometry g = o->file->geometry();
    o->sector = g.logicalSectorSize;
    if (!it.hasLength && g.kind == platform::Kind::BlockDevice)
      ThrowCode("EINVAL", "hashFiles needs a length for block device " + it.path + "; give items[].length", it.path);
    // With an explicit length the size is not consulted (procfs/sysfs files report 0, a file may
    // grow): a range that ends early fails with ERR_CHANGED at the offset where it ended.
    if (!it.hasLength && it.offset > g.size)
      ThrowCode("EINVAL",
                "offset " + std::to_string(it.offset) + " is past the end of " + it.path + " (" +
                    std::to_string(g.size) + " bytes)",
                it.path, static_cast<int64_t>(it.offset));
    o->length = it.hasLength ? it.length : g.size - it.offset;
    if (o->file->direct() && o->length > 0 && it.offset % o->sector != 0)
      ThrowCode("ERR_ALIGNMENT",
                "offset " + std::to_string(it.offset) + " of " + it.path + " is not a multiple of its " +
                    std::to_string(o->sector) +
                    "-byte sector size, as direct reads need; align it or set direct: false",
                it.path, static_cast<int64_t>(it.offset));
    if (o->file->direct() && (o->sector > kBufferAlign || blockSize % o->sector != 0))
      ThrowCode("ERR_ALIGNMENT",
                "blockSize " + std::to_string(blockSize) + " is not a multiple of the " + std::to_string(o->sector) +
                    "-byte sector size of " + it.path + "; choose a multiple or set direct: false",
                it.path);
    o->blocks = (o->length + blockSize - 1) / blockSize;
    it.blockMd5.assign(o->blocks * 16, 0);
    if (sha) o->sha = std::make_unique<crypto::Digest>(crypto::Digest::SHA256);
    addTotals(o->length, 0);
    return o;
  }

  // Worker thread, under mu_: the first item in the window with an unclaimed block before failIndex_.
  Open* ClaimableLocked() {
    for (auto& o : window_) {
      if (o->index >= failIndex_) return nullptr;
      if (o->nextClaim < o->blocks) return o.get();
    }
    return nullptr;
  }

  // Worker thread: claims up to batch_ consecutive blocks in global (item, block) order (fewer when
  // fewer are open), reads them one after another (each worker is one read stream; at most
  // queueDepth streams read at once), MD5s them together on the multi-buffer path (md5_mb.h: one block
  // per SIMD lane), and feeds each item's SHA-256 in block order.
  void Worker(BufferPool& pool) {
    struct Claim {
      Open* o;
      uint64_t b;
      size_t n;
      uint8_t* buf;
    };
    struct Leases {  // this worker's buffers, returned however it leaves
      BufferPool& pool;
      std::vector<int> idx;
      ~Leases() {
        for (int i : idx) pool.release(i);
      }
    } leases{pool, {}};
    for (size_t k = 0; k < batch_; k++) {
      int idx = pool.acquire();
      if (idx < 0) return;
      leases.idx.push_back(idx);
    }
    std::vector<Claim> claims;
    for (;;) {
      claims.clear();
      {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
          if (stop_) return;
          Open* o = ClaimableLocked();
          if (o && readsInFlight_ < queueDepth) break;
          if (!o && openingDone_) return;
          cv_.wait(lk);
        }
        while (claims.size() < batch_) {
          Open* o = ClaimableLocked();
          if (!o) break;
          const uint64_t b = o->nextClaim++;
          const uint64_t off = b * blockSize;
          claims.push_back(Claim{o, b, static_cast<size_t>(std::min<uint64_t>(blockSize, o->length - off)),
                                 pool.data(leases.idx[claims.size()])});
        }
        readsInFlight_++;
      }
      size_t good = 0;  // blocks read; a failed read ends the batch (what follows is after the failure)
      for (; good < claims.size(); good++) {
        const Claim& c = claims[good];
        try {
          checkCancelled();
          ReadExact(*c.o->file, c.buf, c.n, items[c.o->index].offset + c.b * blockSize, c.o->sector);
        } catch (...) {
          std::lock_guard<std::mutex> lk(mu_);
          FailLocked(c.o->index, c.b, std::current_exception());
          break;
        }
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        readsInFlight_--;
      }
      cv_.notify_all();
      const uint8_t* ptrs[md5::kMaxLanes];
      size_t lens[md5::kMaxLanes];
      uint8_t digests[md5::kMaxLanes * md5::kDigestSize];
      for (size_t k = 0; k < good; k++) {
        ptrs[k] = claims[k].buf;
        lens[k] = claims[k].n;
      }
      md5::HashMany(ptrs, lens, good, digests);
      for (size_t k = 0; k < good; k++) {
        const Claim& c = claims[k];
        std::memcpy(items[c.o->index].blockMd5.data() + c.b * 16, digests + 16 * k, 16);
        std::unique_lock<std::mutex> lk(mu_);
        if (c.o->sha) {
          cv_.wait(lk, [&] { return stop_ || c.o->index >= failIndex_ || c.o->nextSha == c.b; });
          if (stop_ || c.o->index >= failIndex_) continue;
          // In block order, under the lock: other workers keep reading and hashing meanwhile, and the
          // update (a few ms per 4 MiB) is short next to the read.
          c.o->sha->Update(c.buf, c.n);
          c.o->nextSha++;
        }
        c.o->blocksDone++;
        lk.unlock();
        cv_.notify_all();
        advance(c.n);
      }
    }
  }

  // Job thread: reports a finished item.
  void Report(Open& o) {
    Item& it = items[o.index];
    it.bytes = o.length;
    if (o.sha) {
      it.sha256.resize(32);
      o.sha->Final(it.sha256.data());
    }
    advance(0, 1);
    emit([i = o.index, bytes = it.bytes, md5 = it.blockMd5, s = it.sha256](Napi::Env env) -> Napi::Value {
      Napi::Object e = Napi::Object::New(env);
      e.Set("type", "itemDone");
      e.Set("index", static_cast<double>(i));
      e.Set("bytes", static_cast<double>(bytes));
      e.Set("blockMd5", ToBuffer(env, md5));
      if (!s.empty()) e.Set("sha256", ToBuffer(env, s));
      return e;
    });
  }

  static constexpr size_t kBufferAlign = 4096;

 protected:
  // Job thread: opens items ahead (at most threads + queueDepth open at once: the descriptor and
  // digest bound) while `threads` workers hash their blocks, so many small files keep every worker
  // busy; reports items strictly in order. A failure of item k still reports items before k, as a
  // sequential run would, then rejects with k's error. Memory: threads × batch × blockSize aligned
  // bytes (batch below).
  void Run() override {
    setTotals(0, items.size());
    if (items.empty()) return;
    const size_t nThreads = static_cast<size_t>(threads);
    const size_t windowMax = nThreads + static_cast<size_t>(queueDepth);
    // Items still open when the job ends (those from the failed one on) close before Run returns.
    struct CloseRest {
      std::deque<std::shared_ptr<Open>>& w;
      ~CloseRest() { w.clear(); }
    } closeRest{window_};
    // Blocks per claim: enough to fill the SIMD lanes, within a budget of max(16, threads) buffers
    // (64 MiB of 4 MiB blocks on 2 threads); many threads each hash fewer blocks at once.
    batch_ = std::max<size_t>(1, std::min(md5::PreferredLanes(), std::max<size_t>(16, nThreads) / nThreads));
    BufferPool pool(nThreads * batch_, blockSize, kBufferAlign);
    // Leaves every worker and joins it on every exit path, before pool and window_ are destroyed.
    ThreadGroup workers([this, &pool] {
      {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
      }
      cv_.notify_all();
      pool.close();
    });
    for (size_t t = 0; t < nThreads; t++) workers.Start([this, &pool] { Worker(pool); });

    size_t nextOpen = 0;
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      // Report finished items in order; close them outside the lock.
      while (!window_.empty() && window_.front()->index < failIndex_ &&
             window_.front()->blocksDone == window_.front()->blocks) {
        std::shared_ptr<Open> done = std::move(window_.front());
        window_.pop_front();
        lk.unlock();
        Report(*done);
        done.reset();  // closes the descriptor
        lk.lock();
      }
      if (cancelled()) stop_ = true;
      if (stop_) break;
      const bool failedFront = failIndex_ != kNone && (window_.empty() || window_.front()->index >= failIndex_);
      if (failedFront) break;  // everything before the failed item has been reported
      if (failIndex_ == kNone && nextOpen < items.size() && window_.size() < windowMax) {
        const size_t i = nextOpen++;
        lk.unlock();
        std::shared_ptr<Open> o;
        std::exception_ptr err;
        try {
          checkCancelled();
          o = OpenItem(i);
        } catch (...) {
          err = std::current_exception();
        }
        lk.lock();
        if (err) {
          openingDone_ = true;
          FailLocked(i, 0, err);
        } else {
          window_.push_back(std::move(o));
          if (nextOpen == items.size()) openingDone_ = true;
          cv_.notify_all();
        }
        continue;
      }
      if (window_.empty() && nextOpen == items.size()) break;  // all reported
      // Woken by a finished block or a failure; the timeout only bounds how late a cancellation
      // that arrives while every worker waits on a slow read is noticed here.
      cv_.wait_for(lk, std::chrono::milliseconds(100));
    }
    lk.unlock();
    // Reads still in flight may fail at a lower block of the failed item: wait for them, then report
    // the error a sequential run would have met first.
    workers.JoinAll();
    std::exception_ptr err = error_;
    checkCancelled();
    if (err) std::rethrow_exception(err);
  }

  // JS thread.
  Napi::Value Result(Napi::Env env) override {
    return ItemsResult(env, items, [&](Napi::Object& o, const Item& item) {
      if (sha) o.Set("sha256", ToBuffer(env, item.sha256));
    });
  }
};

// JS thread.
Napi::Value HashFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fields r = Fields::Of(env, info[0], "spec");
  auto job = std::make_unique<HashFilesJob>();
  Napi::Array items = ItemsArray(r);
  for (uint32_t i = 0; i < items.Length(); i++) {
    Fields it = r.Element(items, "items", i);
    HashFilesJob::Item item;
    item.path = it.String("path");
    item.offset = it.Uint("offset", 0, 0, kMaxSafe, 1, false, "a non-negative integer");
    item.hasLength = !it.Get("length").IsUndefined();
    item.length = it.Uint("length", 0, 0, kMaxSafe, 1, false, "a non-negative integer");
    job->items.push_back(std::move(item));
  }
  job->blockSize =
      r.Uint("blockSize", 4 * kMiB, 4096, 256 * kMiB, 4096, false, "a multiple of 4096 from 4096 to 268435456");
  job->direct = r.Bool("direct", true);
  job->queueDepth = QueueDepth(r);
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  job->threads = r.Uint("threads", hw, 1, 64, 1, false, "an integer from 1 to 64");
  job->sha = r.Bool("sha256", false);
  Napi::Value cb = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelArg(info);
  return Job::Launch(env, std::move(job), cb, cancel);
}

// ---- writeRawJob ---------------------------------------------------------------------------------

// xorshift64*: fast, deterministic filler for the 'random' pattern (benchmarks; not cryptographic).
void FillRandom(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1DULL;
    std::memcpy(p + i, &v, 8);
  }
  for (; i < n; i++) p[i] = static_cast<uint8_t>(x >> (i % 8 * 8));
}

class WriteRawJob final : public Job {
 public:
  std::string target, sourcePath, pattern;
  uint64_t offset = 0, length = 0, queueDepth = 4, ioSize = 4 * kMiB;
  bool direct = true, sync = true;
  uint64_t written = 0;

 protected:
  // Job thread (reads or generates, then hands buffers to the queueDepth write workers).
  void Run() override {
    setTotals(length, 0);
    std::unique_ptr<platform::File> src;
    platform::Geometry sg;
    if (!sourcePath.empty()) {
      src = OpenSource(sourcePath, direct);
      sg = src->geometry();
      if (sg.size < length)
        ThrowCode("EINVAL",
                  "source " + sourcePath + " has " + std::to_string(sg.size) + " bytes, fewer than the " +
                      std::to_string(length) + " to write",
                  sourcePath);
    }
    platform::OpenOptions o;
    o.write = o.create = true;
    o.direct = direct;
    auto dst = platform::Open(target, o);
    platform::Geometry dg = dst->geometry();
    const uint32_t sector = dg.logicalSectorSize;
    const uint64_t end = offset + length;
    if (direct && offset % sector != 0)
      ThrowCode("ERR_ALIGNMENT",
                "offset " + std::to_string(offset) + " on " + target + " is not a multiple of its " +
                    std::to_string(sector) + "-byte logical sector size",
                target, static_cast<int64_t>(offset));
    if (dg.kind == platform::Kind::BlockDevice && end > dg.size)
      ThrowCode("ENOSPC",
                "writing " + std::to_string(length) + " bytes at offset " + std::to_string(offset) + " needs " +
                    std::to_string(end) + " bytes, but " + target + " has " + std::to_string(dg.size),
                target, static_cast<int64_t>(offset));
    const uint64_t origSize = dg.size;
    const size_t align = BufferAlignment({&sg, &dg});
    if (direct && ioSize % align != 0)  // a padded tail must fit in one pool buffer
      ThrowCode("ERR_ALIGNMENT",
                "ioSize " + std::to_string(ioSize) + " is not a multiple of the " + std::to_string(align) +
                    "-byte sector size of " + target + "; choose a multiple or set direct: false",
                target);
    BufferPool pool(queueDepth + 1, ioSize, align);
    Workers workers(queueDepth, this);
    {
      DrainGuard drain(workers);
      for (uint64_t done = 0; done < length; done += ioSize) {
        checkCancelled();
        workers.check();
        int idx = pool.acquire();
        BufferLease lease{&pool, idx};
        uint8_t* buf = pool.data(idx);
        const size_t n = static_cast<size_t>(std::min<uint64_t>(ioSize, length - done));
        const uint64_t off = offset + done;
        if (src)
          ReadExact(*src, buf, n, done, sg.logicalSectorSize);
        else if (pattern == "zero")
          std::memset(buf, 0, n);
        else
          FillRandom(buf, n, off);
        size_t padded = n;
        if (direct && n % sector != 0) {
          // Unaligned tail: keep whatever the target holds after `end` in the last sector.
          padded = RoundUp(n, sector);
          const size_t last = padded - sector;  // buffer offset of the last sector
          AlignedBuffer old(sector, BufferAlignment({&dg}));
          size_t got = dst->pread(old.data(), sector, off + last);  // short past the end of a file
          std::memset(old.data() + got, 0, sector - got);
          std::memcpy(buf + n, old.data() + (n - last), padded - n);
        }
        lease.index = -1;
        platform::File* d = dst.get();
        workers.submit([this, &pool, &workers, idx, buf, n, padded, off, d] {
          // Worker thread: one write of up to ioSize bytes.
          BufferLease l{&pool, idx};
          if (workers.aborted()) return;
          checkCancelled();
          d->pwrite(buf, padded, off);
          advance(n, 0, n);
        });
      }
      workers.wait();
    }
    if (direct && length % sector != 0 && dg.kind == platform::Kind::File) dst->truncate(std::max(origSize, end));
    if (sync) dst->sync();
    written = length;
  }

  // JS thread.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("bytes", static_cast<double>(written));
    return r;
  }
};

// JS thread.
Napi::Value WriteRaw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Fields r = Fields::Of(env, info[0], "spec");
  auto job = std::make_unique<WriteRawJob>();
  job->target = r.String("target");
  Napi::Value s = r.Get("source");
  if (!s.IsObject() || s.IsArray() || s.IsFunction())
    ThrowType(env, "Expected an object with path or pattern for spec.source");
  Fields src{env, s.As<Napi::Object>(), "spec.source"};
  if (!src.Get("path").IsUndefined()) {
    job->sourcePath = src.String("path");
  } else {
    Napi::Value p = src.Get("pattern");
    std::string pat = p.IsString() ? p.As<Napi::String>().Utf8Value() : "";
    if (pat != "zero" && pat != "random") ThrowType(env, "Expected 'zero' or 'random' for spec.source.pattern");
    job->pattern = pat;
  }
  job->offset = r.Uint("offset", 0, 0, kMaxSafe, 1, false, "a non-negative integer");
  job->length = r.Uint("length", 0, 0, kMaxSafe, 1, true, "a non-negative integer");
  job->queueDepth = QueueDepth(r);
  job->ioSize = IoSize(r);
  job->direct = r.Bool("direct", true);
  job->sync = r.Bool("sync", true);
  Napi::Value cb = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelArg(info);
  return Job::Launch(env, std::move(job), cb, cancel);
}

}  // namespace

void InitIoJobs(Napi::Env env, Napi::Object exports) {
  exports.Set("copyFilesJob", Napi::Function::New(env, CopyFiles, "copyFilesJob"));
  exports.Set("hashFilesJob", Napi::Function::New(env, HashFiles, "hashFilesJob"));
  exports.Set("writeRawJob", Napi::Function::New(env, WriteRaw, "writeRawJob"));
}

}  // namespace ds
