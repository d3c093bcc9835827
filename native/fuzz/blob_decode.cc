// blob_decode: blob::Codec::Decode / DecodeTo on tampered and random blobs under a fixed key.
// Input: id(32) || blob. libFuzzer's own mutations change ciphertext, tag, nonce or id, so almost
// every input must fail authentication (ERR_AUTH) or be too short (ERR_CORRUPT); nothing may crash,
// leak, read out of bounds, throw another code, or make Decode and DecodeTo disagree (blob_check.h).
#include <cstddef>
#include <cstdint>

#include "blob_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ds::blob::Codec codec;  // reused across inputs, as a worker reuses its codec across blobs
  ds::fuzz::CheckBlob(codec, data, size);
  return 0;
}
