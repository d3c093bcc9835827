// restoreJob (binding.d.ts "Restore / verify pipeline", docs/format-packs.md): the job thread walks
// the files in spec order, opens each destination and queues its chunks (a bounded queue: memory and
// open files stay bounded); `threads` workers pread each blob, decode it (decrypt, decompress, check
// the id) and pwrite it at its place in the destination, holes skipped so the file stays sparse. The
// worker that finishes a file's last chunk truncates it to its size (or, when a chunk was bad, removes
// it) and emits the file events that are due, in spec order.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "blob.h"
#include "chunk_ref.h"
#include "crypto.h"
#include "job.h"
#include "modules.h"
#include "pack_format.h"
#include "platform.h"
#include "spec_args.h"

namespace ds {

namespace {

namespace fs = std::filesystem;
using unpack::ChunkRef;
using unpack::ErrorWithPlace;
using unpack::GetChunkRef;
using unpack::kPollMs;

struct RestoreFile {
  std::string dest;
  uint64_t size;
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  std::vector<ChunkRef> chunks;
};

// A file being restored; shared by the workers writing its chunks.
struct ActiveFile {
  uint32_t index;
  std::unique_ptr<platform::File> out;
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // data ranges [begin, end) of the file, in order
  std::vector<uint64_t> segLogical;                     // content offset where each segment starts
  std::mutex mu;
  uint32_t remaining = 0;
  bool created = false;  // out was opened (O_CREAT): a failed file is removed
  bool failed = false;
  std::string code, message, pack;
  int64_t offset = -1;
};

struct Task {
  std::shared_ptr<ActiveFile> file;
  uint32_t chunk;
  uint64_t logical;  // content offset of the chunk (holes excluded)
};

class RestoreJob final : public Job {
 public:
  RestoreJob(Napi::Env env, const Napi::CallbackInfo& info) {
    Napi::Object spec = args::GetObject(env, info[0], "spec");
    Napi::Array packs = args::GetArray(env, spec.Get("packs"), "spec.packs");
    for (uint32_t i = 0; i < packs.Length(); i++)
      packs_.push_back(args::GetString(env, packs.Get(i), "spec.packs[" + std::to_string(i) + "]"));
    Napi::Array files = args::GetArray(env, spec.Get("files"), "spec.files");
    uint64_t total = 0;
    for (uint32_t i = 0; i < files.Length(); i++) {
      std::string at = "spec.files[" + std::to_string(i) + "]";
      Napi::Object f = args::GetObject(env, files.Get(i), at);
      RestoreFile rf;
      rf.dest = args::GetString(env, f.Get("dest"), at + ".dest");
      rf.size = static_cast<uint64_t>(args::GetInt(env, f.Get("size"), at + ".size", 0, args::kMaxSafe));
      Napi::Value hv = f.Get("holes");
      if (!hv.IsUndefined()) {
        Napi::Array hs = args::GetArray(env, hv, at + ".holes");
        for (uint32_t j = 0; j < hs.Length(); j++) {
          std::string hat = at + ".holes[" + std::to_string(j) + "]";
          Napi::Value h = hs.Get(j);
          if (!h.IsArray() || h.As<Napi::Array>().Length() != 2)
            ThrowType(env, "Expected an [offset, length] pair for " + hat);
          Napi::Array ha = h.As<Napi::Array>();
          rf.holes.emplace_back(args::GetInt(env, ha.Get(0u), hat + "[0]", 0, args::kMaxSafe),
                                args::GetInt(env, ha.Get(1u), hat + "[1]", 0, args::kMaxSafe));
        }
      }
      Napi::Array cs = args::GetArray(env, f.Get("chunks"), at + ".chunks");
      rf.chunks.reserve(cs.Length());
      for (uint32_t j = 0; j < cs.Length(); j++)
        rf.chunks.push_back(GetChunkRef(env, cs.Get(j), at + ".chunks[" + std::to_string(j) + "]", true,
                                        static_cast<uint32_t>(packs_.size())));
      total += rf.size;
      files_.push_back(std::move(rf));
    }
    keys_ = args::GetKeys(env, spec.Get("keys"), "spec.keys");
    threads_ = static_cast<int>(args::GetInt(env, spec.Get("threads"), "spec.threads", 1, 256));
    setTotals(total, files_.size());
    done_.assign(files_.size(), 0);
  }

