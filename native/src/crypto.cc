#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <tuple>

#include "errors.h"

namespace ds::crypto {

namespace {
[[noreturn]] void LibFail(const char* what) {
  ThrowCode("ERR_INTERNAL", std::string("OpenSSL ") + what + " failed in the native data plane; please report");
}

// EVP update calls take int lengths: feed larger buffers in pieces.
constexpr size_t kMaxPiece = static_cast<size_t>(INT_MAX) & ~static_cast<size_t>(15);
}  // namespace

Digest::Digest(Algo algo) : algo_(algo), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) LibFail("EVP_MD_CTX_new");
  Reset();
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

void Digest::Reset() {
  if (EVP_DigestInit_ex(ctx_, algo_ == MD5 ? EVP_md5() : EVP_sha256(), nullptr) != 1) LibFail("EVP_DigestInit_ex");
}

void Digest::Update(const void* data, size_t len) {
  if (len == 0) return;
  if (EVP_DigestUpdate(ctx_, data, len) != 1) LibFail("EVP_DigestUpdate");
}

void Digest::Final(uint8_t* out) {
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_, out, &n) != 1) LibFail("EVP_DigestFinal_ex");
  Reset();
}

void Md5(const void* data, size_t len, uint8_t out[kMd5Size]) {
  if (EVP_Digest(data, len, out, nullptr, EVP_md5(), nullptr) != 1) LibFail("EVP_Digest(md5)");
}

void Sha256(const void* data, size_t len, uint8_t out[kSha256Size]) {
  if (EVP_Digest(data, len, out, nullptr, EVP_sha256(), nullptr) != 1) LibFail("EVP_Digest(sha256)");
}

void HmacSha256(const uint8_t* key, size_t keyLen, const void* data, size_t len, uint8_t out[kSha256Size]) {
  unsigned int n = 0;
  static const uint8_t kEmpty = 0;  // HMAC() treats a null data pointer as an error on some builds
  if (!HMAC(EVP_sha256(), key, static_cast<int>(keyLen), len ? static_cast<const uint8_t*>(data) : &kEmpty, len, out,
            &n))
    LibFail("HMAC");
}

BlockMd5::BlockMd5(uint64_t blockSize) : blockSize_(blockSize) {}

void BlockMd5::Update(const void* data, size_t len) {
  auto* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    size_t take = static_cast<size_t>(std::min<uint64_t>(len, blockSize_ - inBlock_));
    md5_.Update(p, take);
    p += take;
    len -= take;
    inBlock_ += take;
    if (inBlock_ == blockSize_) {
      uint8_t d[kMd5Size];
      md5_.Final(d);
      out_.append(reinterpret_cast<char*>(d), kMd5Size);
      inBlock_ = 0;
    }
  }
}

void BlockMd5::Finish() {
  if (inBlock_ == 0) return;
  uint8_t d[kMd5Size];
  md5_.Final(d);
  out_.append(reinterpret_cast<char*>(d), kMd5Size);
  inBlock_ = 0;
}

void RandomBytes(void* out, size_t len) {
  if (len && RAND_bytes(static_cast<unsigned char*>(out), static_cast<int>(len)) != 1) LibFail("RAND_bytes");
}

Gcm::Gcm() : ctx_(EVP_CIPHER_CTX_new()) {
  if (!ctx_) LibFail("EVP_CIPHER_CTX_new");
}

Gcm::~Gcm() { EVP_CIPHER_CTX_free(ctx_); }

void Gcm::Seal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
               const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[kTagSize]) {
  Seal2(key, nonce, aad, aadLen, in, len, out, nullptr, 0, nullptr, tag);
}

void Gcm::Seal2(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
                const uint8_t* in1, size_t len1, uint8_t* out1, const uint8_t* in2, size_t len2, uint8_t* out2,
                uint8_t tag[kTagSize]) {
  int n = 0;
  if (EVP_EncryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, key, nonce) != 1) LibFail("EVP_EncryptInit_ex");
  if (aadLen && EVP_EncryptUpdate(ctx_, nullptr, &n, aad, static_cast<int>(aadLen)) != 1)
    LibFail("EVP_EncryptUpdate(aad)");
  // GCM is a stream mode: EVP carries the keystream position across updates of any length.
  for (const auto& [in, len, out] : {std::tuple{in1, len1, out1}, std::tuple{in2, len2, out2}}) {
    for (size_t done = 0; done < len;) {
      size_t piece = std::min(len - done, kMaxPiece);
      if (EVP_EncryptUpdate(ctx_, out + done, &n, in + done, static_cast<int>(piece)) != 1)
        LibFail("EVP_EncryptUpdate");
      done += piece;
    }
  }
  uint8_t none[16];  // GCM's final step writes no bytes
  if (EVP_EncryptFinal_ex(ctx_, none, &n) != 1) LibFail("EVP_EncryptFinal_ex");
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), tag) != 1) LibFail("GCM get tag");
}

bool Gcm::Open(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
               const uint8_t* in, size_t len, const uint8_t tag[kTagSize], uint8_t* out) {
  int n = 0;
  if (EVP_DecryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, key, nonce) != 1) LibFail("EVP_DecryptInit_ex");
  if (aadLen && EVP_DecryptUpdate(ctx_, nullptr, &n, aad, static_cast<int>(aadLen)) != 1)
    LibFail("EVP_DecryptUpdate(aad)");
  for (size_t done = 0; done < len;) {
    size_t piece = std::min(len - done, kMaxPiece);
    if (EVP_DecryptUpdate(ctx_, out + done, &n, in + done, static_cast<int>(piece)) != 1) LibFail("EVP_DecryptUpdate");
    done += piece;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), const_cast<uint8_t*>(tag)) != 1)
    LibFail("GCM set tag");
  return EVP_DecryptFinal_ex(ctx_, out + len, &n) == 1;
}

std::string Hex(const uint8_t* data, size_t len) {
  static const char* kDigits = "0123456789abcdef";
  std::string s(len * 2, '0');
  for (size_t i = 0; i < len; i++) {
    s[2 * i] = kDigits[data[i] >> 4];
    s[2 * i + 1] = kDigits[data[i] & 15];
  }
  return s;
}

}  // namespace ds::crypto
