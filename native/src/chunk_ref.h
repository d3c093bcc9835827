// What restoreJob (restore_job.cc) and verifyPacksJob (verify_packs_job.cc) share: a chunk reference
// read from a spec (binding.d.ts "Restore / verify pipeline", docs/format-packs.md) and the limits
// that apply to it. JS thread for GetChunkRef; the rest is plain data.
#pragma once
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "blob.h"
#include "errors.h"
#include "spec_args.h"

namespace ds::unpack {

inline constexpr int kPollMs = 50;
inline constexpr int64_t kMaxBlob = 1LL << 30;  // a single chunk/blob is at most 1 GiB (chunker.max bound)
inline constexpr size_t kReadSize = 8 << 20;

struct ChunkRef {
  uint32_t pack;
  uint64_t offset;
  uint32_t length;
  uint32_t rawLength;
  uint8_t id[blob::kIdSize];
};

// Reads {offset, length, rawLength, id} (and pack when withPack) of one chunk reference.
inline ChunkRef GetChunkRef(Napi::Env env, Napi::Value v, const std::string& at, bool withPack, uint32_t packs) {
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

inline std::string ErrorWithPlace(const NativeError& e, const std::string& pack, uint64_t offset) {
  return e.message + " (pack " + pack + ", offset " + std::to_string(offset) + ")";
}

}  // namespace ds::unpack
