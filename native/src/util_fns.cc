// PLACEHOLDER: being written (see modules.h for the owner of this file).
#include "modules.h"
namespace ds {
void InitUtil(Napi::Env env, Napi::Object exports) {}
}  // namespace ds