 protected:
  // Job thread: dispatches files in order; workers do the rest.
  void Run() override {
    ThreadGroup workers([this] { CloseQueue(); });
    for (int i = 0; i < threads_; i++) workers.Start([this] { WorkerMain(); });
    for (uint32_t i = 0; i < files_.size() && !cancelled(); i++) Dispatch(i);
    workers.JoinAll();
    checkCancelled();
  }

  // JS thread.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("filesOk", static_cast<double>(filesOk_));
    r.Set("filesFailed", static_cast<double>(filesFailed_));
    r.Set("bytes", static_cast<double>(bytes_.load()));
    return r;
  }

 private:
  // Job thread: checks file i's layout, opens its destination and queues its chunks.
  void Dispatch(uint32_t i) {
    RestoreFile& rf = files_[i];
    auto af = std::make_shared<ActiveFile>();
    af->index = i;
    // Data segments: [0, size) minus the holes, which must be sorted, disjoint and inside the file.
    uint64_t pos = 0, content = 0;
    bool layoutOk = true;
    for (auto& [off, len] : rf.holes) {
      if (off < pos || off + len > rf.size) {
        layoutOk = false;
        break;
      }
      if (off > pos) {
        af->segments.emplace_back(pos, off);
        af->segLogical.push_back(content);
        content += off - pos;
      }
      pos = off + len;
    }
    if (pos < rf.size) {
      af->segments.emplace_back(pos, rf.size);
      af->segLogical.push_back(content);
      content += rf.size - pos;
    }
    uint64_t sum = 0;
    for (const ChunkRef& c : rf.chunks) sum += c.rawLength;
    if (!layoutOk || sum != content) {
      Finish(af, false, "ERR_CORRUPT",
             "the index describes " + rf.dest + " inconsistently: its chunks hold " + std::to_string(sum) +
                 " bytes but its size minus holes is " + std::to_string(content) +
                 (layoutOk ? "" : " (holes overlap or lie outside the file)") + "; run check on the repository",
             "", -1, /*created=*/false);
      return;
    }
    if (rf.chunks.empty()) {
      try {
        OpenDest(*af);
      } catch (const Failure& f) {
        Finish(af, false, f.error().code, f.error().message, "", -1, false);
        return;
      }
      Complete(af);
      return;
    }
    // Files with chunks are created by the worker that handles their first task: creating thousands of
    // small files on this one thread was a serial bound (ext4 inode allocation, ~150 us per create).
    af->remaining = static_cast<uint32_t>(rf.chunks.size());
    uint64_t logical = 0;
    for (uint32_t c = 0; c < rf.chunks.size(); c++) {
      if (!Push(Task{af, c, logical})) {
        // Cancelled before every chunk was queued: count the rest as done so the file is cleaned up.
        std::unique_lock<std::mutex> lk(af->mu);
        af->remaining -= static_cast<uint32_t>(rf.chunks.size()) - c;
        if (af->remaining == 0) Complete(af, &lk);
        return;
      }
      logical += rf.chunks[c].rawLength;
    }
  }

  bool Push(Task t) {
    std::unique_lock<std::mutex> lk(qmu_);
    while (queue_.size() >= static_cast<size_t>(threads_) * 4) {
      if (cancelled()) return false;
      cvSpace_.wait_for(lk, std::chrono::milliseconds(kPollMs));
    }
    queue_.push_back(std::move(t));
    cvTask_.notify_one();
    return true;
  }

  void CloseQueue() {
    {
      std::lock_guard<std::mutex> lk(qmu_);
      closed_ = true;
    }
    cvTask_.notify_all();
  }

