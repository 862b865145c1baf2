// Side data blobs through the C API's walker.
#include <cstddef>
#include <cstdint>

#include "h4mk/h4mk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0, key_size, value_size;
  const char* key;
  const uint8_t* value;
  int rc;
  while ((rc = h4mk_side_data_next(data, size, &pos, &key, &key_size, &value, &value_size)) ==
         H4MK_OK)
    if (key + key_size > reinterpret_cast<const char*>(data) + size ||
        value + value_size > data + size)
      __builtin_trap();
  return 0;
}
