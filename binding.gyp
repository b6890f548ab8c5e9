{
  "targets": [
    {
      "target_name": "uring_shim",
      "sources": ["native/uring_shim.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
