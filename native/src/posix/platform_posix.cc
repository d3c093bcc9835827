// PLACEHOLDER: minimal pieces so the skeleton links; being written in full.
#include <cstdlib>
#include <cstring>

#include "platform.h"

namespace ds::platform {
std::string ErrorName(int err) { return "E" + std::to_string(err); }
std::string ErrorText(int err) { return std::strerror(err); }
void* AlignedAlloc(size_t size, size_t alignment) {
  void* p = nullptr;
  return posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
}
void AlignedFree(void* p) { std::free(p); }
}  // namespace ds::platform
