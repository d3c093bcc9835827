// Blob framing (docs/format-packs.md §Blob): how one chunk is stored inside a pack.
//
//   id   = HMAC-SHA-256(idKey, raw)       repositories of format version 1
//   id   = BLAKE3 keyed_hash(idKey, raw)  version 2 (Keys::idScheme)
//   blob = nonce(12) || AES-256-GCM(dataKey, nonce, codec(1) || payload, aad = id) || tag(16)
//   codec 0 = stored (payload = raw), 1 = zstd (payload = one zstd frame with its content size)
//
// Binding the id as AAD means a blob cannot be moved under another id without failing authentication.
// zstd is used only when it makes the payload strictly shorter than raw, and not tried on a chunk of
// 64 KiB or more whose sampled bytes are as random as encrypted or compressed data (LooksIncompressible).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "codec.h"
#include "crypto.h"

namespace ds::blob {

constexpr size_t kIdSize = 32;
constexpr size_t kOverhead = crypto::kNonceSize + 1 + crypto::kTagSize;  // 29 bytes per blob
constexpr uint8_t kCodecStored = 0;
constexpr uint8_t kCodecZstd = 1;

// How a chunk's id is computed from idKey and its content: the repository's config says which.
enum class IdScheme : uint8_t { HmacSha256 = 0, Blake3Keyed = 1 };

struct Keys {
  uint8_t data[crypto::kKeySize];
  uint8_t id[crypto::kKeySize];
  IdScheme idScheme = IdScheme::HmacSha256;
};

// Largest blob that Encode can produce for rawLen bytes: the capacity its output buffer needs.
inline size_t MaxBlobSize(size_t rawLen) { return kOverhead + rawLen; }

// Whether raw[0..len) is not worth handing to zstd: at least kSampleFrom bytes, and the byte histogram
// of kSamples pieces of kSampleSize spread evenly over it (the first at 0, the last at the end) has an
// entropy of at least kRandomBits bits per byte. Uniform random bytes sample at about 7.994 bits (the
// estimate's bias with 32 KiB); encrypted data and zstd or xz output at 7.99 and more. Text,
// executables, databases, and a chunk with one sample of zeros or text among random ones fall well
// below, so they are still compressed. What the samples cannot see is stored as it is: a compressible
// stretch shorter than the gap between two samples (len / 16) inside otherwise random bytes, or random
// bytes repeated inside one chunk. Measured: zstd -3 spends 0.33 ns/B failing on random data; the
// estimate, 32 KiB of histogram per chunk, about 0.02 ns/B of a 1 MiB chunk (docs/format-packs.md).
constexpr size_t kSampleFrom = 64 << 10;
constexpr size_t kSamples = 16;
constexpr size_t kSampleSize = 2 << 10;
constexpr double kRandomBits = 7.98;
bool LooksIncompressible(const uint8_t* raw, size_t len);

// A blob in three pieces, so that a chunk stored as it is is encrypted where it lies instead of being
// copied: head (nonce and the encrypted codec byte), body (the encrypted payload) and the tag. Written
// out in that order they are exactly Encode's blob.
struct Split {
  uint8_t head[crypto::kNonceSize + 1];
  const uint8_t* body = nullptr;
  size_t bodyLen = 0;
  uint8_t tag[crypto::kTagSize];
  size_t size() const { return sizeof head + bodyLen + sizeof tag; }
};

// Per-thread encoder/decoder: owns its zstd and cipher contexts. Owned by one thread at a time.
class Codec {
 public:
  void Id(const Keys& keys, const uint8_t* raw, size_t len, uint8_t id[kIdSize]);
  // Writes the blob for raw[0..len) to out (capacity ≥ MaxBlobSize(len)) and returns its length.
  // Sets *codecUsed to kCodecStored or kCodecZstd.
  size_t Encode(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* raw, size_t len, int level, uint8_t* out,
                uint8_t* codecUsed = nullptr);
  // The same blob as Encode, in pieces: a compressed payload goes to zbuf (capacity ≥ len) and is
  // encrypted there; a stored one is encrypted in place, so raw then holds ciphertext. out.body points
  // into zbuf or raw.
  void EncodeSplit(const Keys& keys, const uint8_t id[kIdSize], uint8_t* raw, size_t len, int level, uint8_t* zbuf,
                   Split& out);
  // Decrypts, decompresses and checks the id; writes the raw bytes to out (capacity cap) and returns
  // their length. Throws ERR_AUTH (tag does not verify: tampered, wrong key or wrong id), ERR_CORRUPT
  // (too short, unknown codec byte, bad zstd, id mismatch) or ERR_TOO_LARGE (raw would exceed cap).
  // The messages say what is wrong but not where: callers add the pack and offset.
  size_t Decode(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* blob, size_t len, uint8_t* out, size_t cap);
  // As Decode, into a vector sized to the content (at most maxSize).
  void DecodeTo(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* blob, size_t len, std::vector<uint8_t>& out,
                size_t maxSize);

 private:
  // Decrypts into scratch_; returns the payload length (scratch_[0] is the codec byte).
  size_t Unseal(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* blob, size_t len);
  void CheckId(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* raw, size_t len);
  // zstd's frame for raw[0..len) in out[0..cap), or 0 to store raw as it is (not shorter, or not tried).
  size_t Compress(const uint8_t* raw, size_t len, int level, uint8_t* out, size_t cap);

  codec::Compressor zc_;
  codec::Decompressor zd_;
  crypto::Gcm gcm_;
  std::vector<uint8_t> scratch_;  // decrypted codec byte + payload; grows to the largest blob seen
};

}  // namespace ds::blob
