// One-shot functions for small buffers (binding.d.ts "One-shot functions"). Every function here runs
// on the JS thread and blocks it: metadata, keys, tests. Bulk data goes through packJob/restoreJob.
#include <cstdlib>
#include <vector>

#include "blake3.h"
#include "blob.h"
#include "chunker.h"
#include "codec.h"
#include "crypto.h"
#include "md5_mb.h"
#include "modules.h"
#include "spec_args.h"

namespace ds {

namespace {

using args::Bytes;
using args::GetBytes;

constexpr int64_t kMaxOneShot = 1LL << 30;  // 1 GiB: the one-shot API is not for bulk data

// Per JS thread (main thread or a worker): zstd and cipher contexts reused across calls.
blob::Codec& ThreadCodec() {
  thread_local blob::Codec c;
  return c;
}

Napi::Buffer<uint8_t> Copy(Napi::Env env, const uint8_t* p, size_t n) { return Napi::Buffer<uint8_t>::Copy(env, p, n); }

// JS thread.
Napi::Value Md5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  return args::Guard(env, [&]() -> Napi::Value {
    uint8_t out[crypto::kMd5Size];
    crypto::Md5(d.data, d.len, out);
    return Copy(env, out, sizeof out);
  });
}

// JS thread: MD5 of every blockSize piece of data, 16 bytes each, on the multi-buffer path.
Napi::Value Md5Blocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  size_t blockSize = static_cast<size_t>(args::GetInt(env, info[1], "blockSize", 1, kMaxOneShot));
  return args::Guard(env, [&]() -> Napi::Value {
    const size_t blocks = d.len == 0 ? 0 : (d.len - 1) / blockSize + 1;
    auto out = Napi::Buffer<uint8_t>::New(env, blocks * md5::kDigestSize);
    md5::HashBlocks(d.data, d.len, blockSize, out.Data());
    return out;
  });
}

// JS thread: MD5 of each message of a list, 16 bytes each, in order.
Napi::Value Md5Many(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = args::GetArray(env, info[0], "messages");
  std::vector<const uint8_t*> ptrs(list.Length());
  std::vector<size_t> lens(list.Length());
  int64_t total = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Bytes b = GetBytes(env, list.Get(i), "messages[" + std::to_string(i) + "]");
    ptrs[i] = b.data;
    lens[i] = b.len;
    total += static_cast<int64_t>(b.len);
  }
  if (total > kMaxOneShot) ThrowType(env, "Expected at most 1073741824 bytes in all for messages");
  return args::Guard(env, [&]() -> Napi::Value {
    auto out = Napi::Buffer<uint8_t>::New(env, ptrs.size() * md5::kDigestSize);
    md5::HashMany(ptrs.data(), lens.data(), ptrs.size(), out.Data());
    return out;
  });
}

// JS thread.
Napi::Value Md5Implementation(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), simd::Name(md5::Active()));
}

// JS thread.
Napi::Value Sha256(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  return args::Guard(env, [&]() -> Napi::Value {
    uint8_t out[crypto::kSha256Size];
    crypto::Sha256(d.data, d.len, out);
    return Copy(env, out, sizeof out);
  });
}

// JS thread.
Napi::Value Hmac(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes k = GetBytes(env, info[0], "key");
  Bytes d = GetBytes(env, info[1], "data");
  return args::Guard(env, [&]() -> Napi::Value {
    uint8_t out[crypto::kSha256Size];
    crypto::HmacSha256(k.data, k.len, d.data, d.len, out);
    return Copy(env, out, sizeof out);
  });
}

// DRIVESEED_BLAKE3, read on each call on the JS thread (the one thread that changes the environment:
// Node's process.env setter), so tests and benchmarks can switch levels between calls.
blake3::Impl Blake3Cap() {
  return blake3::Pick(std::getenv("DRIVESEED_BLAKE3"));  // NOLINT(concurrency-mt-unsafe): JS thread
}

