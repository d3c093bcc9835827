// The stage pipeline: packJob (binding.d.ts "Stage pipeline", docs/format-packs.md).
//
// Threads (all started and joined inside Run, on the job's own thread):
//   readers  (spec.readers)  take files in spec order, read them straight into the chunk's slot in 256 KiB
//                            pieces (holes skipped; the kernel asked to read 8 MiB ahead), chunk them, and
//                            hand each chunk to the workers in its slot (a small file's only chunk,
//                            ≤ 64 KiB, they process themselves, as a worker would).
//   workers  (spec.threads)  id (keyed BLAKE3, or HMAC-SHA-256 in format version 1), dedup against
//                            `known` and against ids claimed in this job,
//                            compress + encrypt new chunks; block tasks (MD5 + pwrite) first.
//   writer   (the job thread) takes chunks back in spec order (file, chunk), copies new blobs into the
//                            open pack's current block buffer and seals full packs (header, trailer).
//                            A full block (blockSize bytes of pack) goes back to the workers, which MD5 it
//                            and pwrite it at its offset: the writer hashes nothing, so it is not the serial
//                            bound (measured: with MD5 + SHA-256 + pwrite on the writer, 929 MiB of random
//                            data ran at 1.06 cores of 2, the writer busy 60%). The pack's name comes from
//                            its block MD5s (pack::Name), so no byte is hashed twice.
//   finisher (one thread)    fsyncs sealed packs, renames them to their content name and emits their
//                            'pack' events in order, so the writer never stalls on fsync.
// 'file' events are emitted in spec order by whichever of writer/finisher makes one due.
// Memory: slots are the cap. A slot holds one raw chunk (≤ chunker.max) and its blob; readers block
// when none is free. A reader working on a file later than the earliest file being read may take a slot
// only while more than 2 × threads + 1 are free, so the earliest file always finds slots and the
// in-order writer can always make progress (no deadlock however large one file is).
#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "aligned.h"
#include "blob.h"
#include "chunker.h"
#include "crypto.h"
#include "job.h"
#include "md5_mb.h"
#include "modules.h"
#include "pack_format.h"
#include "platform.h"
#include "spec_args.h"

namespace ds {

namespace {

namespace fs = std::filesystem;

// Readers read into the slot of the chunk being filled, a piece at a time: when the chunker cuts inside
// a piece, only the piece's rest is copied, into the next chunk's slot (on average half a piece per
// chunk, against every byte when reading 8 MiB into a buffer of its own and copying each chunk out).
// A piece this size is still in L2 when the chunker scans it. The kernel is asked to read kReadAhead
// ahead, so cold data still comes in large requests.
constexpr size_t kReadPiece = 256 << 10;
constexpr uint64_t kReadAhead = 8 << 20;
constexpr int kPollMs = 50;              // waits wake this often to notice cancellation
constexpr size_t kInlineMax = 64 << 10;  // a file's only chunk up to this size is processed by its reader
// Blocks up to this size are hashed and written by the workers from a pool of threads + 2 (+ a batch)
// buffers;
// larger blockSize values (tests, odd manifests) keep MD5 + pwrite on the writer.
constexpr uint64_t kMaxPooledBlock = 16 << 20;

using Id = std::array<uint8_t, blob::kIdSize>;
struct IdHash {
  size_t operator()(const Id& id) const {
    size_t h;
    std::memcpy(&h, id.data(), sizeof h);  // ids are keyed-hash output: already uniform
    return h;
  }
};

struct FileSpec {
  std::string path;
  uint64_t size;
};

struct Slot {
  // Allocated on first use; pages touched only as far as used. A new chunk's blob is `sealed`: its
  // body is the encrypted payload in `zbuf` when compressed, else `raw` itself, encrypted in place.
  AlignedBuffer raw, zbuf;
  size_t rawLen = 0;
  blob::Split sealed;
  uint32_t file = 0, index = 0;
  Id id;
  enum Kind { New, DupKnown, DupJob } kind = New;
};

// What the writer learns about a file; emitted as its 'file' event.
struct FileState {
  uint64_t sizeRead = 0;
  std::vector<std::pair<uint64_t, uint64_t>> holes;
  bool changed = false;
  bool failed = false;
  NativeError error;
  bool readDone = false;    // reader finished (chunkCount is final)
  uint32_t chunkCount = 0;  // chunks handed to the workers
  // Writer-owned from here.
  bool writerDone = false;
  std::string ids;
  std::vector<uint32_t> lengths;
  int64_t maxPack = -1;  // highest pack sequence number holding one of its chunks
  uint32_t pending = 0;  // duplicate chunks whose first copy (later in order) is not written yet
};

class PackJob final : public Job {
 public:
  PackJob(Napi::Env env, const Napi::CallbackInfo& info) {
    Napi::Object spec = args::GetObject(env, info[0], "spec");
    Napi::Array files = args::GetArray(env, spec.Get("files"), "spec.files");
    files_.reserve(files.Length());
    for (uint32_t i = 0; i < files.Length(); i++) {
      std::string at = "spec.files[" + std::to_string(i) + "]";
      Napi::Object f = args::GetObject(env, files.Get(i), at);
      files_.push_back(
          FileSpec{args::GetString(env, f.Get("path"), at + ".path"),
                   static_cast<uint64_t>(args::GetInt(env, f.Get("size"), at + ".size", 0, args::kMaxSafe))});
    }
    packDir_ = args::GetString(env, spec.Get("packDir"), "spec.packDir");
    chunker_ = args::GetChunker(env, spec.Get("chunker"), "spec.chunker");
    level_ = args::GetLevel(env, spec.Get("level"), "spec.level");
    threads_ = static_cast<int>(args::GetInt(env, spec.Get("threads"), "spec.threads", 1, 256));
    keys_ = args::GetKeys(env, spec.Get("keys"), "spec.keys");
    args::Bytes known = args::GetBytes(env, spec.Get("known"), "spec.known");
    if (known.len % blob::kIdSize != 0)
      ThrowType(env, "Expected a Buffer of sorted 32-byte ids for spec.known but its length is not a multiple of 32");
    for (size_t off = blob::kIdSize; off < known.len; off += blob::kIdSize)
      if (std::memcmp(known.data + off - blob::kIdSize, known.data + off, blob::kIdSize) > 0)
        ThrowType(env, "Expected a Buffer of sorted 32-byte ids for spec.known but id " +
                           std::to_string(off / blob::kIdSize) + " sorts before the one ahead of it");
    known_.assign(known.data, known.data + known.len);
    packSize_ =
        static_cast<uint64_t>(args::GetOptInt(env, spec, "packSize", "spec.packSize", 1 << 20, 1LL << 32, 64 << 20));
    blockSize_ =
        static_cast<uint64_t>(args::GetOptInt(env, spec, "blockSize", "spec.blockSize", 4096, 1 << 30, 4 << 20));
    readers_ = static_cast<int>(args::GetOptInt(env, spec, "readers", "spec.readers", 1, 64, 4));
    holeMin_ =
        static_cast<uint64_t>(args::GetOptInt(env, spec, "holeMin", "spec.holeMin", 4096, args::kMaxSafe, 1 << 20));
    uint64_t total = 0;
    for (const FileSpec& f : files_) total += f.size;
    setTotals(total, files_.size());
    // The earliest file gets 2 slots per worker + 1 (each worker busy with one chunk and one queued while
    // the reader fills the next); readers of later files may park one slot each beyond that. Parking more
    // only idles memory: those chunks cannot be written before the earliest file's (measured: with 6 of
    // 8 slots parked behind a 384 MiB file, 2 workers ran at half speed).
    slotCount_ = std::min(2 * threads_ + 1 + readers_, 40);
    reserve_ = std::min(2 * threads_ + 1, slotCount_ - 1);
    slots_.resize(static_cast<size_t>(slotCount_));
    for (Slot& s : slots_) free_.push_back(&s);
    // One block per worker being hashed, one queued, one being filled by the writer; plus a batch that
    // gathers for one multi-buffer MD5 pass (8 blocks: the 8-lane kernels already run at 4.5 GB/s on one
    // core here, 16 lanes add little for another 32 MiB).
    batch_ = std::min<size_t>(md5::PreferredLanes(), 8);
    blocks_.resize(static_cast<size_t>(threads_) + 2 + (batch_ > 1 ? batch_ : 0));
    for (Block& b : blocks_) blockFree_.push_back(&b);
  }

