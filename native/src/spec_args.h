// Argument and spec readers for the pipeline functions (util_fns.cc, pack_job.cc, restore_job.cc,
// verify_packs_job.cc).
// JS thread only. Each throws a TypeError whose message is exactly "Expected <what> for <name>", the
// form the binding contract (src/native/binding.d.ts) and its tests rely on.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "blob.h"
#include "chunker.h"
#include "errors.h"

namespace ds::args {

struct Bytes {
  const uint8_t* data = nullptr;
  size_t len = 0;
};

inline bool IsUint8Array(Napi::Value v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

// A Uint8Array (Buffer included). exact > 0 requires that length ("Expected a 32-byte Uint8Array for …").
inline Bytes GetBytes(Napi::Env env, Napi::Value v, const std::string& name, size_t exact = 0) {
  if (!IsUint8Array(v) || (exact && v.As<Napi::Uint8Array>().ByteLength() != exact))
    ThrowType(env, exact ? "Expected a " + std::to_string(exact) + "-byte Uint8Array for " + name
                         : "Expected a Uint8Array for " + name);
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  return Bytes{a.Data(), a.ByteLength()};
}

// An integer in [lo, hi] ("Expected an integer from 1 to 19 for level").
inline int64_t GetInt(Napi::Env env, Napi::Value v, const std::string& name, int64_t lo, int64_t hi) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::isfinite(d) && std::floor(d) == d && d >= static_cast<double>(lo) && d <= static_cast<double>(hi)))
    ThrowType(env, "Expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + " for " + name);
  return static_cast<int64_t>(d);
}

inline int64_t GetOptInt(Napi::Env env, Napi::Object o, const char* key, const std::string& name, int64_t lo,
                         int64_t hi, int64_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  return GetInt(env, v, name, lo, hi);
}

constexpr int64_t kMaxSafe = 9007199254740991LL;  // 2^53 - 1: every byte count a JS number holds exactly

// A non-negative integer in [lo, hi] that is a multiple of mult; `expected` words the message
// ("Expected a multiple of 4096 from 4096 to 67108864 for spec.ioSize").
inline uint64_t GetUint(Napi::Env env, Napi::Value v, const std::string& name, uint64_t lo, uint64_t hi, uint64_t mult,
                        const std::string& expected) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::isfinite(d) && std::floor(d) == d && d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) ||
      static_cast<uint64_t>(d) % mult != 0)
    ThrowType(env, "Expected " + expected + " for " + name);
  return static_cast<uint64_t>(d);
}

// A boolean, or dflt when undefined ("Expected a boolean for options.direct").
inline bool GetOptBool(Napi::Env env, Napi::Value v, const std::string& name, bool dflt) {
  if (v.IsUndefined()) return dflt;
  if (!v.IsBoolean()) ThrowType(env, "Expected a boolean for " + name);
  return v.As<Napi::Boolean>().Value();
}

inline Napi::Object GetObject(Napi::Env env, Napi::Value v, const std::string& name) {
  if (!v.IsObject() || v.IsArray() || v.IsFunction() || v.IsTypedArray())
    ThrowType(env, "Expected an object for " + name);
  return v.As<Napi::Object>();
}

inline Napi::Array GetArray(Napi::Env env, Napi::Value v, const std::string& name) {
  if (!v.IsArray()) ThrowType(env, "Expected an array for " + name);
  return v.As<Napi::Array>();
}

inline std::string GetString(Napi::Env env, Napi::Value v, const std::string& name) {
  if (!v.IsString()) ThrowType(env, "Expected a non-empty string for " + name);
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) ThrowType(env, "Expected a non-empty string for " + name);
  return s;
}

// The fields of one spec object, named in messages by their path ("spec.items[3].path").
struct Fields {
  Napi::Env env;
  Napi::Object obj;
  std::string where;

  static Fields Of(Napi::Env env, Napi::Value v, const std::string& where) {
    return {env, GetObject(env, v, where), where};
  }
  Napi::Value Get(const char* key) const { return obj.Get(key); }
  std::string Name(const char* key) const { return where + "." + key; }
  std::string String(const char* key) const { return GetString(env, Get(key), Name(key)); }
  bool Bool(const char* key, bool dflt) const { return GetOptBool(env, Get(key), Name(key), dflt); }
  // An integer field (see GetUint); dflt when undefined unless required.
  uint64_t Uint(const char* key, uint64_t dflt, uint64_t lo, uint64_t hi, uint64_t mult, bool required,
                const std::string& expected) const {
    Napi::Value v = Get(key);
    if (v.IsUndefined() && !required) return dflt;
    return GetUint(env, v, Name(key), lo, hi, mult, expected);
  }
  // Element i of the array field `key`, an object ("spec.items[3]").
  Fields Element(Napi::Array a, const char* key, uint32_t i) const {
    return Of(env, a.Get(i), Name(key) + "[" + std::to_string(i) + "]");
  }
};

// {dataKey, idKey, idScheme?}: two 32-byte Uint8Arrays; idScheme "hmac-sha256" (the default) or "blake3".
inline blob::Keys GetKeys(Napi::Env env, Napi::Value v, const std::string& name) {
  Napi::Object o = GetObject(env, v, name);
  blob::Keys k;
  Bytes d = GetBytes(env, o.Get("dataKey"), name + ".dataKey", sizeof k.data);
  Bytes i = GetBytes(env, o.Get("idKey"), name + ".idKey", sizeof k.id);
  std::memcpy(k.data, d.data, sizeof k.data);
  std::memcpy(k.id, i.data, sizeof k.id);
  Napi::Value s = o.Get("idScheme");
  if (!s.IsUndefined()) {
    const std::string scheme = s.IsString() ? s.As<Napi::String>().Utf8Value() : std::string();
    if (scheme == "blake3")
      k.idScheme = blob::IdScheme::Blake3Keyed;
    else if (scheme != "hmac-sha256")
      ThrowType(env, "Expected \"hmac-sha256\", \"blake3\" or undefined for " + name + ".idScheme");
  }
  return k;
}

// {min, avg, max}; the relation between them is checked too.
inline ChunkerParams GetChunker(Napi::Env env, Napi::Value v, const std::string& name) {
  Napi::Object o = GetObject(env, v, name);
  ChunkerParams p;
  p.min = GetInt(env, o.Get("min"), name + ".min", 64, 1 << 30);
  p.avg = GetInt(env, o.Get("avg"), name + ".avg", 64, 1 << 30);
  p.max = GetInt(env, o.Get("max"), name + ".max", 64, 1 << 30);
  std::string why = CheckChunkerParams(p, name);
  if (!why.empty()) ThrowType(env, why);
  return p;
}

inline int GetLevel(Napi::Env env, Napi::Value v, const std::string& name) {
  return static_cast<int>(GetInt(env, v, name, codec::kMinLevel, codec::kMaxLevel));
}

// Runs fn on the JS thread, turning a ds::Failure into a JS Error with its code (CONTRIBUTING.md, "Errors").
template <typename F>
Napi::Value Guard(Napi::Env env, F&& fn) {
  try {
    return fn();
  } catch (const Failure& f) {
    throw ToJsError(env, f.error());
  } catch (const std::bad_alloc&) {
    NativeError e;
    e.code = "ENOMEM";
    e.message = "Out of memory in the native data plane";
    throw ToJsError(env, e);
  }
}

}  // namespace ds::args
