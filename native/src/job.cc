#include "job.h"

#include <set>

#include "aligned.h"

namespace ds {

// ---- CancelToken ---------------------------------------------------------------------------------

void CancelToken::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "CancelToken",
                                    {InstanceMethod<&CancelToken::Cancel>("cancel"),
                                     InstanceAccessor<&CancelToken::GetCancelled>("cancelled")});
  auto* ref = new Napi::FunctionReference(Napi::Persistent(ctor));
  env.AddCleanupHook([ref]() { delete ref; });
  exports.Set("CancelToken", ctor);
}

// Identifies CancelToken objects: a look-alike (or another native handle) is refused, never unwrapped.
static constexpr napi_type_tag kCancelTokenTag = {0x3f0c9b7e51a24d68ULL, 0x9e1d4c27b08a6f53ULL};

CancelToken::CancelToken(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<CancelToken>(info), flag_(std::make_shared<std::atomic<bool>>(false)) {
  info.This().As<Napi::Object>().TypeTag(&kCancelTokenTag);
}

Napi::Value CancelToken::Cancel(const Napi::CallbackInfo& info) {
  flag_->store(true);
  return info.Env().Undefined();
}

Napi::Value CancelToken::GetCancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), flag_->load());
}

CancelFlag CancelToken::FromValue(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return std::make_shared<std::atomic<bool>>(false);
  if (!v.IsObject()) ThrowType(env, std::string("Expected a CancelToken for ") + what);
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kCancelTokenTag)) ThrowType(env, std::string("Expected a CancelToken for ") + what);
  CancelToken* t = Napi::ObjectWrap<CancelToken>::Unwrap(o);
  return t->flag();
}

Napi::Value OptionalFunction(Napi::Env env, Napi::Value v, const char* what) {
  if (v.IsUndefined() || v.IsNull() || v.IsFunction()) return v;
  ThrowType(env, std::string("Expected a function or undefined for ") + what);
}

// ---- Registry: environment teardown cancels and joins every live job -----------------------------

struct JobRegistry {
  std::mutex mu;
  std::set<Job*> live;
  static JobRegistry& Get() {
    static JobRegistry r;
    return r;
  }
};

// ---- Job -----------------------------------------------------------------------------------------

struct Job::Batch {
  uint64_t bytesDone, bytesTotal, bytesOut, itemsDone, itemsTotal;
  int64_t elapsedMs;
  std::vector<EventBuilder> events;
  bool final = false;  // last call: settle the promise
};

void Job::checkCancelled() const {
  if (cancelled()) ThrowCode("ERR_CANCELLED", "The operation was cancelled");
}

void Job::advance(uint64_t bytesDone, uint64_t itemsDone, uint64_t bytesOut) {
  bytesDone_.fetch_add(bytesDone, std::memory_order_relaxed);
  itemsDone_.fetch_add(itemsDone, std::memory_order_relaxed);
  bytesOut_.fetch_add(bytesOut, std::memory_order_relaxed);
  flush(false);
}

void Job::emit(EventBuilder ev) {
  std::lock_guard<std::mutex> lk(eventsMu_);
  events_.push_back(std::move(ev));
}

void Job::flush(bool force) {
  auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
  int64_t last = lastFlushMs_.load(std::memory_order_relaxed);
  if (!force && nowMs - last < kProgressIntervalMs) return;
  if (!force && !lastFlushMs_.compare_exchange_strong(last, nowMs)) return;  // another thread flushes
  if (force) lastFlushMs_.store(nowMs);
  if (!hasCallback_) {
    std::lock_guard<std::mutex> lk(eventsMu_);
    events_.clear();
    return;
  }
  auto* b = new Batch();
  {
    std::lock_guard<std::mutex> lk(eventsMu_);
    b->events.swap(events_);
    b->bytesDone = bytesDone_;
    b->bytesTotal = bytesTotal_;
    b->bytesOut = bytesOut_;
    b->itemsDone = itemsDone_;
    b->itemsTotal = itemsTotal_;
    b->elapsedMs = nowMs;
    // Enqueued under the lock so batches enter the queue in the order their events were taken.
    if (tsfn_.NonBlockingCall(b, [this](Napi::Env env, Napi::Function cb, Batch* bb) { CallJs(env, cb, this, bb); }) != napi_ok) delete b;
  }
}