 protected:
  // Job thread.
  void Run() override {
    if (files_.empty()) return;
    std::error_code ec;
    fs::create_directories(packDir_, ec);
    if (ec) ThrowSys("mkdir", ec.value(), packDir_);
    readersLeft_ = readers_;
    struct DiscardAtExit {  // after every thread is joined (destroyed after `threads`)
      PackJob* job;
      ~DiscardAtExit() { job->DiscardOpenPack(); }
    } discard{this};
    ThreadGroup threads([this] { Stop(); });
    for (int i = 0; i < readers_; i++) threads.Start([this] { Guarded([this] { ReaderMain(); }, true); });
    for (int i = 0; i < threads_; i++) threads.Start([this] { Guarded([this] { WorkerMain(); }, false); });
    threads.Start([this] { Guarded([this] { FinisherMain(); }, false); });
    WriterMain();
    {
      std::lock_guard<std::mutex> lk(finMu_);
      writerDone_ = true;
    }
    cvFin_.notify_all();
    threads.Join(threads.size() - 1);  // the finisher drains every sealed pack
    EmitReady();
    threads.JoinAll();
    if (fatal_) throw Failure(*fatal_);
    checkCancelled();
  }

  // JS thread.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object r = Napi::Object::New(env);
    r.Set("filesRead", static_cast<double>(filesRead_));
    r.Set("filesFailed", static_cast<double>(filesFailed_));
    r.Set("bytesRead", static_cast<double>(bytesRead_.load()));
    r.Set("chunksNew", static_cast<double>(chunksNew_));
    r.Set("chunksDuplicate", static_cast<double>(chunksDup_));
    r.Set("bytesNew", static_cast<double>(bytesNew_));
    r.Set("bytesStored", static_cast<double>(bytesStored_));
    r.Set("packs", static_cast<double>(closedPacks_.load()));
    return r;
  }

 private:
  // ---- coordination (all under mu_) ----------------------------------------------------------------

  // Any pipeline thread: stop everything (cancellation, a fatal error, or the end).
  void Stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    {
      std::lock_guard<std::mutex> lk(finMu_);
      finStop_ = true;
    }
    cvSlot_.notify_all();
    cvWork_.notify_all();
    cvDone_.notify_all();
    cvFin_.notify_all();
  }

