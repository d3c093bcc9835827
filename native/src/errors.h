// Native errors as data. Every failure in the data plane is a ds::Failure carrying a NativeError;
// it crosses into JS as an Error with {code, syscall, errno, path, offset} (CONTRIBUTING.md, "Errors").
#pragma once
#include <napi.h>
#include <cstdint>
#include <exception>
#include <string>

namespace ds {

struct NativeError {
  std::string code;     // stable: an errno name ("EBUSY", "ENOSPC") or a driveseed code ("ERR_CANCELLED")
  std::string message;  // one line, no secrets
  std::string syscall;  // "open", "pwrite", "DeviceIoControl", ... or empty
  int errnum = 0;       // errno (POSIX) or GetLastError() (Windows); 0 when not an OS error
  std::string path;     // file or device involved, or empty
  int64_t offset = -1;  // byte offset involved, or -1
};

class Failure : public std::exception {
 public:
  explicit Failure(NativeError e) : err_(std::move(e)) {}
  const char* what() const noexcept override { return err_.message.c_str(); }
  const NativeError& error() const { return err_; }

 private:
  NativeError err_;
};

// An OS call failed. `err` is errno / GetLastError(); code becomes its portable name.
[[noreturn]] void ThrowSys(const char* syscall, int err, const std::string& path, int64_t offset = -1);
// A driveseed condition (code like "ERR_ALIGNMENT"), not an OS error.
[[noreturn]] void ThrowCode(const std::string& code, const std::string& message, const std::string& path = "",
                            int64_t offset = -1);

// JS thread only: builds the JS Error object for `e`.
Napi::Error ToJsError(Napi::Env env, const NativeError& e);
// JS thread only: throws a TypeError whose message is exactly `message` (argument validation).
[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);

}  // namespace ds
