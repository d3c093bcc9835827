// The checks blob_decode and blob_resealed run on one input, laid out as id(32) || blob: the id is
// what the index would say the blob holds, the blob is what the pack holds (blob.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "blob.h"
#include "crypto.h"
#include "fuzz_common.h"

namespace ds::fuzz {

constexpr size_t kBlobCap = 1 << 20;  // the rawLength / maxSize the callers pass (restore, decodeBlob)

inline void CheckBlob(blob::Codec& codec, const uint8_t* data, size_t size) {
  if (size < blob::kIdSize) return;
  const blob::Keys& keys = TestKeys();
  const uint8_t* id = data;
  const uint8_t* b = data + blob::kIdSize;
  const size_t len = size - blob::kIdSize;

  // Decode into a fixed buffer (restore, verify) and DecodeTo a vector (decodeBlob): the same outcome.
  static std::vector<uint8_t> out(kBlobCap);
  std::string code1, code2;
  size_t n = 0;
  try {
    n = codec.Decode(keys, id, b, len, out.data(), kBlobCap);
    FUZZ_CHECK(n <= kBlobCap, "Decode returned %zu bytes, more than its capacity", n);
  } catch (const Failure& f) {
    ExpectCode(f, {"ERR_AUTH", "ERR_CORRUPT", "ERR_TOO_LARGE"}, "Decode");
    code1 = f.error().code;
  }
  std::vector<uint8_t> vec;
  try {
    codec.DecodeTo(keys, id, b, len, vec, kBlobCap);
  } catch (const Failure& f) {
    ExpectCode(f, {"ERR_AUTH", "ERR_CORRUPT", "ERR_TOO_LARGE"}, "DecodeTo");
    code2 = f.error().code;
  }
  if (code1 != code2) {
    // Only a zstd payload may explain it (ZstdJustifies); the blob authenticated, or both would say ERR_AUTH.
    static crypto::Gcm gcm;
    std::vector<uint8_t> plain(len - crypto::kNonceSize - crypto::kTagSize);
    FUZZ_CHECK(gcm.Open(keys.data, b, id, blob::kIdSize, b + crypto::kNonceSize, plain.size(),
                        b + len - crypto::kTagSize, plain.data()) &&
                   plain[0] == blob::kCodecZstd && ZstdJustifies(plain.data() + 1, plain.size() - 1, kBlobCap, code1) &&
                   ZstdJustifies(plain.data() + 1, plain.size() - 1, kBlobCap, code2),
               "Decode says '%s' but DecodeTo says '%s'", code1.c_str(), code2.c_str());
    return;
  }
  if (!code1.empty()) return;
  FUZZ_CHECK(vec.size() == n && (n == 0 || std::memcmp(vec.data(), out.data(), n) == 0),
             "Decode and DecodeTo return different bytes (%zu vs %zu)", n, vec.size());
  // What decodes must be what the id names, and encodes back to a blob that decodes to the same.
  uint8_t check[blob::kIdSize];
  codec.Id(keys, out.data(), n, check);
  FUZZ_CHECK(std::memcmp(check, id, blob::kIdSize) == 0, "a blob decoded to content whose HMAC is not its id");
  std::vector<uint8_t> again(blob::MaxBlobSize(n));
  size_t m = codec.Encode(keys, id, out.data(), n, 3, again.data());
  FUZZ_CHECK(m <= again.size(), "Encode wrote %zu bytes into %zu", m, again.size());
  std::vector<uint8_t> back;
  codec.DecodeTo(keys, id, again.data(), m, back, n);
  FUZZ_CHECK(back.size() == n && (n == 0 || std::memcmp(back.data(), out.data(), n) == 0),
             "re-encoded blob decodes differently");
}

}  // namespace ds::fuzz
