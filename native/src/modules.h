// Each native module registers its exports here; addon.cc calls them in order. One module per file
// owner: target.cc (targets, locks), io_jobs.cc (direct writer/reader jobs), util_fns.cc (one-shot
// hashes, cipher, codec, chunking for small buffers), pack_job.cc (stage pipeline), restore_job.cc
// (restore pipeline), verify_packs_job.cc (pack verification), scrypt_fn.cc (the passphrase KDF),
// posix/dir_scan_posix.cc (the walker's directory listing; its Windows file exports nothing).
#pragma once
#include <napi.h>

namespace ds {
void InitTarget(Napi::Env env, Napi::Object exports);
void InitIoJobs(Napi::Env env, Napi::Object exports);
void InitUtil(Napi::Env env, Napi::Object exports);
void InitPack(Napi::Env env, Napi::Object exports);
void InitRestore(Napi::Env env, Napi::Object exports);
void InitVerifyPacks(Napi::Env env, Napi::Object exports);
void InitScrypt(Napi::Env env, Napi::Object exports);
void InitDirScan(Napi::Env env, Napi::Object exports);
}  // namespace ds
