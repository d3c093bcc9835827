// scrypt(password, salt, N, r, p, keyLen) → Promise<Buffer> and scryptImplementation()
// (binding.d.ts "Key derivation"). The derivation runs on the libuv pool, where node:crypto's own
// scrypt runs: one short computation per command, not a job with workers (CONTRIBUTING.md, "Native
// code"), so it needs no job thread, progress or cancellation.
#include <openssl/crypto.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "errors.h"
#include "modules.h"
#include "scrypt.h"
#include "spec_args.h"

namespace ds {

namespace {

constexpr int64_t kMaxInput = 1LL << 30;  // password, salt and key: 1 GiB each, so OpenSSL's int lengths hold them

// Bytes zeroed before they are freed.
struct WipedBytes {
  std::vector<uint8_t> v;
  WipedBytes() = default;
  WipedBytes(const uint8_t* p, size_t n) : v(p, p + n) {}
  ~WipedBytes() {
    if (!v.empty()) OPENSSL_cleanse(v.data(), v.size());
  }
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
};

class ScryptWorker : public Napi::AsyncWorker {
 public:
  ScryptWorker(Napi::Env env, const args::Bytes& password, const args::Bytes& salt, uint64_t n, uint64_t r, uint64_t p,
               size_t keyLen, scrypt::Impl impl)
      : Napi::AsyncWorker(env, "driveseed.scrypt"),
        deferred_(Napi::Promise::Deferred::New(env)),
        password_(password.data, password.len),
        salt_(salt.data, salt.len),
        n_(n),
        r_(r),
        p_(p),
        impl_(impl) {
    key_.v.resize(keyLen);
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  // libuv pool thread.
  void Execute() override {
    try {
      scrypt::Derive(password_.v.data(), password_.v.size(), salt_.v.data(), salt_.v.size(), n_, r_, p_, key_.v.data(),
                     key_.v.size(), impl_);
    } catch (const Failure& f) {
      err_ = f.error();
      SetError(err_.message);
    } catch (const std::bad_alloc&) {
      err_.code = "ENOMEM";
      err_.message = "Out of memory in the native scrypt (128·r·N bytes)";
      SetError(err_.message);
    }
    OPENSSL_cleanse(password_.v.data(), password_.v.size());
  }

  // JS thread.
  void OnOK() override { deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), key_.v.data(), key_.v.size())); }

  // JS thread.
  void OnError(const Napi::Error&) override { deferred_.Reject(ToJsError(Env(), err_).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  WipedBytes password_;
  WipedBytes salt_;
  WipedBytes key_;
  uint64_t n_, r_, p_;
  scrypt::Impl impl_;
  NativeError err_;
};

// DRIVESEED_SCRYPT_SIMD, read on the JS thread (the one thread that changes the environment: Node's
// process.env setter), so tests can switch levels between calls.
scrypt::Impl ChosenImpl() {
  return scrypt::Pick(std::getenv("DRIVESEED_SCRYPT_SIMD"));  // NOLINT(concurrency-mt-unsafe): JS thread
}

// JS thread: validates, copies the inputs and queues the derivation.
Napi::Value Scrypt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  args::Bytes password = args::GetBytes(env, info[0], "password");
  args::Bytes salt = args::GetBytes(env, info[1], "salt");
  if (password.len > static_cast<size_t>(kMaxInput)) ThrowType(env, "Expected at most 1073741824 bytes for password");
  if (salt.len > static_cast<size_t>(kMaxInput)) ThrowType(env, "Expected at most 1073741824 bytes for salt");
  const auto n = static_cast<uint64_t>(args::GetInt(env, info[2], "N", 2, int64_t{1} << 32));
  const auto r = static_cast<uint64_t>(args::GetInt(env, info[3], "r", 1, (int64_t{1} << 30) - 1));
  const auto p = static_cast<uint64_t>(args::GetInt(env, info[4], "p", 1, (int64_t{1} << 30) - 1));
  const auto keyLen = static_cast<size_t>(args::GetInt(env, info[5], "keyLen", 1, kMaxInput));
  // Parameter errors throw here, before any memory is taken.
  return args::Guard(env, [&]() -> Napi::Value {
    scrypt::CheckParams(n, r, p);
    auto* worker = new ScryptWorker(env, password, salt, n, r, p, keyLen, ChosenImpl());
    Napi::Promise promise = worker->Promise();
    worker->Queue();  // the worker deletes itself after OnOK / OnError
    return promise;
  });
}

// JS thread.
Napi::Value ScryptImplementation(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), simd::Name(ChosenImpl()));
}

}  // namespace

void InitScrypt(Napi::Env env, Napi::Object exports) {
  scrypt::Best();  // asks the CPU here on the JS thread, once
  exports.Set("scrypt", Napi::Function::New(env, Scrypt, "scrypt"));
  exports.Set("scryptImplementation", Napi::Function::New(env, ScryptImplementation, "scryptImplementation"));
}

}  // namespace ds
