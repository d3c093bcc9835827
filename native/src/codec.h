// zstd with reusable contexts: one Compressor and one Decompressor per worker thread (a context holds
// a few MiB of tables; creating one per chunk would cost more than compressing a small chunk).
// Each object is owned by one thread at a time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

typedef struct ZSTD_CCtx_s ZSTD_CCtx;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;

namespace ds::codec {

constexpr int kMinLevel = 1;
constexpr int kMaxLevel = 19;  // 20..22 ("ultra") need hundreds of MiB per context

// Worst-case compressed size of n bytes (ZSTD_compressBound).
size_t Bound(size_t n);

class Compressor {
 public:
  Compressor();
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;
  // One zstd frame with the content size in its header. Returns the compressed length, or 0 when it
  // would not fit in cap (callers then store the data uncompressed). Throws ERR_INTERNAL on other errors.
  size_t Compress(uint8_t* dst, size_t cap, const uint8_t* src, size_t len, int level);

 private:
  ZSTD_CCtx* ctx_;
  int level_ = 0;
};

class Decompressor {
 public:
  Decompressor();
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
  // Decompresses one or more frames into dst[0..cap). Returns the length. Throws ERR_TOO_LARGE when
  // the content exceeds cap and ERR_CORRUPT when src is not valid zstd. `what` names the data in messages.
  size_t Decompress(uint8_t* dst, size_t cap, const uint8_t* src, size_t len, const char* what);
  // As above into a vector that grows as needed up to maxSize (for frames whose size is not stated).
  void DecompressTo(std::vector<uint8_t>& out, size_t maxSize, const uint8_t* src, size_t len, const char* what);

 private:
  // Replaces the context with a fresh one after any streaming decode. A streaming decode keeps buffers
  // sized by the frame's window, and with them zstd can judge a later invalid input differently (too
  // large instead of corrupt): the verdict on one input must not depend on the inputs before it. The
  // one-shot path (every frame driveseed writes states its size) keeps no such state.
  void Renew() noexcept;
  ZSTD_DCtx* ctx_;
};

}  // namespace ds::codec