// JS thread: BLAKE3, or its keyed_hash when a key is given, at the level Blake3Cap() allows.
Napi::Value Blake3(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  if (!info[1].IsUndefined() && (!args::IsUint8Array(info[1]) || info[1].As<Napi::Uint8Array>().ByteLength() != 32))
    ThrowType(env, "Expected a 32-byte Uint8Array or undefined for key");
  const bool keyed = !info[1].IsUndefined();
  Bytes k = keyed ? GetBytes(env, info[1], "key", blake3::kKeySize) : Bytes{};
  const blake3::Impl impl = Blake3Cap();
  uint8_t out[blake3::kOutSize];
  if (keyed)
    blake3::Blake3Keyed(k.data, d.data, d.len, out, impl);
  else
    blake3::Blake3Hash(d.data, d.len, out, impl);
  return Copy(env, out, sizeof out);
}

// JS thread.
Napi::Value Blake3Level(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), simd::Name(Blake3Cap()));
}

// JS thread.
Napi::Value LooksIncompressible(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  return Napi::Boolean::New(env, blob::LooksIncompressible(d.data, d.len));
}

Bytes OptionalAad(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined()) return Bytes{};
  if (!args::IsUint8Array(v)) ThrowType(env, "Expected a Uint8Array or undefined for aad");
  return GetBytes(env, v, "aad");
}

// JS thread.
Napi::Value GcmEncrypt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes key = GetBytes(env, info[0], "key", crypto::kKeySize);
  Bytes nonce = GetBytes(env, info[1], "nonce", crypto::kNonceSize);
  Bytes pt = GetBytes(env, info[2], "plaintext");
  Bytes aad = OptionalAad(env, info[3]);
  return args::Guard(env, [&]() -> Napi::Value {
    Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, pt.len + crypto::kTagSize);
    crypto::Gcm gcm;
    gcm.Seal(key.data, nonce.data, aad.data, aad.len, pt.data, pt.len, out.Data(), out.Data() + pt.len);
    return out;
  });
}

// JS thread.
Napi::Value GcmDecrypt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes key = GetBytes(env, info[0], "key", crypto::kKeySize);
  Bytes nonce = GetBytes(env, info[1], "nonce", crypto::kNonceSize);
  if (!args::IsUint8Array(info[2]) || info[2].As<Napi::Uint8Array>().ByteLength() < crypto::kTagSize)
    ThrowType(env, "Expected a Uint8Array of at least 16 bytes (ciphertext and tag) for sealed");
  Bytes sealed = GetBytes(env, info[2], "sealed");
  Bytes aad = OptionalAad(env, info[3]);
  return args::Guard(env, [&]() -> Napi::Value {
    size_t n = sealed.len - crypto::kTagSize;
    std::vector<uint8_t> out(n);
    crypto::Gcm gcm;
    if (!gcm.Open(key.data, nonce.data, aad.data, aad.len, sealed.data, n, sealed.data + n, out.data()))
      ThrowCode("ERR_AUTH",
                "AES-GCM authentication failed: the data was tampered with, or the key, nonce or aad is wrong");
    return Copy(env, out.data(), n);
  });
}

// JS thread.
Napi::Value ZstdCompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  int level = args::GetLevel(env, info[1], "level");
  return args::Guard(env, [&]() -> Napi::Value {
    std::vector<uint8_t> out(codec::Bound(d.len));
    codec::Compressor c;
    size_t n = c.Compress(out.data(), out.size(), d.data, d.len, level);
    if (n == 0) ThrowCode("ERR_INTERNAL", "zstd output exceeded ZSTD_compressBound; please report");
    return Copy(env, out.data(), n);
  });
}

// JS thread.
Napi::Value ZstdDecompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  size_t max = static_cast<size_t>(args::GetInt(env, info[1], "maxSize", 0, kMaxOneShot));
  return args::Guard(env, [&]() -> Napi::Value {
    std::vector<uint8_t> out;
    codec::Decompressor z;
    z.DecompressTo(out, max, d.data, d.len, "data");
    return Copy(env, out.data(), out.size());
  });
}

