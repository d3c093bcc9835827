// driveseed native addon: module registration, counters and the environment cleanup hook.
#include <napi.h>

#include "aligned.h"
#include "job.h"
#include "modules.h"

namespace ds {

static Napi::Value GetCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("alignedBytes", static_cast<double>(Counters::alignedBytes.load()));
  o.Set("openTargets", static_cast<double>(Counters::openTargets.load()));
  o.Set("liveJobs", static_cast<double>(Counters::liveJobs.load()));
  o.Set("heldLocks", static_cast<double>(Counters::heldLocks.load()));
  return o;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  exports.Set("counters", Napi::Function::New(env, GetCounters, "counters"));
  CancelToken::Init(env, exports);
  InitTarget(env, exports);
  InitIoJobs(env, exports);
  InitUtil(env, exports);
  InitPack(env, exports);
  InitRestore(env, exports);
  InitVerifyPacks(env, exports);
  InitScrypt(env, exports);
  InitDirScan(env, exports);
  // Process exit / worker teardown: ask every running job to stop so its threads end promptly.
  env.AddCleanupHook([env]() { Job::CancelAll(env); });
  Job::InstallExitHook();  // process.exit() on the main thread runs no cleanup hook
  return exports;
}

}  // namespace ds

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return ds::Init(env, exports); }
NODE_API_MODULE(driveseed, InitModule)
