// blob_resealed: valid blobs, mutated behind the authentication. Input: id(32) || blob, as in
// blob_decode, but a custom mutator opens the blob with the test key, lets libFuzzer mutate the
// plaintext (codec byte and payload: zstd frames, stored bytes), recomputes the id from what the
// payload decodes to (so the id check passes as often as not) and seals it again. This reaches the
// codec-byte check, the zstd decoder and the id check with data that authenticates: a writer bug or
// someone holding the key. Same checks as blob_decode (blob_check.h).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "blob_check.h"
#include "codec.h"
#include "crypto.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t maxSize);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ds::blob::Codec codec;
  ds::fuzz::CheckBlob(codec, data, size);
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t maxSize, unsigned int seed) {
  using namespace ds;
  constexpr size_t kIdSize = blob::kIdSize, kNonce = crypto::kNonceSize, kTag = crypto::kTagSize;
  constexpr size_t kMin = kIdSize + blob::kOverhead;
  if (size < kMin || maxSize < kMin + 1 || seed % 8 == 0) return LLVMFuzzerMutate(data, size, maxSize);
  static crypto::Gcm gcm;
  static codec::Decompressor zd;
  const blob::Keys& keys = fuzz::TestKeys();
  uint8_t* id = data;
  uint8_t* nonce = data + kIdSize;
  uint8_t* body = nonce + kNonce;
  size_t bodyLen = size - kIdSize - kNonce - kTag;
  // The plaintext (codec byte || payload); an input that does not open is mutated as if it were one.
  std::vector<uint8_t> plain(maxSize - kIdSize - kNonce - kTag);
  if (!gcm.Open(keys.data, nonce, id, kIdSize, body, bodyLen, body + bodyLen, plain.data()))
    std::memcpy(plain.data(), body, bodyLen);
  size_t plainLen = LLVMFuzzerMutate(plain.data(), bodyLen, plain.size());
  if (plainLen == 0) plain[plainLen++] = 0;
  if (seed % 4 != 0) plain[0] &= 1;  // mostly a known codec byte, so the payload gets decoded
  // The id of what the payload decodes to, unless this round keeps the old (wrong) id.
  if (seed % 16 != 1) {
    try {
      std::vector<uint8_t> raw;
      if (plain[0] == blob::kCodecStored)
        raw.assign(plain.begin() + 1, plain.begin() + static_cast<std::ptrdiff_t>(plainLen));
      else
        zd.DecompressTo(raw, fuzz::kBlobCap, plain.data() + 1, plainLen - 1, "payload");
      crypto::HmacSha256(keys.id, sizeof keys.id, raw.data(), raw.size(), id);
    } catch (const Failure&) {
    }
  }
  gcm.Seal(keys.data, nonce, id, kIdSize, plain.data(), plainLen, body, body + plainLen);
  return kIdSize + kNonce + plainLen + kTag;
}