// JS thread.
Napi::Value ChunkLengths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  ChunkerParams p = args::GetChunker(env, info[1], "params");
  Chunker ch(p);
  std::vector<double> lens;
  size_t pos = 0, cur = 0;
  while (pos < d.len) {
    bool cut;
    size_t n = ch.Scan(d.data + pos, d.len - pos, &cut);
    pos += n;
    cur += n;
    if (cut) {
      lens.push_back(static_cast<double>(cur));
      cur = 0;
    }
  }
  if (cur) lens.push_back(static_cast<double>(cur));
  Napi::Array out = Napi::Array::New(env, lens.size());
  for (size_t i = 0; i < lens.size(); i++) out.Set(static_cast<uint32_t>(i), lens[i]);
  return out;
}

// JS thread.
Napi::Value EncodeBlob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes d = GetBytes(env, info[0], "data");
  blob::Keys keys = args::GetKeys(env, info[1], "keys");
  int level = args::GetLevel(env, info[2], "level");
  return args::Guard(env, [&]() -> Napi::Value {
    blob::Codec& c = ThreadCodec();
    uint8_t id[blob::kIdSize];
    c.Id(keys, d.data, d.len, id);
    std::vector<uint8_t> out(blob::MaxBlobSize(d.len));
    size_t n = c.Encode(keys, id, d.data, d.len, level, out.data());
    Napi::Object r = Napi::Object::New(env);
    r.Set("id", Copy(env, id, sizeof id));
    r.Set("blob", Copy(env, out.data(), n));
    return r;
  });
}

// JS thread.
Napi::Value DecodeBlob(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes b = GetBytes(env, info[0], "blob");
  Bytes id = GetBytes(env, info[1], "id", blob::kIdSize);
  blob::Keys keys = args::GetKeys(env, info[2], "keys");
  size_t max = static_cast<size_t>(args::GetInt(env, info[3], "maxSize", 0, kMaxOneShot));
  return args::Guard(env, [&]() -> Napi::Value {
    std::vector<uint8_t> out;
    ThreadCodec().DecodeTo(keys, id.data, b.data, b.len, out, max);
    return Copy(env, out.data(), out.size());
  });
}

}  // namespace

void InitUtil(Napi::Env env, Napi::Object exports) {
  md5::Active();     // picks the MD5 path (reads DRIVESEED_MD5) here on the JS thread, before any job runs
  blake3::Active();  // the same for BLAKE3 chunk ids (reads DRIVESEED_BLAKE3)
  exports.Set("md5", Napi::Function::New(env, Md5, "md5"));
  exports.Set("md5Blocks", Napi::Function::New(env, Md5Blocks, "md5Blocks"));
  exports.Set("md5Many", Napi::Function::New(env, Md5Many, "md5Many"));
  exports.Set("md5Implementation", Napi::Function::New(env, Md5Implementation, "md5Implementation"));
  exports.Set("sha256", Napi::Function::New(env, Sha256, "sha256"));
  exports.Set("hmacSha256", Napi::Function::New(env, Hmac, "hmacSha256"));
  exports.Set("blake3", Napi::Function::New(env, Blake3, "blake3"));
  exports.Set("blake3Level", Napi::Function::New(env, Blake3Level, "blake3Level"));
  exports.Set("aesGcmEncrypt", Napi::Function::New(env, GcmEncrypt, "aesGcmEncrypt"));
  exports.Set("aesGcmDecrypt", Napi::Function::New(env, GcmDecrypt, "aesGcmDecrypt"));
  exports.Set("zstdCompress", Napi::Function::New(env, ZstdCompress, "zstdCompress"));
  exports.Set("zstdDecompress", Napi::Function::New(env, ZstdDecompress, "zstdDecompress"));
  exports.Set("chunkLengths", Napi::Function::New(env, ChunkLengths, "chunkLengths"));
  exports.Set("looksIncompressible", Napi::Function::New(env, LooksIncompressible, "looksIncompressible"));
  exports.Set("encodeBlob", Napi::Function::New(env, EncodeBlob, "encodeBlob"));
  exports.Set("decodeBlob", Napi::Function::New(env, DecodeBlob, "decodeBlob"));
}

}  // namespace ds
