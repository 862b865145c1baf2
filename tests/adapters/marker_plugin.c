/* Stands for a hostile plugin: loading it runs its constructor, which
 * appends a line to the file $H4MK_TEST_MARKER names. It exports no adapter
 * entry, as an attacker's library need not. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void mark_loaded(void) {
  const char* path = getenv("H4MK_TEST_MARKER");
  FILE* f = fopen(path && *path ? path : "/tmp/h4mk-test-marker-loaded", "a");
  if (f) {
    fputs("loaded\n", f);
    fclose(f);
  }
}
