#include "simd_level.h"

#include <cstring>
#include <initializer_list>

namespace ds::simd {

bool CpuHas(Level level) {
  if (level == Level::Scalar) return true;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  // libgcc and compiler-rt report AVX/AVX-512 only when the OS also saves their registers (XCR0).
  switch (level) {
    case Level::Sse2:
      return true;  // part of x86-64
    case Level::Avx2:
      return __builtin_cpu_supports("avx2");
    case Level::Avx512:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    default:
      return false;
  }
#else
  return false;  // other compilers and CPUs: the scalar path
#endif
}

Level Best(unsigned compiled) {
  for (Level l : {Level::Avx512, Level::Avx2, Level::Sse2})
    if ((compiled & Bit(l)) && CpuHas(l)) return l;
  return Level::Scalar;
}

Level Capped(Level best, unsigned compiled, const char* cap) {
  if (!cap) return best;
  Level limit;
  if (std::strcmp(cap, "scalar") == 0)
    limit = Level::Scalar;
  else if (std::strcmp(cap, "sse2") == 0)
    limit = Level::Sse2;
  else if (std::strcmp(cap, "avx2") == 0)
    limit = Level::Avx2;
  else
    return best;  // "avx512" or an unknown value: no cap
  for (Level l : {Level::Avx512, Level::Avx2, Level::Sse2})
    if (l <= limit && l <= best && (compiled & Bit(l))) return l;
  return Level::Scalar;
}

const char* Name(Level level) {
  switch (level) {
    case Level::Avx512:
      return "avx512";
    case Level::Avx2:
      return "avx2";
    case Level::Sse2:
      return "sse2";
    default:
      return "scalar";
  }
}

}  // namespace ds::simd
