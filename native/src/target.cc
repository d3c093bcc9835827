// JS classes Target and TargetLock (binding.d.ts "Targets and locks"): RAII handles over
// platform::File and platform::Lock (RAII handles: CONTRIBUTING.md, "Native code"). Everything in this file runs on the
// JS thread.
//
// Safety of `this`: prototype methods are plain functions that check the object's Node-API type tag
// before unwrapping, so `Target.prototype.info.call(lock)` throws a TypeError instead of reading a
// TargetLock as a Target. Lifetime: a handle releases its file or lock on close()/release(), in its
// finalizer, and in an environment cleanup hook (worker termination), whichever comes first.
#include <memory>
#include <set>

#include "errors.h"
#include "job.h"
#include "modules.h"
#include "platform.h"
#include "spec_args.h"

namespace ds {

namespace {

constexpr napi_type_tag kTargetTag = {0x6a1f0c5e2d7b4e91ULL, 0x8c33a7d0b5e24f16ULL};
constexpr napi_type_tag kLockTag = {0x1d94e6b3a8c04f72ULL, 0xb27e5f18c9d34a05ULL};

class TargetWrap;
class LockWrap;

// Per-environment state. Shared by the handles (shared_ptr) because finalizers may run after the
// cleanup hook during teardown.
struct TargetEnv {
  Napi::FunctionReference targetCtor, lockCtor;
  std::set<TargetWrap*> targets;
  std::set<LockWrap*> locks;
};
using TargetEnvPtr = std::shared_ptr<TargetEnv>;

// Carries the already-open native object into the private constructor.
template <typename T>
struct Pending {
  TargetEnvPtr env;
  std::unique_ptr<T> object;
  std::string path;
};

[[noreturn]] void ThrowNative(Napi::Env env, const Failure& f) { throw ToJsError(env, f.error()); }

// A path: "Expected a string for path" for a non-string, then the spec reader's non-empty check.
std::string StringArg(Napi::Env env, Napi::Value v, const char* name) {
  if (!v.IsString()) ThrowType(env, std::string("Expected a string for ") + name);
  return args::GetString(env, v, name);
}

class TargetWrap : public Napi::ObjectWrap<TargetWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "Target", {});
    Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
    proto.DefineProperties({
        Napi::PropertyDescriptor::Function(env, proto, "info", &Info),
        Napi::PropertyDescriptor::Function(env, proto, "close", &Close),
        Napi::PropertyDescriptor::Accessor<&GetClosed>("closed"),
    });
    return ctor;
  }

  explicit TargetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TargetWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      ThrowType(info.Env(), "Target cannot be constructed directly; use openTarget(path, options)");
    auto* p = info[0].As<Napi::External<Pending<platform::File>>>().Data();
    env_ = p->env;
    file_ = std::move(p->object);
    path_ = p->path;
    info.This().As<Napi::Object>().TypeTag(&kTargetTag);
    env_->targets.insert(this);
  }

  ~TargetWrap() override {
    env_->targets.erase(this);
    file_.reset();  // finalizer: closes the descriptor if JS never called close()
  }

  void Release() { file_.reset(); }

  // Returns the Target behind `v`, or throws a TypeError naming `what`.
  static TargetWrap* From(Napi::Env env, Napi::Value v, const char* what) {
    if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kTargetTag))
      ThrowType(env, std::string("Expected a Target for ") + what);
    return Unwrap(v.As<Napi::Object>());
  }

 private:
  static Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    TargetWrap* t = From(env, info.This(), "this");
    if (!t->file_)
      throw ToJsError(env, NativeError{"EBADF", "Target " + t->path_ + " is closed; open it again with openTarget()",
                                       "", 0, t->path_, -1});
    platform::Geometry g;
    try {
      g = t->file_->geometry();
    } catch (const Failure& f) {
      ThrowNative(env, f);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", t->path_);
    o.Set("kind", g.kind == platform::Kind::BlockDevice ? "blockDevice" : "file");
    o.Set("logicalSectorSize", g.logicalSectorSize);
    o.Set("physicalSectorSize", g.physicalSectorSize);
    o.Set("size", static_cast<double>(g.size));
    o.Set("serial", g.serial.empty() ? env.Null() : Napi::String::New(env, g.serial));
    o.Set("model", g.model.empty() ? env.Null() : Napi::String::New(env, g.model));
    o.Set("direct", t->file_->direct());
    return o;
  }

  static Napi::Value Close(const Napi::CallbackInfo& info) {
    From(info.Env(), info.This(), "this")->Release();
    return info.Env().Undefined();
  }

  static Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), !From(info.Env(), info.This(), "this")->file_);
  }

  TargetEnvPtr env_;
  std::unique_ptr<platform::File> file_;
  std::string path_;
};

