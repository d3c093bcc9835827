// Restore and verify pipelines (binding.d.ts "Restore / verify pipeline", docs/format-packs.md).
//
// restoreJob: the job thread walks the files in spec order, opens each destination and queues its
// chunks (a bounded queue: memory and open files stay bounded); `threads` workers pread each blob,
// decode it (decrypt, decompress, check the id) and pwrite it at its place in the destination, holes
// skipped so the file stays sparse. The worker that finishes a file's last chunk truncates it to its
// size (or, when a chunk was bad, removes it) and emits the file events that are due, in spec order.
//
// verifyPacksJob: `threads` workers each take whole packs; a pack is read once, front to back, its
// block MD5s computed on the way (its name derives from them, pack::Name), every listed blob decoded, then its trailer and header checked against
// the listed entries. Every problem becomes a 'problem' event; packs are reported in spec order.
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
#include "crypto.h"
#include "job.h"
#include "modules.h"
#include "pack_format.h"
#include "platform.h"
#include "spec_args.h"

namespace ds {

namespace {

namespace fs = std::filesystem;

constexpr int kPollMs = 50;
constexpr int64_t kMaxBlob = 1LL << 30;  // a single chunk/blob is at most 1 GiB (chunker.max bound)
constexpr size_t kReadSize = 8 << 20;

struct ChunkRef {
  uint32_t pack;
  uint64_t offset;
  uint32_t length;
  uint32_t rawLength;
  uint8_t id[blob::kIdSize];
};

// Reads {offset, length, rawLength, id} (and pack when withPack) of one chunk reference.
ChunkRef GetChunkRef(Napi::Env env, Napi::Value v, const std::string& at, bool withPack, uint32_t packs) {
  Napi::Object o = args::GetObject(env, v, at);
  ChunkRef c{};
  if (withPack) {
    if (packs == 0) ThrowType(env, "Expected an index into spec.packs for " + at + ".pack but spec.packs is empty");
    c.pack = static_cast<uint32_t>(args::GetInt(env, o.Get("pack"), at + ".pack", 0, packs - 1));
  }
  c.offset = static_cast<uint64_t>(args::GetInt(env, o.Get("offset"), at + ".offset", 0, args::kMaxSafe));
  c.length = static_cast<uint32_t>(args::GetInt(env, o.Get("length"), at + ".length", 0, kMaxBlob));
  c.rawLength = static_cast<uint32_t>(args::GetInt(env, o.Get("rawLength"), at + ".rawLength", 0, kMaxBlob));
  args::Bytes id = args::GetBytes(env, o.Get("id"), at + ".id", blob::kIdSize);
  std::memcpy(c.id, id.data, blob::kIdSize);
  return c;
}

std::string ErrorWithPlace(const NativeError& e, const std::string& pack, uint64_t offset) {
  return e.message + " (pack " + pack + ", offset " + std::to_string(offset) + ")";
}

// ============================== restoreJob ==========================================================

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
    for (uint32_t i = 0; i < packs.Length(); i++) packs_.push_back(args::GetString(env, packs.Get(i), "spec.packs[" + std::to_string(i) + "]"));
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
          if (!h.IsArray() || h.As<Napi::Array>().Length() != 2) ThrowType(env, "Expected an [offset, length] pair for " + hat);
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
                 " bytes but its size minus holes is " + std::to_string(content) + (layoutOk ? "" : " (holes overlap or lie outside the file)") +
                 "; run check on the repository",
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
            ThrowCode("ERR_CORRUPT", "blob decodes to " + std::to_string(n) + " bytes but the index says " + std::to_string(c.rawLength));
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
            af.message = "chunk " + std::to_string(t.chunk) + " of " + rf.dest + " could not be restored: " +
                         ErrorWithPlace(f.error(), af.pack, c.offset);
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

// ============================== verifyPacksJob ======================================================

struct VerifyPack {
  std::string path, name;
  std::vector<ChunkRef> entries;
};

struct Problem {
  uint64_t offset, length;
  bool hasId = false;
  uint8_t id[blob::kIdSize];
  std::string code, message;
};

struct PackReport {
  std::vector<Problem> problems;
  uint64_t ok = 0, bad = 0;
  bool hashed = false;   // the whole file was read: bytes and blockMd5 are its digests
  uint64_t bytes = 0;
  std::string blockMd5;  // 16 bytes per block, in order
};

class VerifyJob final : public Job {
 public:
  VerifyJob(Napi::Env env, const Napi::CallbackInfo& info) {
    Napi::Object spec = args::GetObject(env, info[0], "spec");
    Napi::Array packs = args::GetArray(env, spec.Get("packs"), "spec.packs");
    for (uint32_t i = 0; i < packs.Length(); i++) {
      std::string at = "spec.packs[" + std::to_string(i) + "]";
      Napi::Object p = args::GetObject(env, packs.Get(i), at);
      VerifyPack vp;
      vp.path = args::GetString(env, p.Get("path"), at + ".path");
      vp.name = args::GetString(env, p.Get("name"), at + ".name");
      Napi::Array es = args::GetArray(env, p.Get("entries"), at + ".entries");
      for (uint32_t j = 0; j < es.Length(); j++)
        vp.entries.push_back(GetChunkRef(env, es.Get(j), at + ".entries[" + std::to_string(j) + "]", false, 0));
      packs_.push_back(std::move(vp));
    }
    keys_ = args::GetKeys(env, spec.Get("keys"), "spec.keys");
    threads_ = static_cast<int>(args::GetInt(env, spec.Get("threads"), "spec.threads", 1, 256));
    blockSize_ = static_cast<uint64_t>(args::GetOptInt(env, spec, "blockSize", "spec.blockSize", 4096, 1 << 30, 4 << 20));
    setTotals(0, packs_.size());
    reports_.resize(packs_.size());
    digests_.resize(packs_.size());
    done_.assign(packs_.size(), 0);
  }

