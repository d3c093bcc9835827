#include "blob.h"

#include <cmath>
#include <cstring>
#include <string>

#include "blake3.h"
#include "errors.h"

namespace ds::blob {

void Codec::Id(const Keys& keys, const uint8_t* raw, size_t len, uint8_t id[kIdSize]) {
  static_assert(kIdSize == blake3::kOutSize && sizeof keys.id == blake3::kKeySize);
  if (keys.idScheme == IdScheme::Blake3Keyed)
    blake3::Blake3Keyed(keys.id, raw, len, id);
  else
    crypto::HmacSha256(keys.id, sizeof keys.id, raw, len, id);
}

bool LooksIncompressible(const uint8_t* raw, size_t len) {
  if (len < kSampleFrom) return false;
  uint32_t count[256] = {};
  const size_t stride = (len - kSampleSize) / (kSamples - 1);  // first sample at 0, last at the very end
  for (size_t i = 0; i < kSamples; i++) {
    const uint8_t* p = raw + i * stride;
    for (size_t k = 0; k < kSampleSize; k++) count[p[k]]++;
  }
  constexpr double kTotal = static_cast<double>(kSamples * kSampleSize);
  double bits = 0;
  for (uint32_t c : count)
    if (c) bits -= c / kTotal * std::log2(c / kTotal);
  return bits >= kRandomBits;
}

size_t Codec::Compress(const uint8_t* raw, size_t len, int level, uint8_t* out, size_t cap) {
  if (len < 2 || LooksIncompressible(raw, len)) return 0;
  return zc_.Compress(out, cap, raw, len, level);
}

size_t Codec::Encode(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* raw, size_t len, int level,
                     uint8_t* out, uint8_t* codecUsed) {
  uint8_t* nonce = out;
  uint8_t* body = out + crypto::kNonceSize;  // codec byte, then payload
  crypto::RandomBytes(nonce, crypto::kNonceSize);
  // Capacity len - 1: a frame that does not come out strictly shorter than raw is not worth decoding.
  size_t z = Compress(raw, len, level, body + 1, len - 1);
  size_t payload;
  if (z > 0) {
    body[0] = kCodecZstd;
    payload = z;
  } else {
    body[0] = kCodecStored;
    if (len) std::memcpy(body + 1, raw, len);
    payload = len;
  }
  if (codecUsed) *codecUsed = body[0];
  gcm_.Seal(keys.data, nonce, id, kIdSize, body, 1 + payload, body, body + 1 + payload);
  return kOverhead + payload;
}

void Codec::EncodeSplit(const Keys& keys, const uint8_t id[kIdSize], uint8_t* raw, size_t len, int level, uint8_t* zbuf,
                        Split& out) {
  crypto::RandomBytes(out.head, crypto::kNonceSize);
  const size_t z = Compress(raw, len, level, zbuf, len - 1);
  uint8_t* body = z > 0 ? zbuf : raw;
  out.body = body;
  out.bodyLen = z > 0 ? z : len;
  uint8_t* codecByte = out.head + crypto::kNonceSize;
  *codecByte = z > 0 ? kCodecZstd : kCodecStored;
  gcm_.Seal2(keys.data, out.head, id, kIdSize, codecByte, 1, codecByte, body, out.bodyLen, body, out.tag);
}

size_t Codec::Unseal(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* blob, size_t len) {
  if (len < kOverhead)
    ThrowCode("ERR_CORRUPT", "blob of " + std::to_string(len) + " bytes is shorter than the " +
                                 std::to_string(kOverhead) + "-byte minimum (nonce, codec byte, tag)");
  size_t bodyLen = len - crypto::kNonceSize - crypto::kTagSize;
  if (scratch_.size() < bodyLen) scratch_.resize(bodyLen);
  if (!gcm_.Open(keys.data, blob, id, kIdSize, blob + crypto::kNonceSize, bodyLen, blob + len - crypto::kTagSize,
                 scratch_.data()))
    ThrowCode("ERR_AUTH", "blob failed AES-GCM authentication (tampered data, wrong key, or stored under another id)");
  if (scratch_[0] != kCodecStored && scratch_[0] != kCodecZstd)
    ThrowCode("ERR_CORRUPT", "blob has unknown codec byte " + std::to_string(scratch_[0]) + " (expected 0 or 1)");
  return bodyLen - 1;
}

void Codec::CheckId(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* raw, size_t len) {
  uint8_t check[kIdSize];
  Id(keys, raw, len, check);
  if (std::memcmp(check, id, kIdSize) != 0)
    ThrowCode("ERR_CORRUPT",
              keys.idScheme == IdScheme::Blake3Keyed
                  ? "blob content does not match its id (keyed BLAKE3 differs): wrong idKey or a bug in the writer"
                  : "blob content does not match its id (HMAC-SHA-256 differs): wrong idKey or a bug in the writer");
}

size_t Codec::Decode(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* blob, size_t len, uint8_t* out,
                     size_t cap) {
  size_t payloadLen = Unseal(keys, id, blob, len);
  const uint8_t* payload = scratch_.data() + 1;
  size_t rawLen;
  if (scratch_[0] == kCodecStored) {
    if (payloadLen > cap)
      ThrowCode("ERR_TOO_LARGE",
                "blob holds " + std::to_string(payloadLen) + " bytes, more than the maximum of " + std::to_string(cap));
    if (payloadLen) std::memcpy(out, payload, payloadLen);
    rawLen = payloadLen;
  } else {
    rawLen = zd_.Decompress(out, cap, payload, payloadLen, "blob payload");
  }
  CheckId(keys, id, out, rawLen);
  return rawLen;
}

void Codec::DecodeTo(const Keys& keys, const uint8_t id[kIdSize], const uint8_t* blob, size_t len,
                     std::vector<uint8_t>& out, size_t maxSize) {
  size_t payloadLen = Unseal(keys, id, blob, len);
  const uint8_t* payload = scratch_.data() + 1;
  if (scratch_[0] == kCodecStored) {
    if (payloadLen > maxSize)
      ThrowCode("ERR_TOO_LARGE", "blob holds " + std::to_string(payloadLen) + " bytes, more than the maximum of " +
                                     std::to_string(maxSize));
    out.assign(payload, payload + payloadLen);
  } else {
    zd_.DecompressTo(out, maxSize, payload, payloadLen, "blob payload");
  }
  CheckId(keys, id, out.data(), out.size());
}

}  // namespace ds::blob
