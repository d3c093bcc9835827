// Hashes, HMAC and AES-256-GCM over the OpenSSL that the node binary itself exports (toolchain notes:
// Node's headers come first on the include path, and nothing extra is linked).
//
// Each context object is owned by one thread at a time (workers keep their own); the free functions are
// safe on any thread. Failures of the library itself (allocation) throw ds::Failure{ERR_INTERNAL};
// a tag that does not verify is a normal `false` result, not an exception.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace ds::crypto {

constexpr size_t kMd5Size = 16;
constexpr size_t kSha256Size = 32;
constexpr size_t kKeySize = 32;    // AES-256 and HMAC-SHA-256 keys
constexpr size_t kNonceSize = 12;  // AES-GCM nonce (96 bits, the size GCM is designed for)
constexpr size_t kTagSize = 16;    // AES-GCM tag

// Incremental MD5 or SHA-256. Final() writes the digest and resets the context for reuse.
class Digest {
 public:
  enum Algo { MD5, SHA256 };
  explicit Digest(Algo algo);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void Update(const void* data, size_t len);
  void Final(uint8_t* out);  // 16 (MD5) or 32 (SHA-256) bytes
  void Reset();
  size_t size() const { return algo_ == MD5 ? kMd5Size : kSha256Size; }

 private:
  Algo algo_;
  EVP_MD_CTX* ctx_;
};

void Md5(const void* data, size_t len, uint8_t out[kMd5Size]);
void Sha256(const void* data, size_t len, uint8_t out[kSha256Size]);
void HmacSha256(const uint8_t* key, size_t keyLen, const void* data, size_t len, uint8_t out[kSha256Size]);

// MD5 of every `blockSize` block of a byte stream fed in pieces of any size (Azure's drive manifest
// hashes 4 MiB blocks; the last block may be short). Digests() is complete after Finish().
class BlockMd5 {
 public:
  explicit BlockMd5(uint64_t blockSize);
  void Update(const void* data, size_t len);
  void Finish();                                       // closes a partial last block
  const std::string& Digests() const { return out_; }  // 16 bytes per block, in order

 private:
  Digest md5_{Digest::MD5};
  uint64_t blockSize_;
  uint64_t inBlock_ = 0;
  std::string out_;
};

// Cryptographically secure random bytes (RAND_bytes). Throws ERR_INTERNAL if the generator fails.
void RandomBytes(void* out, size_t len);

// AES-256-GCM with a reusable cipher context. In-place operation (out == in) is allowed.
class Gcm {
 public:
  Gcm();
  ~Gcm();
  Gcm(const Gcm&) = delete;
  Gcm& operator=(const Gcm&) = delete;
  // Writes len ciphertext bytes to out and the 16-byte tag to tag. out may be in (in place).
  void Seal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
            const uint8_t* in, size_t len, uint8_t* out, uint8_t tag[kTagSize]);
  // As Seal over the plaintext in1[0..len1) || in2[0..len2), each piece's ciphertext written to its own
  // out (in place allowed): the same ciphertext and tag as Seal over the two pieces joined.
  void Seal2(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
             const uint8_t* in1, size_t len1, uint8_t* out1, const uint8_t* in2, size_t len2, uint8_t* out2,
             uint8_t tag[kTagSize]);
  // Writes len plaintext bytes to out; returns false when the tag does not verify (out is then garbage
  // and must not be used).
  bool Open(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
            const uint8_t* in, size_t len, const uint8_t tag[kTagSize], uint8_t* out);

 private:
  EVP_CIPHER_CTX* ctx_;
};

std::string Hex(const uint8_t* data, size_t len);

}  // namespace ds::crypto
