#include "codec.h"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <new>
#include <string>

#include "errors.h"

namespace ds::codec {

size_t Bound(size_t n) { return ZSTD_compressBound(n); }

Compressor::Compressor() : ctx_(ZSTD_createCCtx()) {
  if (!ctx_) throw std::bad_alloc();
}
Compressor::~Compressor() { ZSTD_freeCCtx(ctx_); }

size_t Compressor::Compress(uint8_t* dst, size_t cap, const uint8_t* src, size_t len, int level) {
  if (level != level_) {
    size_t r = ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(r))
      ThrowCode("ERR_INTERNAL", std::string("zstd level ") + std::to_string(level) + ": " + ZSTD_getErrorName(r));
    // Content size and a checksum-free frame: the chunk id (HMAC) already checks the content.
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_checksumFlag, 0);
    level_ = level;
  }
  size_t r = ZSTD_compress2(ctx_, dst, cap, src, len);
  if (ZSTD_isError(r)) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) return 0;
    ZSTD_CCtx_reset(ctx_, ZSTD_reset_session_only);
    ThrowCode("ERR_INTERNAL", std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
  }
  return r;
}

namespace {
// Sum of the content sizes that the frames in src state (skippable frames count 0), or
// ZSTD_CONTENTSIZE_UNKNOWN / ZSTD_CONTENTSIZE_ERROR. ZSTD_findDecompressedSize does this but is not
// in zstd's stable API.
unsigned long long StatedSize(const uint8_t* src, size_t len) {
  unsigned long long total = 0;
  while (len > 0) {
    size_t frame = ZSTD_findFrameCompressedSize(src, len);
    if (ZSTD_isError(frame)) return ZSTD_CONTENTSIZE_ERROR;
    unsigned long long n = ZSTD_getFrameContentSize(src, frame);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN) return n;
    if (n > ZSTD_CONTENTSIZE_ERROR - 1 - total) return ZSTD_CONTENTSIZE_ERROR;
    total += n;
    src += frame;
    len -= frame;
  }
  return total;
}
}  // namespace

Decompressor::Decompressor() : ctx_(ZSTD_createDCtx()) {
  if (!ctx_) throw std::bad_alloc();
}
Decompressor::~Decompressor() { ZSTD_freeDCtx(ctx_); }

size_t Decompressor::Decompress(uint8_t* dst, size_t cap, const uint8_t* src, size_t len, const char* what) {
  unsigned long long stated = ZSTD_getFrameContentSize(src, len);
  if (stated == ZSTD_CONTENTSIZE_ERROR)
    ThrowCode("ERR_CORRUPT", std::string(what) + " is not a valid zstd frame (bad header)");
  if (stated != ZSTD_CONTENTSIZE_UNKNOWN && stated > cap)
    ThrowCode("ERR_TOO_LARGE", std::string(what) + " decompresses to " + std::to_string(stated) +
                                   " bytes, more than the maximum of " + std::to_string(cap));
  size_t r = ZSTD_decompressDCtx(ctx_, dst, cap, src, len);
  if (ZSTD_isError(r)) {
    ZSTD_DCtx_reset(ctx_, ZSTD_reset_session_only);
    // zstd also says dstSize_tooSmall when a frame holds more than its header states: that is corrupt
    // data, not too much of it (DecompressTo, which streams, says ERR_CORRUPT for the same bytes).
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) {
      unsigned long long all = StatedSize(src, len);
      if (all == ZSTD_CONTENTSIZE_UNKNOWN || (all != ZSTD_CONTENTSIZE_ERROR && all > cap))
        ThrowCode("ERR_TOO_LARGE",
                  std::string(what) + " decompresses to more than the maximum of " + std::to_string(cap) + " bytes");
      ThrowCode("ERR_CORRUPT",
                std::string(what) + " is not valid zstd data: it holds more than its frame headers state");
    }
    ThrowCode("ERR_CORRUPT", std::string(what) + " is not valid zstd data: " + ZSTD_getErrorName(r));
  }
  return r;
}

void Decompressor::DecompressTo(std::vector<uint8_t>& out, size_t maxSize, const uint8_t* src, size_t len,
                                const char* what) {
  unsigned long long stated = ZSTD_getFrameContentSize(src, len);
  if (stated == ZSTD_CONTENTSIZE_ERROR)
    ThrowCode("ERR_CORRUPT", std::string(what) + " is not a valid zstd frame (bad header)");
  if (stated != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (stated > maxSize)
      ThrowCode("ERR_TOO_LARGE", std::string(what) + " decompresses to " + std::to_string(stated) +
                                     " bytes, more than the maximum of " + std::to_string(maxSize));
    // A frame may be followed by more frames: allow up to maxSize, starting at the stated size.
    out.resize(static_cast<size_t>(stated));
    size_t r = ZSTD_decompressDCtx(ctx_, out.data(), out.size(), src, len);
    if (!ZSTD_isError(r)) {
      out.resize(r);
      return;
    }
    ZSTD_DCtx_reset(ctx_, ZSTD_reset_session_only);
    if (ZSTD_getErrorCode(r) != ZSTD_error_dstSize_tooSmall)
      ThrowCode("ERR_CORRUPT", std::string(what) + " is not valid zstd data: " + ZSTD_getErrorName(r));
  }
  // Unknown or multi-frame size: stream, growing the output up to maxSize.
  ZSTD_DCtx_reset(ctx_, ZSTD_reset_session_only);
  out.resize(std::min<size_t>(maxSize, std::max<size_t>(len * 4, 64 * 1024)));
  ZSTD_inBuffer in{src, len, 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  for (;;) {
    size_t r = ZSTD_decompressStream(ctx_, &ob, &in);
    if (ZSTD_isError(r)) {
      ZSTD_DCtx_reset(ctx_, ZSTD_reset_session_only);
      ThrowCode("ERR_CORRUPT", std::string(what) + " is not valid zstd data: " + ZSTD_getErrorName(r));
    }
    if (r == 0 && in.pos == in.size) break;  // frame complete and input consumed
    if (ob.pos == ob.size) {
      if (ob.size >= maxSize) {
        ZSTD_DCtx_reset(ctx_, ZSTD_reset_session_only);
        ThrowCode("ERR_TOO_LARGE", std::string(what) + " decompresses to more than the maximum of " +
                                       std::to_string(maxSize) + " bytes");
      }
      out.resize(std::min<size_t>(maxSize, out.size() * 2));
      ob.dst = out.data();
      ob.size = out.size();
    } else if (in.pos == in.size) {
      ZSTD_DCtx_reset(ctx_, ZSTD_reset_session_only);
      ThrowCode("ERR_CORRUPT", std::string(what) + " is truncated zstd data");
    }
  }
  out.resize(ob.pos);
}

}  // namespace ds::codec