void Job::CallJs(Napi::Env env, Napi::Function cb, Job* job, Batch* b) {
  std::unique_ptr<Batch> batch(b);
  if (env == nullptr) return;  // environment teardown: CancelAll joins and deletes the job
  Napi::HandleScope scope(env);
  if (!batch->final) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("bytesDone", static_cast<double>(batch->bytesDone));
    p.Set("bytesTotal", static_cast<double>(batch->bytesTotal));
    p.Set("bytesOut", static_cast<double>(batch->bytesOut));
    p.Set("itemsDone", static_cast<double>(batch->itemsDone));
    p.Set("itemsTotal", static_cast<double>(batch->itemsTotal));
    p.Set("elapsedMs", static_cast<double>(batch->elapsedMs));
    Napi::Array evs = Napi::Array::New(env, batch->events.size());
    for (size_t i = 0; i < batch->events.size(); i++) evs.Set(i, batch->events[i](env));
    if (job->hasCallback_) {
      try {
        cb.Call({p, evs});
      } catch (const Napi::Error& e) {
        // A throwing progress callback must not kill the job; report it on the process.
        e.Value();  // swallow: the TS wrapper catches inside its callback, this is a backstop
      }
    }
    return;
  }
  // Final: the job thread has finished Run(); join it so nothing is left behind, then settle.
  if (job->thread_.joinable()) job->thread_.join();
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    JobRegistry::Get().live.erase(job);
  }
  Counters::liveJobs--;
  Napi::Promise::Deferred d = *job->deferred_;
  if (job->failed_) {
    d.Reject(ToJsError(env, job->error_).Value());
  } else {
    try {
      d.Resolve(job->Result(env));
    } catch (const Napi::Error& e) {
      d.Reject(e.Value());
    } catch (const Failure& f) {
      d.Reject(ToJsError(env, f.error()).Value());
    }
  }
  job->tsfn_.Release();
  delete job;
}

void Job::ThreadMain() {
  try {
    Run();
  } catch (const Failure& f) {
    failed_ = true;
    error_ = f.error();
  } catch (const std::bad_alloc&) {
    failed_ = true;
    error_.code = "ENOMEM";
    error_.message = "Out of memory in the native data plane";
  } catch (const std::exception& e) {
    failed_ = true;
    error_.code = "ERR_INTERNAL";
    error_.message = std::string("Internal error: ") + e.what();
  }
  if (failed_ && cancelled() && error_.code != "ERR_CANCELLED") {
    // A failure caused by tearing the pipeline down for cancellation is reported as cancellation.
    error_ = NativeError{"ERR_CANCELLED", "The operation was cancelled", "", 0, "", -1};
  }
  flush(true);  // last progress with any remaining ordered events
  auto* b = new Batch();
  b->final = true;
  // After a successful call the JS thread owns (and deletes) this job: touch no member afterwards.
  if (tsfn_.BlockingCall(b, [this](Napi::Env env, Napi::Function cb, Batch* bb) { CallJs(env, cb, this, bb); }) != napi_ok) {
    // The environment closed the function first (teardown); CancelAll joins and deletes this job.
    delete b;
  }
}

Napi::Value Job::Launch(Napi::Env env, std::unique_ptr<Job> owned, Napi::Value onProgress, CancelFlag cancel) {
  Job* job = owned.release();
  job->env_ = env;
  job->cancel_ = std::move(cancel);
  job->deferred_.emplace(Napi::Promise::Deferred::New(env));
  job->hasCallback_ = onProgress.IsFunction();
  Napi::Function cb = job->hasCallback_ ? onProgress.As<Napi::Function>() : Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  job->tsfn_ = Napi::ThreadSafeFunction::New(env, cb, "driveseed-job", 0, 1);
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    JobRegistry::Get().live.insert(job);
  }
  Counters::liveJobs++;
  Napi::Promise promise = job->deferred_->Promise();
  job->thread_ = std::thread([job]() { job->ThreadMain(); });
  return promise;
}

// Environment teardown (process exit, worker termination), on that environment's JS thread: cancel
// its live jobs, join their threads so none outlives the environment (or the unloaded addon), and
// delete them. Once teardown has begun no batch is delivered to JS any more: the tsfns' own cleanup
// hooks close them, and node-addon-api drops items drained with env == nullptr without calling
// CallJs, so nothing else will delete these jobs. Jobs of other environments (workers) are left alone.
void Job::CancelAll(napi_env env) {
  std::vector<Job*> jobs;
  {
    std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
    for (Job* j : JobRegistry::Get().live) {
      if (j->env_ != env) continue;
      if (j->cancel_) j->cancel_->store(true);
      jobs.push_back(j);
    }
  }
  for (Job* j : jobs) {
    if (j->thread_.joinable()) j->thread_.join();  // jobs stop at their next cancellation check
    {
      std::lock_guard<std::mutex> lk(JobRegistry::Get().mu);
      JobRegistry::Get().live.erase(j);
    }
    Counters::liveJobs--;
    delete j;
  }
}

}  // namespace ds
