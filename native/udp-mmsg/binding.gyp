{
  "targets": [
    {
      "target_name": "udp_mmsg",
      "sources": ["src/udp_mmsg.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    }
  ]
}
