# Release build (node-gyp; prebuildify drives it). Sources come from native/sources.json,
# the same list CMakeLists.txt reads, so the two builds cannot drift apart.
{
  "targets": [
    {
      "target_name": "driveseed",
      "sources": [
        "<!@(node -p \"require('./native/sources.json').common.join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='win'", {
          "sources": ["<!@(node -p \"require('./native/sources.json').posix.join(' ')\")"],
          "libraries": ["-lzstd", "-lpthread"]
        }],
        ["OS=='win'", {
          "sources": ["<!@(node -p \"require('./native/sources.json').win32.join(' ')\")"],
          "libraries": ["zstd.lib"],
          "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] } }
        }]
      ]
    }
  ]
}