 protected:
  // Job thread.
  void Run() override {
    ThreadGroup workers;
    int n = std::min<int>(threads_, static_cast<int>(std::max<size_t>(packs_.size(), 1)));
    for (int i = 0; i < n; i++) workers.Start([this] { WorkerMain(); });
    workers.Wait();
    if (fatal_) throw Failure(*fatal_);
    checkCancelled();
  }

  // JS thread.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("chunksOk", static_cast<double>(chunksOk_));
    r.Set("chunksBad", static_cast<double>(chunksBad_));
    r.Set("packsBad", static_cast<double>(packsBad_));
    r.Set("bytes", static_cast<double>(bytes_.load()));
    // The block MD5s read along the way, so a caller comparing them with its index need not read the
    // packs a second time (check --read-data). null for a pack that could not be read to its end.
    Napi::Array d = Napi::Array::New(env, digests_.size());
    for (size_t i = 0; i < digests_.size(); i++) {
      if (!digests_[i].present) {
        d.Set(i, env.Null());
        continue;
      }
      Napi::Object o = Napi::Object::New(env);
      o.Set("bytes", static_cast<double>(digests_[i].bytes));
      o.Set("blockMd5", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(digests_[i].blockMd5.data()), digests_[i].blockMd5.size()));
      d.Set(i, o);
    }
    r.Set("packs", d);
    return r;
  }

 private:
  // Worker thread.
  void WorkerMain() {
    blob::Codec codec;
    crypto::Gcm gcm;
    std::vector<uint8_t> buf, raw;
    for (;;) {
      size_t i = next_++;
      if (i >= packs_.size() || cancelled()) return;
      PackReport rep;
      try {
        VerifyOne(packs_[i], rep, codec, gcm, buf, raw);
      } catch (const Failure& f) {
        if (f.error().code == "ERR_CANCELLED") return;
        // The pack itself could not be read (missing, unreadable): one problem for the whole pack.
        rep.problems.push_back(Problem{0, 0, false, {}, f.error().code, f.error().message});
      } catch (const std::bad_alloc&) {
        std::lock_guard<std::mutex> lk(emitMu_);
        if (!fatal_) fatal_ = std::make_unique<NativeError>(NativeError{"ENOMEM", "Out of memory verifying packs", "", 0, "", -1});
        return;
      }
      Report(i, std::move(rep));
    }
  }

  void Add(PackReport& rep, const VerifyPack& p, uint64_t offset, uint64_t length, const uint8_t* id,
           const std::string& code, const std::string& message) {
    Problem pr{offset, length, id != nullptr, {}, code, message + " (pack " + p.path + ", offset " + std::to_string(offset) + ")"};
    if (id) std::memcpy(pr.id, id, blob::kIdSize);
    rep.problems.push_back(std::move(pr));
  }