class LockWrap : public Napi::ObjectWrap<LockWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, "TargetLock", {});
    Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
    proto.DefineProperties({
        Napi::PropertyDescriptor::Function(env, proto, "release", &ReleaseFn),
        Napi::PropertyDescriptor::Accessor<&GetHeld>("held"),
        Napi::PropertyDescriptor::Accessor<&GetPath>("path"),
    });
    return ctor;
  }

  explicit LockWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LockWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal())
      ThrowType(info.Env(), "TargetLock cannot be constructed directly; use acquireLock(path)");
    auto* p = info[0].As<Napi::External<Pending<platform::Lock>>>().Data();
    env_ = p->env;
    lock_ = std::move(p->object);
    path_ = p->path;
    info.This().As<Napi::Object>().TypeTag(&kLockTag);
    env_->locks.insert(this);
  }

  ~LockWrap() override {
    env_->locks.erase(this);
    lock_.reset();  // finalizer: a lock the program forgot is released when its handle is collected
  }

  void Release() { lock_.reset(); }

  static LockWrap* From(Napi::Env env, Napi::Value v, const char* what) {
    if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kLockTag))
      ThrowType(env, std::string("Expected a TargetLock for ") + what);
    return Unwrap(v.As<Napi::Object>());
  }

 private:
  static Napi::Value ReleaseFn(const Napi::CallbackInfo& info) {
    From(info.Env(), info.This(), "this")->Release();
    return info.Env().Undefined();
  }
  static Napi::Value GetHeld(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), From(info.Env(), info.This(), "this")->lock_ != nullptr);
  }
  static Napi::Value GetPath(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), From(info.Env(), info.This(), "this")->path_);
  }

  TargetEnvPtr env_;
  std::unique_ptr<platform::Lock> lock_;
  std::string path_;
};

// openTarget(path, options?) → Target. Opens synchronously: open/ioctl/fallocate are short calls.
Napi::Value OpenTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* te = static_cast<TargetEnvPtr*>(info.Data());
  std::string path = StringArg(env, info[0], "path");
  platform::OpenOptions o;
  double prealloc = 0;
  if (!info[1].IsUndefined()) {
    args::Fields opts = args::Fields::Of(env, info[1], "options");
    o.write = opts.Bool("write", false);
    o.create = opts.Bool("create", false);
    o.truncate = opts.Bool("truncate", false);
    o.direct = opts.Bool("direct", true);
    o.exclusive = opts.Bool("exclusive", false);
    prealloc = static_cast<double>(opts.Uint("preallocate", 0, 0, args::kMaxSafe, 1, false, "a non-negative integer"));
    if ((o.create || o.truncate || prealloc > 0) && !o.write)
      ThrowType(env, "Expected options.write to be true with options.create, options.truncate or options.preallocate");
  }
  Pending<platform::File> p{*te, nullptr, path};
  try {
    p.object = platform::Open(path, o);
    if (prealloc > 0) p.object->preallocate(static_cast<uint64_t>(prealloc));
  } catch (const Failure& f) {
    ThrowNative(env, f);  // p.object (if opened) closes on unwind
  }
  return (*te)->targetCtor.New({Napi::External<Pending<platform::File>>::New(env, &p)});
}

// acquireLock(path) → TargetLock, or ERR_LOCKED when another holder (or a mount) has it.
Napi::Value AcquireLockFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* te = static_cast<TargetEnvPtr*>(info.Data());
  std::string path = StringArg(env, info[0], "path");
  Pending<platform::Lock> p{*te, nullptr, path};
  try {
    p.object = platform::AcquireLock(path);
  } catch (const Failure& f) {
    ThrowNative(env, f);
  }
  return (*te)->lockCtor.New({Napi::External<Pending<platform::Lock>>::New(env, &p)});
}

}  // namespace

void InitTarget(Napi::Env env, Napi::Object exports) {
  // Owned by the cleanup hook below; the functions receive it as their data pointer.
  auto* te = new TargetEnvPtr(std::make_shared<TargetEnv>());
  Napi::Function targetCtor = TargetWrap::Define(env);
  Napi::Function lockCtor = LockWrap::Define(env);
  (*te)->targetCtor = Napi::Persistent(targetCtor);
  (*te)->lockCtor = Napi::Persistent(lockCtor);
  exports.Set("Target", targetCtor);
  exports.Set("TargetLock", lockCtor);
  exports.Set("openTarget", Napi::Function::New(env, OpenTarget, "openTarget", te));
  exports.Set("acquireLock", Napi::Function::New(env, AcquireLockFn, "acquireLock", te));
  // Environment teardown (worker termination, process exit): close every file and release every lock
  // now, not whenever the finalizers get to run.
  env.AddCleanupHook([te]() {
    TargetEnvPtr s = *te;
    for (TargetWrap* t : s->targets) t->Release();
    for (LockWrap* l : s->locks) l->Release();
    s->targetCtor.Reset();
    s->lockCtor.Reset();
    delete te;
  });
}

}  // namespace ds
