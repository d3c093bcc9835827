// verifyPacksJob (binding.d.ts "Restore / verify pipeline", docs/format-packs.md): `threads` workers
// each take whole packs; a pack is read once, front to back, its block MD5s computed on the way (its
// name derives from them, pack::Name), every listed blob decoded, then its trailer and header checked
// against the listed entries. Every problem becomes a 'problem' event; packs are reported in spec order.
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

using unpack::ChunkRef;
using unpack::GetChunkRef;
using unpack::kReadSize;

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
  bool hashed = false;  // the whole file was read: bytes and blockMd5 are its digests
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
    blockSize_ =
        static_cast<uint64_t>(args::GetOptInt(env, spec, "blockSize", "spec.blockSize", 4096, 1 << 30, 4 << 20));
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
      o.Set("blockMd5", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(digests_[i].blockMd5.data()),
                                                    digests_[i].blockMd5.size()));
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
        if (!fatal_)
          fatal_ = std::make_unique<NativeError>(NativeError{"ENOMEM", "Out of memory verifying packs", "", 0, "", -1});
        return;
      }
      Report(i, std::move(rep));
    }
  }

  void Add(PackReport& rep, const VerifyPack& p, uint64_t offset, uint64_t length, const uint8_t* id,
           const std::string& code, const std::string& message) {
    Problem pr{offset, length, id != nullptr,
               {},     code,   message + " (pack " + p.path + ", offset " + std::to_string(offset) + ")"};
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
            e->offset + e->length > size
                ? "blob of " + std::to_string(e->length) + " bytes lies beyond the end of the " + std::to_string(size) +
                      "-byte pack (truncated pack or wrong index)"
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
          ThrowCode("ERR_CORRUPT", "blob decodes to " + std::to_string(n) + " bytes but the index says " +
                                       std::to_string(e->rawLength));
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
      Add(rep, p, 0, size, nullptr, "ERR_CORRUPT",
          "pack of " + std::to_string(size) + " bytes is too short to hold a header and trailer");
      return;
    }
    uint8_t trailer[pack::kTrailerSize];
    const uint64_t trailerAt = size - pack::kTrailerSize;
    uint32_t headerLen;
    std::vector<pack::Entry> header;
    try {
      if (f->pread(trailer, sizeof trailer, trailerAt) != sizeof trailer)
        ThrowCode("ERR_CORRUPT", "pack trailer could not be read");
      headerLen = pack::ParseTrailer(trailer, size);
    } catch (const Failure& fl) {
      Add(rep, p, trailerAt, pack::kTrailerSize, nullptr, fl.error().code, fl.error().message);
      return;
    }
    const uint64_t headerAt = trailerAt - headerLen;
    try {
      std::vector<uint8_t> h(headerLen);
      if (f->pread(h.data(), headerLen, headerAt) != headerLen)
        ThrowCode("ERR_CORRUPT", "pack header could not be read");
      header = pack::OpenHeader(h.data(), h.size(), keys_.data, gcm);
    } catch (const Failure& fl) {
      Add(rep, p, headerAt, headerLen, nullptr, fl.error().code, fl.error().message);
      return;
    }
    for (const pack::LayoutProblem& lp : pack::CheckLayout(header, headerAt, headerLen))
      Add(rep, p, lp.offset, lp.length, nullptr, "ERR_CORRUPT", lp.message);
    std::map<uint64_t, const pack::Entry*> byOffset;
    for (const pack::Entry& e : header) byOffset[e.offset] = &e;
    for (const ChunkRef& e : p.entries) {
      auto it = byOffset.find(e.offset);
      if (it == byOffset.end() || std::memcmp(it->second->id, e.id, blob::kIdSize) != 0 ||
          it->second->length != e.length || it->second->rawLength != e.rawLength)
        Add(rep, p, e.offset, e.length, e.id, "ERR_CORRUPT",
            "the index lists a blob that the pack header does not (different id, length or offset)");
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
Napi::Value VerifyJobFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value onProgress = OptionalFunction(env, info[1], "onProgress");
  CancelFlag cancel = CancelToken::FromValue(env, info[2], "cancel");
  return Job::Launch(env, std::make_unique<VerifyJob>(env, info), onProgress, cancel);
}

}  // namespace

void InitVerifyPacks(Napi::Env env, Napi::Object exports) {
  exports.Set("verifyPacksJob", Napi::Function::New(env, VerifyJobFn, "verifyPacksJob"));
}

}  // namespace ds