  // Reader/worker thread body: a failure that is not about one file stops the job.
  void Guarded(const std::function<void()>& fn, bool reader) {
    try {
      fn();
    } catch (const Failure& f) {
      Fatal(f.error());
    } catch (const std::bad_alloc&) {
      Fatal(NativeError{"ENOMEM", "Out of memory in the stage pipeline", "", 0, "", -1});
    } catch (const std::exception& e) {
      Fatal(
          NativeError{"ERR_INTERNAL", std::string("Internal error in the stage pipeline: ") + e.what(), "", 0, "", -1});
    }
    if (reader) {
      std::lock_guard<std::mutex> lk(mu_);
      readersLeft_--;
    }
    cvWork_.notify_all();
    cvDone_.notify_all();
  }

  void Fatal(const NativeError& e) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!fatal_) fatal_ = std::make_unique<NativeError>(e);
    }
    Stop();
  }

  bool Stopping() {
    if (cancelled()) Stop();
    return stop_;
  }

  // Reader thread: a free slot for a chunk of `file`, or nullptr when stopping.
  Slot* Acquire(uint32_t file) {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      if (stop_) return nullptr;
      bool head = !reading_.empty() && *reading_.begin() == file;
      if (!free_.empty() && (head || free_.size() > static_cast<size_t>(reserve_))) break;
      cvSlot_.wait_for(lk, std::chrono::milliseconds(kPollMs));
      if (cancelled()) stop_ = true;
    }
    Slot* s = free_.back();
    free_.pop_back();
    lk.unlock();
    if (!s->raw.data()) s->raw = AlignedBuffer(chunker_.max, 64);
    s->rawLen = 0;
    return s;
  }

  void Release(Slot* s) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      free_.push_back(s);
    }
    cvSlot_.notify_all();
  }

  // ---- readers -------------------------------------------------------------------------------------

  // Reader thread.
  void ReaderMain() {
    Chunker chunker(chunker_);
    blob::Codec codec;  // for small files' only chunks (ReadFile)
    for (;;) {
      uint32_t f;
      std::shared_ptr<FileState> st = std::make_shared<FileState>();
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (stop_ || next_ >= files_.size()) return;
        f = next_++;
        reading_.insert(f);
        states_[f] = st;
      }
      uint32_t count = 0;
      try {
        ReadFile(f, *st, chunker, codec, count);
      } catch (const Failure& e) {
        st->failed = true;
        st->error = e.error();
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        st->readDone = true;
        st->chunkCount = count;
        reading_.erase(f);
      }
      cvSlot_.notify_all();  // the earliest file being read may have changed
      cvDone_.notify_all();
      if (Stopping()) return;
    }
  }

  // Reader thread: reads, chunks and dispatches file f. Throws Failure for a problem with this file.
  void ReadFile(uint32_t f, FileState& st, Chunker& chunker, blob::Codec& codec, uint32_t& count) {
    const FileSpec& spec = files_[f];
    platform::OpenOptions oo;
    oo.direct = false;
    std::unique_ptr<platform::File> file = platform::Open(spec.path, oo);
    // One fstat before and one after: on 100k small files the path lookups of last_write_time and the
    // statx of geometry() were 4 of the 9 metadata calls per file (strace), in a job whose time was
    // two thirds system time.
    const platform::Stamp before = file->stamp();
    const uint64_t size = before.size;
    if (size != spec.size) st.changed = true;

    // Holes: gaps between data extents that are at least holeMin long; shorter gaps are read as zeros.
    std::vector<std::pair<uint64_t, uint64_t>> data;  // [begin, end), merged
    auto addData = [&](uint64_t b, uint64_t e) {
      if (!data.empty() && data.back().second == b)
        data.back().second = e;
      else
        data.emplace_back(b, e);
    };
    if (size >= holeMin_) {
      auto extents = file->dataExtents(size);
      extents.emplace_back(size, 0);
      uint64_t pos = 0;
      for (auto& [off, len] : extents) {
        if (off > pos) {
          if (off - pos >= holeMin_)
            st.holes.emplace_back(pos, off - pos);
          else
            addData(pos, off);
        }
        if (len > 0) addData(std::max(off, pos), std::min(off + len, size));
        pos = std::max(pos, off + len);
      }
    } else if (size > 0) {
      data.emplace_back(0, size);
    }

    chunker.Reset();
    Slot* cur = nullptr;
    struct SlotGuard {  // a half-filled slot goes back to the pool if this file fails
      PackJob* job;
      Slot*& s;
      ~SlotGuard() {
        if (s) job->Release(s);
      }
    } guard{this, cur};
    bool shortRead = false;
    uint64_t stoppedAt = 0;
    uint64_t hinted = 0;  // the kernel was asked to read ahead up to here
    for (auto& [begin, end] : data) {
      hinted = std::max(hinted, begin);
      for (uint64_t off = begin; off < end && !shortRead;) {
        if (Stopping()) return;
        if (!cur && !(cur = Acquire(f))) return;
        if (end - off > kReadPiece && hinted < std::min(end, off + kReadAhead / 2)) {
          const uint64_t to = std::min(end, off + kReadAhead);
          file->readAhead(hinted, to - hinted);
          hinted = to;
        }
        // Never past the slot: the chunker cuts at chunker.max, so a slot with no room has been cut.
        const size_t want = static_cast<size_t>(
            std::min<uint64_t>(std::min<uint64_t>(kReadPiece, chunker_.max - cur->rawLen), end - off));
        uint8_t* piece = cur->raw.data() + cur->rawLen;
        size_t got = file->pread(piece, want, off);
        off += got;
        if (got < want) {  // the file shrank while we read it
          shortRead = true;
          stoppedAt = off;
        }
        st.sizeRead += got;
        bytesRead_ += got;
        advance(got);
        for (;;) {
          bool cut;
          const size_t take = chunker.Scan(piece, got, &cut);
          cur->rawLen += take;
          if (!cut) break;  // the whole piece belongs to cur
          // The piece's rest starts the next chunk: it moves to a slot of its own before cur goes.
          Slot* next = nullptr;
          if (take < got) {
            if (!(next = Acquire(f))) return;
            std::memcpy(next->raw.data(), piece + take, got - take);
          }
          Dispatch(cur, f, count);
          cur = next;
          if (!cur) break;
          piece = cur->raw.data();
          got -= take;
        }
      }
      if (shortRead) break;
    }
    if (cur && cur->rawLen > 0) {
      if (count == 0 && cur->rawLen <= kInlineMax) {
        // A small file's only chunk: processed here rather than handed to a worker. With many small
        // files the handoff (a wake-up and a context switch per file) cost more than the work itself
        // (perf: a third of packJob's samples in futex wake/wait on 100k files of 0–2 KiB).
        cur->file = f;
        cur->index = count++;
        try {
          Process(cur, codec);
        } catch (const Failure& e) {
          Fatal(e.error());  // a codec failure stops the job, as on a worker; not this file's read error
          return;
        }
        Done(cur);
        cur = nullptr;
      } else {
        Dispatch(cur, f, count);
      }
    }

    if (shortRead) {
      st.changed = true;
      // Keep only the holes before the point where reading stopped: chunks + holes stay consistent.
      st.holes.erase(std::remove_if(st.holes.begin(), st.holes.end(), [&](auto& h) { return h.first >= stoppedAt; }),
                     st.holes.end());
    }
    const platform::Stamp after = file->stamp();
    if (after.size != size || after.mtimeNs != before.mtimeNs) st.changed = true;
  }

  // Reader thread: hands a filled slot to the workers.
  void Dispatch(Slot*& s, uint32_t f, uint32_t& count) {
    s->file = f;
    s->index = count++;
    {
      std::lock_guard<std::mutex> lk(mu_);
      work_.push_back(s);
    }
    cvWork_.notify_one();
    s = nullptr;
  }

  // ---- workers -------------------------------------------------------------------------------------

  bool Known(const Id& id) const {
    size_t lo = 0, hi = known_.size() / blob::kIdSize;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      int c = std::memcmp(known_.data() + mid * blob::kIdSize, id.data(), blob::kIdSize);
      if (c == 0) return true;
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    return false;
  }

  // Worker thread.
  void WorkerMain() {
    blob::Codec codec;
    crypto::Digest md5(crypto::Digest::MD5);
    for (;;) {
      Slot* s;
      {
        std::unique_lock<std::mutex> lk(mu_);
        Block* batch[md5::kMaxLanes];
        size_t nb = 0;
        for (;;) {
          if (stop_) return;
          if (BlocksDueLocked()) {  // first: the writer or the finisher may be waiting for them
            while (!blockWork_.empty() && nb < batch_) {
              batch[nb++] = blockWork_.front();
              blockWork_.pop_front();
            }
            blockFlush_ = !blockWork_.empty() && blockFlush_;
            break;
          }
          if (!work_.empty()) break;
          if (readersLeft_ == 0 && writerFinished_) return;
          cvWork_.wait_for(lk, std::chrono::milliseconds(kPollMs));
          if (cancelled()) stop_ = true;
        }
        if (nb > 0) {
          lk.unlock();
          RunBlocks(batch, nb, md5);
          continue;
        }
        s = work_.front();
        work_.pop_front();
      }
      Process(s, codec);
      Done(s);
    }
  }

  // Worker thread (or a reader, for a small file's only chunk): id, dedup, compress + encrypt.
  void Process(Slot* s, blob::Codec& codec) {
    codec.Id(keys_, s->raw.data(), s->rawLen, s->id.data());
    if (Known(s->id)) {
      s->kind = Slot::DupKnown;
    } else {
      std::lock_guard<std::mutex> lk(claimMu_);
      s->kind = claims_.emplace(s->id, -1).second ? Slot::New : Slot::DupJob;
    }
    if (s->kind == Slot::New) {
      if (!s->zbuf.data()) s->zbuf = AlignedBuffer(chunker_.max, 64);
      codec.EncodeSplit(keys_, s->id.data(), s->raw.data(), s->rawLen, level_, s->zbuf.data(), s->sealed);
    }
  }

  // Worker or reader thread: hands a processed slot to the writer.
  void Done(Slot* s) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      done_[Key(s->file, s->index)] = s;
    }
    cvDone_.notify_all();
  }

  static uint64_t Key(uint32_t file, uint32_t index) { return (static_cast<uint64_t>(file) << 32) | index; }

  // ---- writer --------------------------------------------------------------------------------------

  struct OpenPack;
  // One blockSize piece of a pack on its way to disk (pooled path).
  struct Block {
    AlignedBuffer buf;
    size_t len = 0;
    OpenPack* pack = nullptr;
    uint32_t index = 0;
    uint64_t offset = 0;
  };

  struct OpenPack {
    std::unique_ptr<platform::File> file;
    std::string tmpPath, name;
    uint64_t size = 0;
    std::unique_ptr<crypto::BlockMd5> md5;  // unpooled path only
    std::vector<pack::Entry> entries;
    // Pooled path: the block being filled (writer), digests filled in by workers (16 bytes per block),
    // blocks handed out and blocks hashed + written (under blkMu_).
    Block* cur = nullptr;
    std::string digests;
    uint32_t blocksOut = 0, blocksDone = 0;
  };

  bool Pooled() const { return blockSize_ <= kMaxPooledBlock; }

  // Writer thread: a free block buffer, or nullptr when stopping.
  Block* TakeBlock() {
    std::unique_lock<std::mutex> lk(blkMu_);
    for (;;) {
      if (stop_) return nullptr;
      if (!blockFree_.empty()) break;
      // Every buffer is queued or being hashed: queued blocks are due now, not when a batch is full.
      if (!writerWaitsBlock_.exchange(true)) cvWork_.notify_all();
      cvBlk_.wait_for(lk, std::chrono::milliseconds(kPollMs));
      if (cancelled()) {
        lk.unlock();
        Stop();
        return nullptr;
      }
    }
    Block* b = blockFree_.back();
    blockFree_.pop_back();
    writerWaitsBlock_ = false;
    lk.unlock();
    if (!b->buf.data()) b->buf = AlignedBuffer(blockSize_, 64);
    b->len = 0;
    return b;
  }

  // Writer thread: hands the open pack's current block to the workers.
  void SubmitBlock() {
    Block* b = pack_->cur;
    pack_->cur = nullptr;
    if (!b) return;
    b->pack = pack_.get();
    b->index = pack_->blocksOut++;
    b->offset = pack_->size - b->len;
    {
      // Under blkMu_: workers write earlier blocks' digests into this string while it grows.
      std::lock_guard<std::mutex> lk(blkMu_);
      pack_->digests.resize(static_cast<size_t>(pack_->blocksOut) * crypto::kMd5Size);
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      blockWork_.push_back(b);
    }
    cvWork_.notify_one();
  }

  // Worker thread, under mu_: whether queued blocks should be taken now. Blocks wait until a batch of
  // batch_ has gathered (one multi-buffer MD5 pass over all of them), unless someone waits for them:
  // the writer for a free buffer, the finisher for a sealed pack's last blocks, or the end of the job.
  // Not merely because a worker has no chunk to work on: a lane costs the same filled or not, so one
  // block hashed alone costs what eight cost together (OpenSSL's one-lane MD5: 1.3 ns/B against 0.22),
  // and in a CPU-bound stage a worker is out of chunks only for moments (perf: 12% of packJob's CPU
  // in MD5, 5% of it one block at a time, before this rule).
  bool BlocksDueLocked() const {
    if (blockWork_.empty()) return false;
    return blockWork_.size() >= batch_ || blockFlush_ || writerFinished_ ||
           writerWaitsBlock_.load(std::memory_order_relaxed);
  }

  // Worker thread: the MD5s of k blocks and their pwrites at their offsets in their temp packs.
  void RunBlocks(Block* const* bs, size_t k, crypto::Digest& md5) {
    // In pieces, hash then write, so the write's copy reads from L2 rather than memory (one pass over
    // the whole 4 MiB block each cost 4x the copy CPU: 0.7 vs 0.17 ns/B, perf, random data). One
    // block: 256 KiB pieces; a batch: 64 KiB of each block per multi-buffer pass.
    uint8_t d[md5::kMaxLanes * crypto::kMd5Size];
    if (k == 1) {
      Block* b = bs[0];
      constexpr size_t kPiece = 256 << 10;
      for (size_t off = 0; off < b->len; off += kPiece) {
        size_t n = std::min(kPiece, b->len - off);
        md5.Update(b->buf.data() + off, n);
        b->pack->file->pwrite(b->buf.data() + off, n, b->offset + off);
      }
      md5.Final(d);
    } else {
      constexpr size_t kPiece = 64 << 10;
      size_t common = SIZE_MAX;
      for (size_t i = 0; i < k; i++) common = std::min(common, bs[i]->len);
      common -= common % 64;  // lockstep updates take whole 64-byte MD5 blocks
      md5::Md5Lanes lanes(k);
      const uint8_t* ptr[md5::kMaxLanes];
      size_t tailLen[md5::kMaxLanes];
      for (size_t off = 0; off < common; off += kPiece) {
        const size_t n = std::min(kPiece, common - off);
        for (size_t i = 0; i < k; i++) ptr[i] = bs[i]->buf.data() + off;
        lanes.Update(ptr, n);
        for (size_t i = 0; i < k; i++) bs[i]->pack->file->pwrite(ptr[i], n, bs[i]->offset + off);
      }
      for (size_t i = 0; i < k; i++) {
        ptr[i] = bs[i]->buf.data() + common;
        tailLen[i] = bs[i]->len - common;
      }
      lanes.Final(ptr, tailLen, d);  // the short last block of a pack, and the sub-64-byte rests
      for (size_t i = 0; i < k; i++)
        if (tailLen[i]) bs[i]->pack->file->pwrite(ptr[i], tailLen[i], bs[i]->offset + common);
    }
    {
      std::lock_guard<std::mutex> lk(blkMu_);
      for (size_t i = 0; i < k; i++) {
        std::memcpy(&bs[i]->pack->digests[static_cast<size_t>(bs[i]->index) * crypto::kMd5Size],
                    d + i * crypto::kMd5Size, crypto::kMd5Size);
        bs[i]->pack->blocksDone++;
        blockFree_.push_back(bs[i]);
      }
    }
    cvBlk_.notify_all();
  }

  // Finisher thread: waits until every block of p is hashed and written; false when stopping.
  bool WaitBlocks(OpenPack& p) {
    std::unique_lock<std::mutex> lk(blkMu_);
    while (p.blocksDone < p.blocksOut) {
      if (stop_) return false;
      cvBlk_.wait_for(lk, std::chrono::milliseconds(kPollMs));
    }
    return true;
  }

  // Job thread.
  void WriterMain() {
    uint32_t w = 0, k = 0;
    while (w < files_.size()) {
      Slot* s = nullptr;
      std::shared_ptr<FileState> st;
      {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
          if (stop_) return;
          if (cancelled()) {
            stop_ = true;
            return;
          }
          auto it = done_.find(Key(w, k));
          if (it != done_.end()) {
            s = it->second;
            done_.erase(it);
            st = states_[w];
            break;
          }
          auto si = states_.find(w);
          if (si != states_.end() && si->second->readDone && si->second->chunkCount == k) {
            st = si->second;
            break;
          }
          cvDone_.wait_for(lk, std::chrono::milliseconds(kPollMs));
        }
      }
      if (!s) {
        {
          std::lock_guard<std::mutex> lk(emitMu_);
          st->writerDone = true;
        }
        w++;
        k = 0;
        EmitReady();
        continue;
      }
      Consume(*s, *st, w);
      Release(s);
      k++;
      if (pack_ && pack_->size >= packSize_) SealPack();
      EmitReady();
    }
    if (pack_) SealPack();
    {
      std::lock_guard<std::mutex> lk(mu_);
      writerFinished_ = true;  // no more block tasks: workers may leave once the queues are empty
    }
    cvWork_.notify_all();
  }

  // Job thread: records one chunk of file w; writes it when it is the first copy.
  void Consume(Slot& s, FileState& st, uint32_t w) {
    int64_t seq = -1;  // pack of this chunk's first copy, once known
    bool waitForFirst = false;
    if (s.kind == Slot::New) {
      if (!pack_) StartPack();
      pack::Entry e;
      std::memcpy(e.id, s.id.data(), blob::kIdSize);
      e.offset = pack_->size;
      e.length = static_cast<uint32_t>(s.sealed.size());
      e.rawLength = static_cast<uint32_t>(s.rawLen);
      if (!Append(s.sealed.head, sizeof s.sealed.head) || !Append(s.sealed.body, s.sealed.bodyLen) ||
          !Append(s.sealed.tag, sizeof s.sealed.tag))
        return;
      pack_->entries.push_back(e);
      chunksNew_++;
      bytesNew_ += s.rawLen;
      seq = static_cast<int64_t>(packsStarted_ - 1);
      std::lock_guard<std::mutex> lk(claimMu_);
      claims_[s.id] = seq;
    } else {
      chunksDup_++;
      if (s.kind == Slot::DupJob) {
        std::lock_guard<std::mutex> lk(claimMu_);
        seq = claims_[s.id];
        waitForFirst = seq < 0;  // its first copy comes later in spec order (workers raced)
      }
    }
    // maxPack/pending are read by EmitReady on the finisher thread.
    std::lock_guard<std::mutex> elk(emitMu_);
    st.ids.append(reinterpret_cast<const char*>(s.id.data()), s.id.size());
    st.lengths.push_back(static_cast<uint32_t>(s.rawLen));
    if (waitForFirst) {
      waiters_.emplace(s.id, w);
      st.pending++;
    } else if (seq >= 0) {
      st.maxPack = std::max(st.maxPack, seq);
    }
    if (s.kind != Slot::New) return;
    auto range = waiters_.equal_range(s.id);
    for (auto it = range.first; it != range.second; ++it) {
      std::shared_ptr<FileState> ws;
      {
        std::lock_guard<std::mutex> lk(mu_);
        ws = states_.at(it->second);  // present: a file with pending chunks is not emitted
      }
      ws->maxPack = std::max(ws->maxPack, seq);
      ws->pending--;
    }
    waiters_.erase(range.first, range.second);
  }

  void StartPack() {
    pack_ = std::make_unique<OpenPack>();
    packsStarted_++;
    uint8_t r[8];
    crypto::RandomBytes(r, sizeof r);
    pack_->tmpPath = (fs::path(packDir_) / (".tmp-pack-" + crypto::Hex(r, sizeof r))).string();
    platform::OpenOptions oo;
    oo.write = true;
    oo.create = true;
    oo.truncate = true;
    oo.direct = false;
    pack_->file = platform::Open(pack_->tmpPath, oo);
    if (!Pooled()) pack_->md5 = std::make_unique<crypto::BlockMd5>(blockSize_);
  }

  // Writer thread. Returns false when stopping (a block buffer could not be had).
  bool Append(const uint8_t* p, size_t n) {
    bytesStored_ += n;
    advance(0, 0, n);
    if (!Pooled()) {
      pack_->file->pwrite(p, n, pack_->size);
      pack_->md5->Update(p, n);
      pack_->size += n;
      return true;
    }
    while (n > 0) {
      if (!pack_->cur && !(pack_->cur = TakeBlock())) return false;
      Block* b = pack_->cur;
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, blockSize_ - b->len));
      std::memcpy(b->buf.data() + b->len, p, take);
      b->len += take;
      pack_->size += take;
      p += take;
      n -= take;
      if (b->len == blockSize_) SubmitBlock();
    }
    return true;
  }

  // Job thread: appends header + trailer and hands the pack to the finisher (at most 2 wait, so at most
  // 3 temp packs exist at once).
  void SealPack() {
    std::vector<uint8_t> header = pack::SealHeader(pack_->entries, keys_.data, gcm_);
    Append(header.data(), header.size());
    uint8_t trailer[pack::kTrailerSize];
    pack::MakeTrailer(static_cast<uint32_t>(header.size()), trailer);
    Append(trailer, sizeof trailer);
    if (Pooled()) {
      SubmitBlock();  // the short last block
      {
        std::lock_guard<std::mutex> lk(mu_);
        blockFlush_ = true;  // the finisher will wait for this pack's blocks: hash what is queued
      }
      cvWork_.notify_all();
    } else {
      pack_->md5->Finish();
    }
    std::unique_lock<std::mutex> lk(finMu_);
    while (sealed_.size() >= 2 && !finStop_) cvFin_.wait_for(lk, std::chrono::milliseconds(kPollMs));
    if (finStop_) return;  // DiscardOpenPack removes it
    sealed_.push_back(std::move(pack_));
    cvFin_.notify_all();
  }

  // Finisher thread: fsync, rename to the content name, 'pack' event, in the order packs were sealed.
  void FinisherMain() {
    for (;;) {
      std::unique_ptr<OpenPack> p;
      {
        std::unique_lock<std::mutex> lk(finMu_);
        for (;;) {
          if (finStop_) return;
          if (!sealed_.empty()) break;
          if (writerDone_) return;
          cvFin_.wait_for(lk, std::chrono::milliseconds(kPollMs));
        }
        p = std::move(sealed_.front());
        sealed_.pop_front();
      }
      cvFin_.notify_all();
      FinishPack(*p);
      EmitReady();
    }
  }

  void FinishPack(OpenPack& p) {
    if (Pooled() && !WaitBlocks(p)) return;  // stopping: DiscardOpenPack removes it
    if (!Pooled()) p.digests = p.md5->Digests();
    p.name = pack::Name(p.size, blockSize_, p.digests);
    p.file->sync();
    p.file.reset();
    fs::path dir = fs::path(packDir_) / p.name.substr(0, 2);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      fs::create_directories(dir, ec);
      if (ec) ThrowSys("mkdir", ec.value(), dir.string());
    }
    std::string path = (dir / p.name).string();
    platform::RenameDurable(p.tmpPath, path);
    p.tmpPath.clear();  // renamed: nothing to clean up any more

    struct Done {
      std::string name, path;
      uint64_t size;
      std::string md5;
      std::vector<pack::Entry> entries;
    };
    auto d = std::make_shared<Done>(Done{p.name, path, p.size, std::move(p.digests), std::move(p.entries)});
    std::lock_guard<std::mutex> lk(emitMu_);
    emit([d](Napi::Env env) -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "pack");
      o.Set("name", d->name);
      o.Set("path", d->path);
      o.Set("size", static_cast<double>(d->size));
      o.Set("blockMd5",
            Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(d->md5.data()), d->md5.size()));
      Napi::Array es = Napi::Array::New(env, d->entries.size());
      for (size_t i = 0; i < d->entries.size(); i++) {
        const pack::Entry& e = d->entries[i];
        Napi::Object eo = Napi::Object::New(env);
        eo.Set("id", Napi::Buffer<uint8_t>::Copy(env, e.id, sizeof e.id));
        eo.Set("offset", static_cast<double>(e.offset));
        eo.Set("length", static_cast<double>(e.length));
        eo.Set("rawLength", static_cast<double>(e.rawLength));
        es.Set(static_cast<uint32_t>(i), eo);
      }
      o.Set("entries", es);
      return o;
    });
    closedPacks_++;
  }

  // Job thread, after every pipeline thread has been joined: removes temp packs never renamed.
  void DiscardOpenPack() {
    auto discard = [](std::unique_ptr<OpenPack>& p) {
      if (!p) return;
      p->file.reset();
      std::error_code ec;
      if (!p->tmpPath.empty()) fs::remove(p->tmpPath, ec);
      p.reset();
    };
    discard(pack_);
    for (auto& p : sealed_) discard(p);
    sealed_.clear();
  }

  // Writer or finisher thread: 'file' events in spec order, each once every pack holding its chunks
  // is on disk and announced.
  void EmitReady() {
    std::lock_guard<std::mutex> elk(emitMu_);
    for (;;) {
      std::shared_ptr<FileState> st;
      {
        std::lock_guard<std::mutex> lk(mu_);
        auto it = states_.find(emitHead_);
        if (it == states_.end()) return;
        st = it->second;
        if (!st->writerDone || st->pending > 0 || st->maxPack >= static_cast<int64_t>(closedPacks_)) return;
        states_.erase(it);
      }
      uint32_t index = emitHead_++;
      if (st->failed)
        filesFailed_++;
      else
        filesRead_++;
      advance(0, 1);
      emit([st, index](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("type", "file");
        o.Set("index", index);
        if (st->failed) {
          o.Set("size", 0);
          o.Set("chunks", Napi::Buffer<uint8_t>::New(env, 0));
          o.Set("lengths", Napi::Array::New(env, 0));
          o.Set("holes", Napi::Array::New(env, 0));
          Napi::Object e = Napi::Object::New(env);
          e.Set("code", st->error.code);
          e.Set("message", st->error.message);
          if (st->error.errnum) e.Set("errno", st->error.errnum);
          if (!st->error.syscall.empty()) e.Set("syscall", st->error.syscall);
          if (!st->error.path.empty()) e.Set("path", st->error.path);
          o.Set("error", e);
        } else {
          o.Set("size", static_cast<double>(st->sizeRead));
          o.Set("chunks",
                Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(st->ids.data()), st->ids.size()));
          Napi::Array ls = Napi::Array::New(env, st->lengths.size());
          for (size_t i = 0; i < st->lengths.size(); i++) ls.Set(static_cast<uint32_t>(i), st->lengths[i]);
          o.Set("lengths", ls);
          Napi::Array hs = Napi::Array::New(env, st->holes.size());
          for (size_t i = 0; i < st->holes.size(); i++) {
            Napi::Array h = Napi::Array::New(env, 2);
            h.Set(0u, static_cast<double>(st->holes[i].first));
            h.Set(1u, static_cast<double>(st->holes[i].second));
            hs.Set(static_cast<uint32_t>(i), h);
          }
          o.Set("holes", hs);
        }
        if (st->changed) o.Set("changed", true);
        return o;
      });
    }
  }

  // Spec (read-only after construction).
  std::vector<FileSpec> files_;
  std::string packDir_;
  ChunkerParams chunker_;
  int level_ = 3, threads_ = 1, readers_ = 4;
  blob::Keys keys_;
  std::vector<uint8_t> known_;
  uint64_t packSize_ = 64 << 20, blockSize_ = 4 << 20, holeMin_ = 1 << 20;

  // Coordination, guarded by mu_.
  std::mutex mu_;
  std::condition_variable cvSlot_, cvWork_, cvDone_;
  std::atomic<bool> stop_{false};  // written under mu_; read without it by Stopping()
  std::unique_ptr<NativeError> fatal_;
  int slotCount_ = 0, reserve_ = 0;
  std::vector<Slot> slots_;
  std::vector<Slot*> free_;
  std::deque<Slot*> work_;
  std::map<uint64_t, Slot*> done_;
  std::set<uint32_t> reading_;
  std::unordered_map<uint32_t, std::shared_ptr<FileState>> states_;
  uint32_t next_ = 0;
  int readersLeft_ = 0;

  // Ids written in this job → sequence number of their pack (-1: claimed by a worker, not yet written).
  std::mutex claimMu_;
  std::unordered_map<Id, int64_t, IdHash> claims_;

  std::deque<Block*> blockWork_;               // guarded by mu_
  bool writerFinished_ = false;                // guarded by mu_
  bool blockFlush_ = false;                    // guarded by mu_: a pack was sealed, its queued blocks are due
  std::atomic<bool> writerWaitsBlock_{false};  // the writer found no free block buffer
  size_t batch_ = 1;                           // blocks hashed together (multi-buffer MD5); set before threads start

  // Block buffers (pooled path), guarded by blkMu_.
  std::mutex blkMu_;
  std::condition_variable cvBlk_;
  std::vector<Block> blocks_;
  std::vector<Block*> blockFree_;

  // Writer-owned.
  std::unordered_multimap<Id, uint32_t, IdHash> waiters_;
  std::unique_ptr<OpenPack> pack_;
  crypto::Gcm gcm_;
  uint64_t packsStarted_ = 0;  // sequence number of the open pack + 1

  // Sealed packs waiting for the finisher, guarded by finMu_.
  std::mutex finMu_;
  std::condition_variable cvFin_;
  std::deque<std::unique_ptr<OpenPack>> sealed_;
  bool writerDone_ = false, finStop_ = false;

  // Event order and FileState's writer fields, guarded by emitMu_ (taken before mu_ when both are needed).
  std::mutex emitMu_;
  std::atomic<uint64_t> closedPacks_{0};
  uint32_t emitHead_ = 0;
  uint64_t filesRead_ = 0, filesFailed_ = 0, chunksNew_ = 0, chunksDup_ = 0, bytesNew_ = 0, bytesStored_ = 0;
  std::atomic<uint64_t> bytesRead_{0};
};

// JS thread: validates and copies the spec, then starts the job.
Napi::Value PackJobFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value onProgress = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelToken::FromValue(env, info[2], "cancel");
  auto job = std::make_unique<PackJob>(env, info);
  return Job::Launch(env, std::move(job), onProgress, cancel);
}

}  // namespace

void InitPack(Napi::Env env, Napi::Object exports) {
  exports.Set("packJob", Napi::Function::New(env, PackJobFn, "packJob"));
}

}  // namespace ds
