// Blob framing (docs/format-packs.md §Blob): how one chunk is stored inside a pack.
//
//   id   = HMAC-SHA-256(idKey, raw)       repositories of format version 1
//   id   = BLAKE3 keyed_hash(idKey, raw)  version 2 (Keys::idScheme)
//   blob = nonce(12) || AES-256-GCM(dataKey, nonce, codec(1) || payload, aad = id) || tag(16)
//   codec 0 = stored (payload = raw), 1 = zstd (payload = one zstd frame with its content size)
//
// Binding the id as AAD means a blob cannot be moved under another id without failing authentication.
// zstd is used only when it makes the payload strictly shorter than raw.
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

// Per-thread encoder/decoder: owns its zstd and cipher contexts. Owned by one thread at a time.
class Codec {
 public:
  void Id(const Keys& keys, const uint8_t* raw, size_t len, uint8_t id[kIdSize]);
  // Writes the blob for raw[0..len) to out (capacity ≥ MaxBlobSize(len)) and returns its length.
  // Sets *codecUsed to kCodecStored or kCodecZstd.
  size_t Encode(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* raw, size_t len, int level, uint8_t* out,
                uint8_t* codecUsed = nullptr);
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

  codec::Compressor zc_;
  codec::Decompressor zd_;
  crypto::Gcm gcm_;
  std::vector<uint8_t> scratch_;  // decrypted codec byte + payload; grows to the largest blob seen
};

}  // namespace ds::blob