  // Worker thread.
  void WorkerMain() {
    blob::Codec codec;
    std::vector<uint8_t> blobBuf, raw;
    for (;;) {
      Task t;
      {
        std::unique_lock<std::mutex> lk(qmu_);
        cvTask_.wait(lk, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        t = std::move(queue_.front());
        queue_.pop_front();
      }
      cvSpace_.notify_one();
      ActiveFile& af = *t.file;
      const RestoreFile& rf = files_[af.index];
      const ChunkRef& c = rf.chunks[t.chunk];
      bool skip;
      {
        std::lock_guard<std::mutex> lk(af.mu);
        skip = af.failed || cancelled();
      }
      if (!skip) {
        try {
          std::shared_ptr<platform::File> pf = PackFile(c.pack);
          blobBuf.resize(c.length);
          size_t got = pf->pread(blobBuf.data(), c.length, c.offset);
          if (got != c.length)
            ThrowCode("ERR_CORRUPT", "the pack ends at byte " + std::to_string(c.offset + got) + ", inside a blob of " +
                                         std::to_string(c.length) + " bytes (truncated pack)");
          raw.resize(std::max<size_t>(c.rawLength, 1));
          size_t n = codec.Decode(keys_, c.id, blobBuf.data(), c.length, raw.data(), c.rawLength);
          if (n != c.rawLength)
            ThrowCode("ERR_CORRUPT", "blob decodes to " + std::to_string(n) + " bytes but the index says " +
                                         std::to_string(c.rawLength));
          {
            std::lock_guard<std::mutex> lk(af.mu);
            if (!af.out) {
              try {
                OpenDest(af);
              } catch (const Failure& f) {  // not about a chunk: no pack or offset in the outcome
                if (!af.failed) {
                  af.failed = true;
                  af.code = f.error().code;
                  af.message = f.error().message;
                }
              }
            }
            skip = af.failed;
          }
          if (!skip) WriteContent(af, t.logical, raw.data(), n);
          bytes_ += n;
          advance(n);
        } catch (const Failure& f) {
          std::lock_guard<std::mutex> lk(af.mu);
          if (!af.failed) {
            af.failed = true;
            af.code = f.error().code;
            af.pack = packs_[c.pack];
            af.offset = static_cast<int64_t>(c.offset);
            af.message = "chunk " + std::to_string(t.chunk) + " of " + rf.dest +
                         " could not be restored: " + ErrorWithPlace(f.error(), af.pack, c.offset);
          }
        }
      }
      std::unique_lock<std::mutex> lk(af.mu);
      if (--af.remaining == 0) Complete(t.file, &lk);
    }
  }

  // Job or worker thread (holding af.mu when others may share af): creates the destination.
  void OpenDest(ActiveFile& af) {
    platform::OpenOptions oo;
    oo.write = true;
    oo.create = true;
    oo.truncate = true;
    oo.direct = false;
    af.out = platform::Open(files_[af.index].dest, oo);
    af.created = true;
  }

  // Worker thread: writes content bytes [logical, logical + n) into the file's data segments.
  void WriteContent(ActiveFile& af, uint64_t logical, const uint8_t* p, size_t n) {
    size_t s = std::upper_bound(af.segLogical.begin(), af.segLogical.end(), logical) - af.segLogical.begin() - 1;
    while (n > 0) {
      uint64_t within = logical - af.segLogical[s];
      uint64_t room = af.segments[s].second - af.segments[s].first - within;
      size_t take = static_cast<size_t>(std::min<uint64_t>(room, n));
      af.out->pwrite(p, take, af.segments[s].first + within);
      p += take;
      n -= take;
      logical += take;
      s++;
    }
  }

  // Any thread, once every chunk of the file is handled (lk holds af->mu when given): truncate to size
  // and close, or remove a failed/cancelled partial file; then emit what is due.
  void Complete(const std::shared_ptr<ActiveFile>& af, std::unique_lock<std::mutex>* lk = nullptr) {
    bool failed = af->failed || cancelled();
    std::string code = af->code, message = af->message, pack = af->pack;
    int64_t offset = af->offset;
    if (lk) lk->unlock();
    // The last pwrite already set the size unless the file ends in a hole (one ftruncate per file saved).
    const uint64_t size = files_[af->index].size;
    if (!failed && (af->segments.empty() || af->segments.back().second < size)) {
      try {
        af->out->truncate(size);
      } catch (const Failure& f) {
        failed = true;
        code = f.error().code;
        message = f.error().message;
      }
    }
    af->out.reset();
    if (cancelled()) {
      std::error_code ec;
      fs::remove(files_[af->index].dest, ec);
      return;  // a cancelled job reports no more files
    }
    Finish(af, !failed, code, message, pack, offset, af->created);
  }

  // Any thread: records the outcome of file af->index and emits every due event in spec order.
  void Finish(const std::shared_ptr<ActiveFile>& af, bool ok, const std::string& code, const std::string& message,
              const std::string& pack, int64_t offset, bool created) {
    if (!ok && created) {
      std::error_code ec;
      fs::remove(files_[af->index].dest, ec);  // never leave a partial file that looks restored
    }
    std::lock_guard<std::mutex> lk(emitMu_);
    done_[af->index] = ok ? 1 : 2;
    if (!ok) outcomes_[af->index] = Outcome{code, message, pack, offset};
    while (emitHead_ < done_.size() && done_[emitHead_] != 0) {
      uint32_t index = emitHead_++;
      bool good = done_[index] == 1;
      good ? filesOk_++ : filesFailed_++;
      std::shared_ptr<Outcome> out;
      if (!good) {
        out = std::make_shared<Outcome>(std::move(outcomes_[index]));
        outcomes_.erase(index);
      }
      advance(0, 1);
      emit([index, good, out](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("type", "file");
        o.Set("index", index);
        o.Set("ok", good);
        if (!good) {
          Napi::Object e = Napi::Object::New(env);
          e.Set("code", out->code);
          e.Set("message", out->message);
          if (!out->pack.empty()) e.Set("pack", out->pack);
          if (out->offset >= 0) e.Set("offset", static_cast<double>(out->offset));
          o.Set("error", e);
        }
        return o;
      });
    }
  }

  // Worker thread: an open pack, from a small cache (files stay open across chunks; 160k packs would
  // exceed the descriptor limit, so the least recently used is closed beyond kOpenPacks).
  std::shared_ptr<platform::File> PackFile(uint32_t idx) {
    constexpr size_t kOpenPacks = 32;
    std::lock_guard<std::mutex> lk(packMu_);
    auto it = open_.find(idx);
    if (it != open_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
    platform::OpenOptions oo;
    oo.direct = false;
    std::shared_ptr<platform::File> f(platform::Open(packs_[idx], oo));
    lru_.push_front(idx);
    open_[idx] = {f, lru_.begin()};
    if (open_.size() > kOpenPacks) {
      open_.erase(lru_.back());  // a worker still reading it keeps it alive through its shared_ptr
      lru_.pop_back();
    }
    return f;
  }

  struct Outcome {
    std::string code, message, pack;
    int64_t offset;
  };

  std::vector<std::string> packs_;
  std::vector<RestoreFile> files_;
  blob::Keys keys_;
  int threads_ = 1;

  std::mutex qmu_;
  std::condition_variable cvTask_, cvSpace_;
  std::deque<Task> queue_;
  bool closed_ = false;

  std::mutex packMu_;
  std::list<uint32_t> lru_;
  std::unordered_map<uint32_t, std::pair<std::shared_ptr<platform::File>, std::list<uint32_t>::iterator>> open_;

  std::mutex emitMu_;
  std::vector<uint8_t> done_;  // 0 pending, 1 ok, 2 failed
  std::unordered_map<uint32_t, Outcome> outcomes_;
  uint32_t emitHead_ = 0;
  uint64_t filesOk_ = 0, filesFailed_ = 0;
  std::atomic<uint64_t> bytes_{0};
};

// JS thread.
Napi::Value RestoreJobFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value onProgress = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelToken::FromValue(env, info[2], "cancel");
  return Job::Launch(env, std::make_unique<RestoreJob>(env, info), onProgress, cancel);
}

}  // namespace

void InitRestore(Napi::Env env, Napi::Object exports) {
  exports.Set("restoreJob", Napi::Function::New(env, RestoreJobFn, "restoreJob"));
}

}  // namespace ds