  // Worker thread: every check of one pack; problems go to rep, never thrown.
  void VerifyOne(const VerifyPack& p, PackReport& rep, blob::Codec& codec, crypto::Gcm& gcm, std::vector<uint8_t>& buf,
                 std::vector<uint8_t>& raw) {
    platform::OpenOptions oo;
    oo.direct = false;
    std::unique_ptr<platform::File> f = platform::Open(p.path, oo);
    const uint64_t size = f->geometry().size;
    crypto::BlockMd5 md5(blockSize_);  // the name is derived from the block MD5s (pack::Name)
    uint64_t pos = 0;
    auto hashTo = [&](uint64_t end) {  // hashes [pos, end) that belongs to no listed blob
      while (pos < end) {
        checkCancelled();
        size_t want = static_cast<size_t>(std::min<uint64_t>(kReadSize, end - pos));
        if (buf.size() < want) buf.resize(want);
        size_t got = f->pread(buf.data(), want, pos);
        md5.Update(buf.data(), got);
        bytes_ += got;
        advance(got);
        pos += got;
        if (got < want) break;  // the file shrank under us; the name check below will fail
      }
    };

    std::vector<const ChunkRef*> order;
    for (const ChunkRef& e : p.entries) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const ChunkRef* a, const ChunkRef* b) { return a->offset < b->offset; });
    for (const ChunkRef* e : order) {
      checkCancelled();
      if (e->offset < pos || e->offset + e->length > size) {
        rep.bad++;
        Add(rep, p, e->offset, e->length, e->id, "ERR_CORRUPT",
            e->offset + e->length > size ? "blob of " + std::to_string(e->length) + " bytes lies beyond the end of the " +
                                               std::to_string(size) + "-byte pack (truncated pack or wrong index)"
                                         : "blob overlaps the blob before it (the index is wrong)");
        continue;
      }
      hashTo(e->offset);
      if (buf.size() < e->length) buf.resize(e->length);
      size_t got = f->pread(buf.data(), e->length, e->offset);
      md5.Update(buf.data(), got);
      bytes_ += got;
      advance(got);
      pos = e->offset + got;
      try {
        if (got != e->length) ThrowCode("ERR_CORRUPT", "the pack ended inside this blob while it was read");
        raw.resize(std::max<size_t>(e->rawLength, 1));
        size_t n = codec.Decode(keys_, e->id, buf.data(), e->length, raw.data(), e->rawLength);
        if (n != e->rawLength)
          ThrowCode("ERR_CORRUPT", "blob decodes to " + std::to_string(n) + " bytes but the index says " + std::to_string(e->rawLength));
        rep.ok++;
      } catch (const Failure& fl) {
        rep.bad++;
        Add(rep, p, e->offset, e->length, e->id, fl.error().code, fl.error().message);
      }
    }
    hashTo(size);
    md5.Finish();
    rep.hashed = true;
    rep.bytes = pos;
    rep.blockMd5 = md5.Digests();
    std::string hex = pack::Name(pos, blockSize_, rep.blockMd5);
    if (hex != p.name)
      Add(rep, p, 0, size, nullptr, "ERR_CORRUPT",
          "content name of the pack file (from its block MD5s) is " + hex + " but its name is " + p.name +
              " (the file was modified or renamed)");

    // Trailer and header: the pack must describe exactly the listed blobs and nothing else.
    if (size < pack::kTrailerSize + pack::kHeaderOverhead) {
      Add(rep, p, 0, size, nullptr, "ERR_CORRUPT", "pack of " + std::to_string(size) + " bytes is too short to hold a header and trailer");
      return;
    }
    uint8_t trailer[pack::kTrailerSize];
    const uint64_t trailerAt = size - pack::kTrailerSize;
    uint32_t headerLen;
    std::vector<pack::Entry> header;
    try {
      if (f->pread(trailer, sizeof trailer, trailerAt) != sizeof trailer) ThrowCode("ERR_CORRUPT", "pack trailer could not be read");
      headerLen = pack::ParseTrailer(trailer, size);
    } catch (const Failure& fl) {
      Add(rep, p, trailerAt, pack::kTrailerSize, nullptr, fl.error().code, fl.error().message);
      return;
    }
    const uint64_t headerAt = trailerAt - headerLen;
    try {
      std::vector<uint8_t> h(headerLen);
      if (f->pread(h.data(), headerLen, headerAt) != headerLen) ThrowCode("ERR_CORRUPT", "pack header could not be read");
      header = pack::OpenHeader(h.data(), h.size(), keys_.data, gcm);
    } catch (const Failure& fl) {
      Add(rep, p, headerAt, headerLen, nullptr, fl.error().code, fl.error().message);
      return;
    }
    uint64_t expect = 0;
    for (const pack::Entry& e : header) {
      if (e.offset != expect) {
        Add(rep, p, headerAt, headerLen, nullptr, "ERR_CORRUPT",
            "pack header lists a blob at offset " + std::to_string(e.offset) + " where " + std::to_string(expect) + " was expected");
        break;
      }
      expect += e.length;
    }
    if (expect != headerAt)
      Add(rep, p, expect, headerAt > expect ? headerAt - expect : 0, nullptr, "ERR_CORRUPT",
          "the pack's blobs end at " + std::to_string(expect) + " but its header starts at " + std::to_string(headerAt) +
              " (pack length does not match its entries)");
    std::map<uint64_t, const pack::Entry*> byOffset;
    for (const pack::Entry& e : header) byOffset[e.offset] = &e;
    for (const ChunkRef& e : p.entries) {
      auto it = byOffset.find(e.offset);
      if (it == byOffset.end() || std::memcmp(it->second->id, e.id, blob::kIdSize) != 0 || it->second->length != e.length ||
          it->second->rawLength != e.rawLength)
        Add(rep, p, e.offset, e.length, e.id, "ERR_CORRUPT", "the index lists a blob that the pack header does not (different id, length or offset)");
      else
        byOffset.erase(it);
    }
    for (auto& [off, e] : byOffset)
      Add(rep, p, off, e->length, e->id, "ERR_CORRUPT", "the pack header lists a blob that the index does not");
  }

  // Worker thread: emits the reports that are due, in spec order.
  void Report(size_t i, PackReport&& rep) {
    std::lock_guard<std::mutex> lk(emitMu_);
    reports_[i] = std::move(rep);
    done_[i] = 1;
    while (emitHead_ < packs_.size() && done_[emitHead_]) {
      size_t k = emitHead_++;
      PackReport& r = reports_[k];
      chunksOk_ += r.ok;
      chunksBad_ += r.bad;
      if (!r.problems.empty()) packsBad_++;
      if (r.hashed) digests_[k] = Digest{true, r.bytes, std::move(r.blockMd5)};
      auto probs = std::make_shared<std::vector<Problem>>(std::move(r.problems));
      r = PackReport{};
      std::string path = packs_[k].path;
      advance(0, 1);
      for (size_t j = 0; j < probs->size(); j++)
        emit([probs, j, path](Napi::Env env) -> Napi::Value {
          const Problem& pr = (*probs)[j];
          Napi::Object o = Napi::Object::New(env);
          o.Set("type", "problem");
          o.Set("pack", path);
          o.Set("offset", static_cast<double>(pr.offset));
          o.Set("length", static_cast<double>(pr.length));
          if (pr.hasId) o.Set("id", Napi::Buffer<uint8_t>::Copy(env, pr.id, sizeof pr.id));
          o.Set("code", pr.code);
          o.Set("message", pr.message);
          return o;
        });
    }
  }

  std::vector<VerifyPack> packs_;
  blob::Keys keys_;
  int threads_ = 1;
  uint64_t blockSize_ = 4 << 20;
  std::atomic<size_t> next_{0};
  std::mutex emitMu_;
  std::vector<PackReport> reports_;
  struct Digest {
    bool present = false;
    uint64_t bytes = 0;
    std::string blockMd5;
  };
  std::vector<Digest> digests_;  // per pack, spec order; filled under emitMu_
  std::vector<uint8_t> done_;
  size_t emitHead_ = 0;
  std::unique_ptr<NativeError> fatal_;
  uint64_t chunksOk_ = 0, chunksBad_ = 0, packsBad_ = 0;
  std::atomic<uint64_t> bytes_{0};
};

// JS thread.
Napi::Value RestoreJobFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value onProgress = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelToken::FromValue(env, info[2], "cancel");
  return Job::Launch(env, std::make_unique<RestoreJob>(env, info), onProgress, cancel);
}

// JS thread.
Napi::Value VerifyJobFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value onProgress = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelToken::FromValue(env, info[2], "cancel");
  return Job::Launch(env, std::make_unique<VerifyJob>(env, info), onProgress, cancel);
}

}  // namespace

void InitUnpack(Napi::Env env, Napi::Object exports) {
  exports.Set("restoreJob", Napi::Function::New(env, RestoreJobFn, "restoreJob"));
  exports.Set("verifyPacksJob", Napi::Function::New(env, VerifyJobFn, "verifyPacksJob"));
}

}  // namespace ds
