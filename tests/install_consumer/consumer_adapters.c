/* Links against an installed libh4mk-adapters: the adapter header for a name,
 * and no path accepted as one. */
#include <h4mk/adapters.h>
#include <stdio.h>

int main(void) {
  uint8_t head[64];
  if (h4mk_adapter_config_header("dsp", 0, head, sizeof head) != 12) return 1;
  if (h4mk_adapter_config_header("./x.so", 0, head, sizeof head) != H4MK_ERR_INVALID_ARGUMENT)
    return 1;
  printf("libh4mk-adapters with libh4mk %s\n", h4mk_version_string());
  return 0;
}
