// Shared by the libFuzzer harnesses in native/fuzz (scripts/fuzz.mjs builds and runs them). The
// harnesses call the product code in native/src directly; this header only holds the fixed test keys
// and the checks that turn a broken property into a crash libFuzzer records.
#pragma once
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "blob.h"
#include "errors.h"

namespace ds::fuzz {

// A property of the product code does not hold: print it and abort, so libFuzzer saves the input.
#define FUZZ_CHECK(cond, ...)                                                                \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                     \
      std::fprintf(stderr, "\n");                                                            \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

// The repository keys every harness and seed uses (any fixed value does: the fuzzer plays someone
// who can write bytes but, except in the resealing mutators, does not hold the key).
inline const blob::Keys& TestKeys() {
  static const blob::Keys keys = [] {
    blob::Keys k{};
    for (size_t i = 0; i < sizeof k.data; i++) k.data[i] = static_cast<uint8_t>(i * 7 + 1);
    for (size_t i = 0; i < sizeof k.id; i++) k.id[i] = static_cast<uint8_t>(0xA5 ^ (i * 13));
    return k;
  }();
  return keys;
}

// A Failure whose code is not one the contract allows for this call is a bug (an ERR_INTERNAL from
// a decoder means a library call failed in a way the code did not expect).
inline void ExpectCode(const Failure& f, std::initializer_list<const char*> allowed, const char* what) {
  for (const char* c : allowed)
    if (f.error().code == c) return;
  FUZZ_CHECK(false, "%s threw %s: %s", what, f.error().code.c_str(), f.error().message.c_str());
}

// When Decompress and DecompressTo (codec.h) report different outcomes for the same bytes, whether
// `code` ("" for success) is still a true statement about them, judged by zstd itself: ERR_TOO_LARGE
// when more than cap bytes come out before the data ends or goes bad; ERR_CORRUPT when the streaming
// or the one-shot decoder rejects the data; success when one of them accepts it within cap. Data can
// be both too large and corrupt, and zstd's one-shot decoder accepts a block larger than the frame's
// window and a window above the streaming decoder's memory limit, both of which its streaming decoder
// rejects (driveseed's writer makes neither).
inline bool ZstdJustifies(const uint8_t* src, size_t len, size_t cap, const std::string& code) {
  static std::vector<uint8_t> big(16 << 20);
  ZSTD_DCtx* d = ZSTD_createDCtx();
  size_t one = ZSTD_decompressDCtx(d, big.data(), big.size(), src, len);
  const bool oneOk = !ZSTD_isError(one);
  ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
  // Streams one output byte at a time up to cap + 1 (zstd does not advance ob.pos in a call that
  // fails, so bigger steps would hide bytes that came out before the error), then the rest at once.
  ZSTD_inBuffer in{src, len, 0};
  ZSTD_outBuffer ob{big.data(), 0, 0};
  bool streamOk = false, unknown = false;
  for (;;) {
    ob.size = ob.pos <= cap ? ob.pos + 1 : big.size();
    const size_t inBefore = in.pos, outBefore = ob.pos;
    size_t r = ZSTD_decompressStream(d, &ob, &in);
    if (ZSTD_isError(r)) break;
    if (r == 0 && in.pos == in.size) {
      streamOk = true;
      break;
    }
    if (ob.pos == big.size()) {  // more than 16 MiB: whether it is valid stays unknown
      unknown = true;
      break;
    }
    if (ob.pos < ob.size && (in.pos == in.size || (in.pos == inBefore && ob.pos == outBefore))) break;  // truncated
  }
  ZSTD_freeDCtx(d);
  if (code == "ERR_TOO_LARGE") return ob.pos > cap || (oneOk && one > cap);
  if (code == "ERR_CORRUPT") return unknown || !streamOk || !oneOk;
  return (oneOk && one <= cap) || (streamOk && ob.pos <= cap);
}

inline uint32_t ReadU32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }

}  // namespace ds::fuzz
