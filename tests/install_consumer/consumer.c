/* Links against an installed libh4mk: prints the version and opens nothing. */
#include <h4mk/h4mk.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (strcmp(h4mk_version_string(), H4MK_VERSION_STRING) != 0) return 1;
  printf("libh4mk %s\n", h4mk_version_string());
  return 0;
}
