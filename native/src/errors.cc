#include "errors.h"

#include "platform.h"

namespace ds {

void ThrowSys(const char* syscall, int err, const std::string& path, int64_t offset) {
  NativeError e;
  e.code = platform::ErrorName(err);
  e.syscall = syscall;
  e.errnum = err;
  e.path = path;
  e.offset = offset;
  e.message = std::string(syscall) + " failed: " + platform::ErrorText(err) + " (" + e.code + ")";
  if (!path.empty()) e.message += ", path " + path;
  if (offset >= 0) e.message += ", offset " + std::to_string(offset);
  throw Failure(std::move(e));
}

void ThrowCode(const std::string& code, const std::string& message, const std::string& path, int64_t offset) {
  NativeError e;
  e.code = code;
  e.message = message;
  e.path = path;
  e.offset = offset;
  throw Failure(std::move(e));
}

Napi::Error ToJsError(Napi::Env env, const NativeError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  Napi::Object o = err.Value();
  o.Set("code", e.code);
  if (!e.syscall.empty()) o.Set("syscall", e.syscall);
  if (e.errnum != 0) o.Set("errno", e.errnum);
  if (!e.path.empty()) o.Set("path", e.path);
  if (e.offset >= 0) o.Set("offset", static_cast<double>(e.offset));
  return err;
}

void ThrowType(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

}  // namespace ds
