// listDir is not exported on Windows: the source walker (src/repo/walker.ts) falls back to
// readdirSync + lstatSync there, which gives the fields it needs from the same Win32 calls.
#include "../modules.h"

namespace ds {
void InitDirScan(Napi::Env, Napi::Object) {}
}  // namespace ds
