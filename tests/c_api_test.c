/* The C API from C17: write through callbacks, read back, seek, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h4mk/adapters.h"

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

typedef struct membuf {
  uint8_t* data;
  size_t size, cap, pos;
} membuf;

/* Writes at pos, as a file does; a writer given mem_seek goes back once. */
static int64_t mem_write(void* opaque, const uint8_t* buf, size_t size) {
  membuf* m = opaque;
  if (m->pos + size > m->cap) {
    m->cap = (m->pos + size) * 2;
    m->data = realloc(m->data, m->cap);
  }
  memcpy(m->data + m->pos, buf, size);
  m->pos += size;
  if (m->pos > m->size) m->size = m->pos;
  return (int64_t)size;
}

static int64_t mem_read(void* opaque, uint8_t* buf, size_t size) {
  membuf* m = opaque;
  size_t n = m->size - m->pos < size ? m->size - m->pos : size;
  if (n > 1000) n = 1000; /* short reads, like a socket */
  memcpy(buf, m->data + m->pos, n);
  m->pos += n;
  return (int64_t)n;
}

static int64_t mem_seek(void* opaque, int64_t offset) {
  membuf* m = opaque;
  if (offset < 0 || (size_t)offset > m->size) return -1;
  m->pos = (size_t)offset;
  return offset;
}

static int64_t mem_size(void* opaque) { return (int64_t)((membuf*)opaque)->size; }

static void write_file(membuf* m, int seekable) {
  h4mk_io io = {m, NULL, mem_write, seekable ? mem_seek : NULL, NULL};
  h4mk_writer* w = NULL;
  h4mk_writer_options opts = {0};
  opts.max_group_blocks = 10;
  CHECK(h4mk_writer_open(&w, &io, &opts) == H4MK_OK);

  h4mk_track_desc audio = {0};
  audio.id = 1;
  audio.kind = "audio";
  audio.codec = "pcm_s16le";
  audio.time_base_num = 1;
  audio.time_base_den = 48000;
  audio.sample_rate = 48000;
  audio.channels = 2;
  audio.default_duration = 960;
  audio.max_chain_blocks = 65537;
  CHECK(h4mk_writer_add_track(w, &audio) == H4MK_ERR_INVALID_ARGUMENT);
  audio.max_chain_blocks = 250;
  CHECK(h4mk_writer_add_track(w, &audio) == H4MK_OK);
  CHECK(h4mk_writer_set_track_tag(w, 1, "language", "eng") == H4MK_OK);

  h4mk_track_desc bad = audio;
  bad.id = 2;
  bad.time_base_den = 0;
  CHECK(h4mk_writer_add_track(w, &bad) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_writer_last_error(w), "time_base") != NULL);

  CHECK(h4mk_writer_set_metadata(w, "title", "C test") == H4MK_OK);
  CHECK(h4mk_writer_set_metadata(w, "artist", "h4mk") == H4MK_OK);
  CHECK(h4mk_writer_set_track_property(w, 1, "ffmpeg.format", "s16") == H4MK_OK);
  CHECK(h4mk_writer_set_track_property_int(w, 1, "ffmpeg.bits_per_coded_sample", 16) == H4MK_OK);
  CHECK(h4mk_writer_set_track_property(w, 1, "codec", "x") == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_track_property_json(w, 1, "codec_params.sample_aspect_ratio", "[16,9]") ==
        H4MK_OK);
  CHECK(h4mk_writer_set_track_property_json(w, 1, "codec_params.color", "[1,") ==
        H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_writer_last_error(w), "codec_params.color") != NULL);
  CHECK(h4mk_writer_set_metadata_json(w, "[1]") == H4MK_ERR_INVALID_ARGUMENT);
  {
    h4mk_chapter c = {.time_base_num = 1,
                      .time_base_den = 1000,
                      .start = 0,
                      .end = 1500,
                      .has_end = 1,
                      .id = 42,
                      .has_id = 1,
                      .title = "One"};
    h4mk_chapter open_end = {.time_base_num = 1, .time_base_den = 48000, .start = 72000};
    h4mk_chapter backwards = {
        .time_base_num = 1, .time_base_den = 1000, .start = 9, .end = 3, .has_end = 1};
    CHECK(h4mk_writer_add_chapter(w, &c) == H4MK_OK);
    CHECK(h4mk_writer_add_chapter(w, &open_end) == H4MK_OK);
    CHECK(h4mk_writer_set_chapter_tag(w, 1, "comment", "second") == H4MK_OK);
    CHECK(h4mk_writer_set_chapter_tag(w, 2, "comment", "none") == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(h4mk_writer_add_chapter(w, &backwards) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(h4mk_writer_last_error(w), "chapter #2: \"end\" is before") != NULL);
  }
  {
    static const uint8_t font[] = {0, 1, 0, 0, 0x42};
    h4mk_attachment a = {.filename = "sub.ttf", .mimetype = "font/ttf", .data = font, .size = 5};
    h4mk_attachment up = {.filename = "../x.ttf", .data = font, .size = 5};
    h4mk_attachment pic = {.filename = "cover.png", .mimetype = "image/png", .track_id = 9};
    CHECK(h4mk_writer_add_attachment(w, &a) == H4MK_OK);
    CHECK(h4mk_writer_add_attachment(w, &up) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(h4mk_writer_last_error(w), "attachment #1: \"filename\" is not a bare") != NULL);
    CHECK(h4mk_writer_add_attachment(w, &pic) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(h4mk_writer_last_error(w), "track 9 is not declared") != NULL);
  }

  uint8_t payload[3840];
  for (int i = 0; i < 200; ++i) {
    memset(payload, i & 0xff, sizeof payload);
    h4mk_block b = {0};
    b.track_id = 1;
    b.type = H4MK_BLOCK_I;
    b.pts = b.dts = (int64_t)i * 960;
    b.duration = 960;
    b.data = payload;
    b.size = sizeof payload;
    CHECK(h4mk_writer_write_block(w, &b) == H4MK_OK);
  }
  {
    /* The other 300 as one run: payloads back to back. */
    enum { kRun = 300 };
    uint8_t* run = malloc((size_t)kRun * sizeof payload);
    CHECK(run != NULL);
    for (int k = 0; k < kRun; ++k)
      memset(run + (size_t)k * sizeof payload, (200 + k) & 0xff, sizeof payload);
    h4mk_block first = {0};
    first.track_id = 1;
    first.type = H4MK_BLOCK_I;
    first.pts = first.dts = 200 * 960;
    first.duration = 960;
    first.data = run;
    first.size = (size_t)kRun * sizeof payload - 1; /* does not split into 300 */
    CHECK(h4mk_writer_write_run(w, &first, kRun) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(h4mk_writer_last_error(w), "do not split into equal blocks") != NULL);
    first.size = (size_t)kRun * sizeof payload;
    first.side_data = payload; /* a run has none */
    first.side_data_size = 1;
    CHECK(h4mk_writer_write_run(w, &first, kRun) == H4MK_ERR_INVALID_ARGUMENT);
    first.side_data = NULL;
    first.side_data_size = 0;
    CHECK(h4mk_writer_write_run(w, &first, kRun) == H4MK_OK);
    free(run);
  }
  h4mk_block bad_type = {0};
  bad_type.track_id = 1;
  bad_type.type = (h4mk_block_type)9;
  bad_type.pts = bad_type.dts = 500 * 960;
  CHECK(h4mk_writer_write_block(w, &bad_type) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_writer_last_error(w), "invalid block type 9") != NULL);
  h4mk_block backwards = {0};
  backwards.track_id = 1;
  backwards.type = H4MK_BLOCK_I;
  CHECK(h4mk_writer_write_block(w, &backwards) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_writer_last_error(w), "goes backwards") != NULL);
  CHECK(h4mk_writer_finish(w) == H4MK_OK);
  h4mk_writer_free(w);
}

static int read_all(membuf* m, int seekable) {
  h4mk_io io = {m, mem_read, NULL, seekable ? mem_seek : NULL, seekable ? mem_size : NULL};
  h4mk_reader* r = NULL;
  m->pos = 0;
  CHECK(h4mk_reader_open(&r, &io) == H4MK_OK);
  if (!r) return -1;
  CHECK(h4mk_reader_track_count(r) == 1);
  h4mk_track_info ti;
  CHECK(h4mk_reader_track_info(r, 0, &ti) == H4MK_OK);
  CHECK(ti.id == 1 && strcmp(ti.codec, "pcm_s16le") == 0 && ti.time_base_den == 48000);
  CHECK(strcmp(ti.kind, "audio") == 0 && ti.channels == 2 && ti.max_chain_blocks == 250);
  CHECK(strstr(ti.json, "\"language\":\"eng\"") != NULL);
  CHECK(strcmp(h4mk_reader_metadata_json(r), "{\"artist\":\"h4mk\",\"title\":\"C test\"}") == 0);
  {
    h4mk_chapter c;
    const char *key, *value;
    CHECK(h4mk_reader_chapter_count(r) == 2);
    CHECK(h4mk_reader_chapter(r, 0, &c) == H4MK_OK);
    CHECK(c.time_base_den == 1000 && c.start == 0 && c.has_end && c.end == 1500);
    CHECK(c.has_id && c.id == 42 && strcmp(c.title, "One") == 0);
    CHECK(h4mk_reader_chapter_tag(r, 0, 0, &key, &value) == H4MK_ERR_NOT_FOUND);
    CHECK(h4mk_reader_chapter(r, 1, &c) == H4MK_OK);
    CHECK(c.time_base_den == 48000 && c.start == 72000 && !c.has_end && !c.has_id);
    CHECK(strcmp(c.title, "") == 0);
    CHECK(h4mk_reader_chapter_tag(r, 1, 0, &key, &value) == H4MK_OK);
    CHECK(strcmp(key, "comment") == 0 && strcmp(value, "second") == 0);
    CHECK(h4mk_reader_chapter(r, 2, &c) == H4MK_ERR_NOT_FOUND);
  }
  {
    h4mk_attachment a;
    CHECK(h4mk_reader_attachment_count(r) == 1);
    CHECK(h4mk_reader_attachment(r, 0, &a) == H4MK_OK);
    CHECK(!strcmp(a.filename, "sub.ttf") && !strcmp(a.mimetype, "font/ttf"));
    CHECK(!strcmp(a.description, "") && a.track_id == 0 && a.size == 5 && a.data[4] == 0x42);
    CHECK(h4mk_reader_attachment(r, 1, &a) == H4MK_ERR_NOT_FOUND);
  }
  {
    const char *k, *v;
    CHECK(h4mk_reader_metadata(r, 1, &k, &v) == H4MK_OK && !strcmp(k, "title") &&
          !strcmp(v, "C test"));
    CHECK(h4mk_reader_metadata(r, 2, &k, &v) == H4MK_ERR_NOT_FOUND);
    CHECK(h4mk_reader_track_tag(r, 0, 0, &k, &v) == H4MK_OK && !strcmp(k, "language") &&
          !strcmp(v, "eng"));
    CHECK(h4mk_reader_track_property(r, 0, "ffmpeg.format", &v) == H4MK_OK && !strcmp(v, "s16"));
    CHECK(h4mk_reader_track_property(r, 0, "ffmpeg.bits_per_coded_sample", &v) == H4MK_OK &&
          !strcmp(v, "16"));
    CHECK(h4mk_reader_track_property(r, 0, "ffmpeg.nothing", &v) == H4MK_ERR_NOT_FOUND);
    CHECK(h4mk_reader_track_property(r, 0, "codec_params.sample_aspect_ratio", &v) == H4MK_OK &&
          !strcmp(v, "[16,9]"));
    /* Asking again hands out the same string: nothing piles up per call. */
    const char* again = NULL;
    CHECK(h4mk_reader_track_property(r, 0, "ffmpeg.format", &v) == H4MK_OK &&
          h4mk_reader_track_property(r, 0, "ffmpeg.format", &again) == H4MK_OK && v == again);
    int64_t i = 0;
    CHECK(h4mk_reader_track_property_int(r, 0, "ffmpeg.bits_per_coded_sample", &i) == H4MK_OK &&
          i == 16);
    CHECK(h4mk_reader_track_property_int(r, 0, "ffmpeg.format", &i) == H4MK_ERR_CORRUPT);
    CHECK(h4mk_reader_track_property_int(r, 0, "ffmpeg.nothing", &i) == H4MK_ERR_NOT_FOUND);
  }
  int n = 0;
  h4mk_block b;
  int rc;
  while ((rc = h4mk_reader_next_block(r, &b, NULL)) == H4MK_OK) {
    CHECK(b.pts == (int64_t)n * 960 && b.size == 3840 && b.data[0] == (n & 0xff));
    ++n;
  }
  CHECK(rc == H4MK_ERR_EOF);
  /* Damage and refused masked blocks are read past; the rest stop reading. */
  CHECK(h4mk_reader_goes_on(H4MK_ERR_CRC) && h4mk_reader_goes_on(H4MK_ERR_TRUNCATED) &&
        h4mk_reader_goes_on(H4MK_ERR_AUTH));
  CHECK(!h4mk_reader_goes_on(rc) && !h4mk_reader_goes_on(H4MK_ERR_VERIFY) &&
        !h4mk_reader_goes_on(H4MK_ERR_IO) && !h4mk_reader_goes_on(H4MK_ERR_NO_MEMORY));
  if (seekable) {
    /* Again a run at a time: a group of these fixed-size blocks in one call,
     * the blocks back to back as next_block gave them. */
    uint32_t run = 0, runs = 0;
    int k = 0;
    CHECK(h4mk_reader_rewind(r) == H4MK_OK);
    while ((rc = h4mk_reader_next_run(r, &b, &run, NULL)) == H4MK_OK) {
      CHECK(run >= 1 && b.size == (size_t)run * 3840 && b.pts == (int64_t)k * 960);
      for (uint32_t i = 0; i < run; ++i) CHECK(b.data[i * 3840] == ((k + i) & 0xff));
      k += (int)run;
      ++runs;
    }
    CHECK(rc == H4MK_ERR_EOF && run == 0 && k == n && runs < (uint32_t)n / 2);
    CHECK(h4mk_reader_next_run(r, &b, NULL, NULL) == H4MK_ERR_INVALID_ARGUMENT);
  }
  if (seekable) {
    uint64_t count = 0;
    int64_t start = -1, end = -1;
    CHECK(h4mk_reader_has_index(r) == 1);
    CHECK(h4mk_reader_track_summary(r, 1, &count, &start, &end) == H4MK_OK);
    CHECK(count == 500 && start == 0 && end == 500 * 960);
    const h4mk_index_entry* e = NULL;
    size_t ne = 0;
    CHECK(h4mk_reader_index(r, 1, &e, &ne) == H4MK_OK && ne == 50);
    h4mk_block landed;
    CHECK(h4mk_reader_seek(r, 1, 123 * 960 + 5, H4MK_SEEK_KEY_BEFORE, &landed) == H4MK_OK);
    CHECK(landed.pts == 123 * 960 && landed.type == H4MK_BLOCK_I && landed.duration == 960);
    CHECK(h4mk_reader_next_block(r, &b, NULL) == H4MK_OK && b.pts == 123 * 960);
    CHECK(h4mk_reader_seek(r, 1, 123 * 960 + 5, H4MK_SEEK_KEY_AFTER, &landed) == H4MK_OK);
    CHECK(landed.pts == 124 * 960);
    CHECK(h4mk_reader_next_block(r, &b, NULL) == H4MK_OK && b.pts == 124 * 960);
    /* Every track resumed: with one track, the same landing. */
    CHECK(h4mk_reader_seek_all(r, 1, 321 * 960 + 7, H4MK_SEEK_KEY_BEFORE, &landed) == H4MK_OK);
    CHECK(landed.pts == 321 * 960 && landed.type == H4MK_BLOCK_I && landed.duration == 960);
    CHECK(h4mk_reader_next_block(r, &b, NULL) == H4MK_OK && b.pts == 321 * 960);
    CHECK(h4mk_reader_seek_all(r, 1, 5, (h4mk_seek_mode)7, NULL) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(h4mk_reader_seek(r, 1, 5, (h4mk_seek_mode)-1, NULL) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(h4mk_reader_seek(r, 1, -1, H4MK_SEEK_KEY_BEFORE, NULL) == H4MK_ERR_NOT_FOUND);
    CHECK(strstr(h4mk_reader_last_error(r), "no I block") != NULL);
    CHECK(h4mk_reader_seek_to_group(r, e[7].offset, 3) == H4MK_OK);
    CHECK(h4mk_reader_next_block(r, &b, NULL) == H4MK_OK && b.pts == 73 * 960);
    CHECK(strstr(h4mk_reader_veri_json(r), "sha256-chain-v1") != NULL);
  } else {
    CHECK(h4mk_reader_seek(r, 1, 1000, H4MK_SEEK_KEY_BEFORE, NULL) == H4MK_ERR_NOT_SEEKABLE);
  }
  h4mk_reader_free(r);
  return n;
}

/* Masking through the C API: the writer masks, the reader unmasks with the
 * key, a wrong key and an altered envelope are refused. */
static void masking(void) {
  uint8_t key[H4MK_MASK_KEY_SIZE], wrong[H4MK_MASK_KEY_SIZE];
  CHECK(h4mk_mask_key_from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                               key) == H4MK_OK);
  CHECK(h4mk_mask_key_from_hex("00", wrong) == H4MK_ERR_INVALID_ARGUMENT);
  memcpy(wrong, key, sizeof key);
  wrong[0] ^= 1;
  h4mk_mask_scheme scheme;
  CHECK(h4mk_mask_scheme_from_name("aes-256-ctr", &scheme) == H4MK_OK &&
        scheme == H4MK_MASK_AES_256_CTR);
  CHECK(h4mk_mask_scheme_from_name("rot13", &scheme) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strcmp(h4mk_mask_scheme_name(H4MK_MASK_AES_256_GCM), "aes-256-gcm") == 0);
  CHECK(h4mk_mask_scheme_name((h4mk_mask_scheme)7) == NULL); /* not read as GCM */

  membuf m = {0};
  h4mk_io wio = {&m, NULL, mem_write, NULL, NULL};
  h4mk_writer* w = NULL;
  CHECK(h4mk_writer_open(&w, &wio, NULL) == H4MK_OK);
  h4mk_track_desc t = {0};
  t.id = 5;
  t.kind = "data";
  t.codec = "h4core";
  t.time_base_num = 1;
  t.time_base_den = 1000;
  CHECK(h4mk_writer_add_track(w, &t) == H4MK_OK);
  CHECK(h4mk_writer_set_mask_key(w, 6, key, H4MK_MASK_AES_256_GCM, NULL) ==
        H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_mask_key(w, 5, key, H4MK_MASK_AES_256_GCM, "k1") == H4MK_OK);
  /* After the key, as the FFmpeg muxer sets them: the track keeps its mask. */
  CHECK(h4mk_writer_set_track_property(w, 5, "ffmpeg.format", "s16") == H4MK_OK);
  CHECK(h4mk_writer_set_track_tag(w, 5, "title", "masked") == H4MK_OK);
  /* Refused when asked, not at the first block. */
  CHECK(h4mk_writer_set_track_compression(w, 5, 3, NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_writer_last_error(w), "a masked track is not compressed") != NULL);
  CHECK(h4mk_writer_set_track_mask(w, 5,
                                   "{\"check\": \"e619aa5b56197abd\", \"kid\": \"other\", "
                                   "\"salt\": \"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\", "
                                   "\"scheme\": \"aes-256-gcm\"}") == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_writer_last_error(w), "its mask parameters are the writer's") != NULL);
  for (int i = 0; i < 20; ++i) {
    char text[32];
    int n = snprintf(text, sizeof text, "secret %d", i);
    h4mk_block b = {0};
    b.track_id = 5;
    b.type = i % 5 ? H4MK_BLOCK_P : H4MK_BLOCK_I;
    b.pts = b.dts = 10 * i;
    b.data = (const uint8_t*)text;
    b.size = (size_t)n;
    CHECK(h4mk_writer_write_block(w, &b) == H4MK_OK);
  }
  CHECK(h4mk_writer_finish(w) == H4MK_OK);
  h4mk_writer_free(w);

  h4mk_io rio = {&m, mem_read, NULL, mem_seek, mem_size};
  h4mk_reader* r = NULL;
  m.pos = 0;
  CHECK(h4mk_reader_open(&r, &rio) == H4MK_OK);
  const char* kid = NULL;
  CHECK(h4mk_reader_track_property(r, 0, "mask.kid", &kid) == H4MK_OK && !strcmp(kid, "k1"));
  const char* format = NULL;
  CHECK(h4mk_reader_track_property(r, 0, "ffmpeg.format", &format) == H4MK_OK &&
        !strcmp(format, "s16"));
  CHECK(h4mk_reader_set_mask_key(r, 0, wrong) == H4MK_ERR_KEY);
  CHECK(strstr(h4mk_reader_last_error(r), "track 5") != NULL);
  h4mk_block b;
  CHECK(h4mk_reader_next_block(r, &b, NULL) == H4MK_OK);
  CHECK((b.flags & H4MK_BLOCK_FLAG_MASKED) && b.size == 8 + H4MK_MASK_GCM_OVERHEAD);
  /* The envelope of block 0 unmasks with a masker opened on the track's parameters. */
  const char* params = NULL;
  CHECK(h4mk_reader_track_property(r, 0, "mask", &params) == H4MK_OK);
  h4mk_masker* mk = NULL;
  CHECK(h4mk_masker_open(&mk, params, wrong) == H4MK_ERR_KEY && mk == NULL);
  CHECK(h4mk_masker_open(&mk, params, key) == H4MK_OK);
  uint8_t plain[64], env[64];
  CHECK(h4mk_masker_unmask(mk, &b, plain, b.size - H4MK_MASK_GCM_OVERHEAD) == H4MK_OK);
  CHECK(!memcmp(plain, "secret 0", 8));
  memcpy(env, b.data, b.size);
  env[15] ^= 0x40;
  h4mk_block altered = b;
  altered.data = env;
  CHECK(h4mk_masker_unmask(mk, &altered, plain, b.size - H4MK_MASK_GCM_OVERHEAD) == H4MK_ERR_AUTH);
  CHECK(strstr(h4mk_masker_last_error(mk), "does not authenticate") != NULL);
  h4mk_masker_free(mk);

  CHECK(h4mk_reader_set_mask_key(r, 5, key) == H4MK_OK);
  CHECK(h4mk_reader_rewind(r) == H4MK_OK);
  int n = 0;
  while (h4mk_reader_next_block(r, &b, NULL) == H4MK_OK) {
    char want[32];
    snprintf(want, sizeof want, "secret %d", n++);
    CHECK(!(b.flags & H4MK_BLOCK_FLAG_MASKED) && b.size == strlen(want) &&
          !memcmp(b.data, want, b.size));
  }
  CHECK(n == 20);
  h4mk_reader_free(r);

  /* A standalone masker: fresh parameters, ctr adds nothing and refuses a
   * repeated dts. */
  CHECK(h4mk_masker_create(&mk, key, H4MK_MASK_AES_256_CTR, NULL) == H4MK_OK);
  CHECK(h4mk_masker_overhead(mk) == 0 && h4mk_masker_scheme(mk) == H4MK_MASK_AES_256_CTR);
  CHECK(strstr(h4mk_masker_params_json(mk), "\"salt\"") != NULL);
  CHECK(strlen(h4mk_masker_kid(mk)) == 16);
  h4mk_block p = {0};
  p.data = (const uint8_t*)"abc";
  p.size = 3;
  CHECK(h4mk_masker_mask(mk, &p, env, 3) == H4MK_OK);
  CHECK(h4mk_masker_mask(mk, &p, env, 3) == H4MK_ERR_INVALID_ARGUMENT);
  /* Its parameters declared on a writer's track: envelopes go in as they
   * are and a reader with the key opens them. */
  {
    membuf m2 = {0};
    h4mk_io w2io = {&m2, NULL, mem_write, NULL, NULL};
    CHECK(h4mk_writer_open(&w, &w2io, NULL) == H4MK_OK);
    CHECK(h4mk_writer_add_track(w, &t) == H4MK_OK);
    CHECK(h4mk_writer_set_track_mask(w, 5, "{\"scheme\":\"x\"}") == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(h4mk_writer_set_track_mask(w, 5, h4mk_masker_params_json(mk)) == H4MK_OK);
    h4mk_block q = {0};
    q.track_id = 5;
    q.dts = q.pts = 100;
    q.data = (const uint8_t*)"xyz";
    q.size = 3;
    uint8_t e3[3];
    CHECK(h4mk_masker_mask(mk, &q, e3, 3) == H4MK_OK);
    q.data = e3;
    q.flags = H4MK_BLOCK_FLAG_MASKED;
    CHECK(h4mk_writer_write_block(w, &q) == H4MK_OK);
    CHECK(h4mk_writer_finish(w) == H4MK_OK);
    h4mk_writer_free(w);
    h4mk_io r2io = {&m2, mem_read, NULL, mem_seek, mem_size};
    CHECK(h4mk_reader_open(&r, &r2io) == H4MK_OK);
    CHECK(h4mk_reader_set_mask_key(r, 5, key) == H4MK_OK);
    CHECK(h4mk_reader_next_block(r, &b, NULL) == H4MK_OK && b.size == 3 &&
          !memcmp(b.data, "xyz", 3));
    h4mk_reader_free(r);
    free(m2.data);
  }
  h4mk_masker_free(mk);
  free(m.data);

  /* The binding travels as 17 bytes and comes back the same. */
  {
    h4mk_block a = {0}, back = {0};
    uint8_t bind[H4MK_MASK_BINDING_SIZE];
    a.type = H4MK_BLOCK_B;
    a.pts = -5;
    a.dts = 1234567890123;
    CHECK(h4mk_mask_binding(&a, bind) == H4MK_OK);
    CHECK(bind[0] == 2 && bind[1] == 0xfb);
    CHECK(h4mk_mask_binding(NULL, bind) == H4MK_ERR_INVALID_ARGUMENT);
    back.type = (h4mk_block_type)3;
    CHECK(h4mk_mask_binding(&back, bind) == H4MK_ERR_INVALID_ARGUMENT && bind[0] == 2);
    CHECK(h4mk_mask_binding_parse(bind, sizeof bind, &back) == H4MK_OK);
    CHECK(back.type == a.type && back.pts == a.pts && back.dts == a.dts);
    CHECK(h4mk_mask_binding_parse(bind, 16, &back) == H4MK_ERR_INVALID_ARGUMENT);
    bind[0] = 3;
    CHECK(h4mk_mask_binding_parse(bind, sizeof bind, &back) == H4MK_ERR_INVALID_ARGUMENT);
  }
}

/* Adapters through the C API: the null plugin, found by name. */
static void adapters(void) {
  h4mk_adapter* a = NULL;
  CHECK(h4mk_adapter_open(&a, "no-such-adapter", NULL, NULL) == H4MK_ERR_NOT_FOUND && !a);
  CHECK(strstr(h4mk_open_error(), "h4mk-adapter-no-such-adapter.so") != NULL);
  CHECK(h4mk_adapter_open(&a, "null", "format=f32",
                          "{\"kind\":\"audio\",\"sample_rate\":8000,\"channels\":1}") == H4MK_OK);
  CHECK(strcmp(h4mk_adapter_name(a), "null") == 0);
  CHECK(h4mk_adapter_supports_b(a) == 1);
  const float samples[3] = {0.25f, -0.5f, 1.0f};
  h4mk_adapter_block blk = {H4MK_ADAPTER_BLOCK_I, 0, 0, 3, (const uint8_t*)samples, sizeof samples};
  h4mk_adapter_state *i_state = NULL, *p_state = NULL;
  CHECK(h4mk_adapter_decode(a, &blk, NULL, NULL, &i_state) == H4MK_OK && i_state);
  blk.type = H4MK_ADAPTER_BLOCK_P;
  blk.size = 2 * sizeof(float);
  CHECK(h4mk_adapter_decode(a, &blk, NULL, NULL, &p_state) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_adapter_decode(a, &blk, i_state, NULL, &p_state) == H4MK_OK && p_state);
  h4mk_adapter_output out;
  CHECK(h4mk_adapter_finalize(a, p_state, &out) == H4MK_OK);
  CHECK(out.kind == H4MK_OUTPUT_AUDIO && out.sample_format == H4MK_SAMPLE_F32);
  CHECK(out.nb_samples == 2 && out.channels == 1 && out.sample_rate == 8000);
  /* The output is the adapter's until its next call: the state may go first. */
  h4mk_adapter_state_free(p_state);
  p_state = NULL;
  CHECK(out.size == 8 && !memcmp(out.data, samples, 8));
  blk.size = 5; /* not whole samples */
  h4mk_adapter_state* bad = NULL;
  CHECK(h4mk_adapter_decode(a, &blk, i_state, NULL, &bad) == H4MK_OK);
  CHECK(h4mk_adapter_finalize(a, bad, &out) == H4MK_ERR_CORRUPT);
  CHECK(strstr(h4mk_adapter_last_error(a), "not a whole number") != NULL);
  h4mk_adapter_state_free(bad);
  h4mk_adapter_free(a); /* states outlive the adapter */
  h4mk_adapter_state_free(i_state);
  h4mk_adapter_state_free(p_state);

  /* The adapter header of h4core codec configuration. */
  uint8_t cfg[20];
  const char* name = NULL;
  const uint8_t* rest = NULL;
  size_t name_size = 0, rest_size = 0;
  uint32_t bound = 1;
  CHECK(h4mk_adapter_config_header("dsp", 50, cfg, sizeof cfg) == 12);
  static const uint8_t head_of_dsp[12] = {'H', '4', 'A', 'D', 3, 'd', 's', 'p', 50, 0, 0, 0};
  CHECK(!memcmp(cfg, head_of_dsp, 12)); /* the bound: u32 little-endian */
  memcpy(cfg + 12, "xy", 2);
  CHECK(h4mk_adapter_config_parse(cfg, 14, &name, &name_size, &bound, &rest, &rest_size) == 1);
  CHECK(name_size == 3 && !memcmp(name, "dsp", 3) && bound == 50 && rest == cfg + 12 &&
        rest_size == 2);
  CHECK(h4mk_adapter_config_parse(cfg, 11, &name, &name_size, &bound, &rest, &rest_size) ==
        H4MK_ERR_CORRUPT);
  CHECK(h4mk_adapter_config_parse((const uint8_t*)"OpusHead", 8, NULL, NULL, NULL, NULL, NULL) ==
        0);
  CHECK(h4mk_adapter_config_header("", 0, cfg, sizeof cfg) == 9 && cfg[4] == 0); /* none */
  CHECK(h4mk_adapter_config_parse(cfg, 9, &name, &name_size, &bound, &rest, &rest_size) == 1 &&
        name_size == 0 && bound == 0 && rest_size == 0);
  CHECK(h4mk_adapter_config_header("a-long-adapter-name", 0, cfg, sizeof cfg) ==
        H4MK_ERR_INVALID_ARGUMENT);
  /* The bound is the format's at most, written or read. */
  CHECK(h4mk_adapter_config_header("dsp", 65537, cfg, sizeof cfg) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_adapter_config_header("dsp", 65536, cfg, sizeof cfg) == 12);
  cfg[10] = 2; /* 65536 + 131072 */
  CHECK(h4mk_adapter_config_parse(cfg, 12, &name, &name_size, &bound, NULL, NULL) ==
        H4MK_ERR_CORRUPT);
  /* A path is not a name: neither in the header nor read from one. */
  uint8_t big[64];
  CHECK(h4mk_adapter_config_header("./evil.so", 0, big, sizeof big) == H4MK_ERR_INVALID_ARGUMENT);
  memcpy(big, "H4AD\x09./evil.so\0\0\0\0", 18);
  CHECK(h4mk_adapter_config_parse(big, 18, &name, &name_size, NULL, NULL, NULL) ==
        H4MK_ERR_CORRUPT);
  CHECK(h4mk_is_adapter_name("dsp") && h4mk_is_adapter_name("my_model-2"));
  CHECK(h4mk_codec_is_registered("h264") && h4mk_codec_is_registered("h4core") &&
        !h4mk_codec_is_registered("ffmpeg.pcm_s8") && !h4mk_codec_is_registered(NULL));
  CHECK(!h4mk_is_adapter_name("./evil.so") && !h4mk_is_adapter_name("/x/evil") &&
        !h4mk_is_adapter_name("..") && !h4mk_is_adapter_name("") && !h4mk_is_adapter_name(NULL) &&
        !h4mk_is_adapter_name("Upper") && !h4mk_is_adapter_name("-dash") &&
        !h4mk_is_adapter_name("abcdefghijklmnopqrstuvwxyz0123456"));
  a = NULL;
  CHECK(h4mk_adapter_open(&a, "/nonexistent/h4mk-adapter-null.so", NULL, NULL) ==
            H4MK_ERR_INVALID_ARGUMENT &&
        !a);
  CHECK(strstr(h4mk_open_error(), "not an adapter name") != NULL);
  CHECK(h4mk_adapter_open_file(&a, "/nonexistent/h4mk-adapter-null.so", NULL, NULL) ==
            H4MK_ERR_NOT_FOUND &&
        !a);

  /* The chain decoder: I P B P in decode order out in presentation order. */
  CHECK(h4mk_adapter_open(&a, "null", "format=f32",
                          "{\"kind\":\"audio\",\"sample_rate\":8000,\"channels\":1}") == H4MK_OK);
  h4mk_chain_decoder* d = NULL;
  CHECK(h4mk_chain_decoder_open(&d, a, 65537) == H4MK_ERR_INVALID_ARGUMENT && !d);
  CHECK(h4mk_chain_decoder_open(&d, a, 0) == H4MK_OK && d);
  const struct {
    int type;
    int64_t pts;
  } order[] = {{H4MK_ADAPTER_BLOCK_P, 0}, /* no reference yet: skipped */
               {H4MK_ADAPTER_BLOCK_I, 0},
               {H4MK_ADAPTER_BLOCK_P, 2},
               {H4MK_ADAPTER_BLOCK_B, 1},
               {H4MK_ADAPTER_BLOCK_P, 3}};
  int64_t out_pts[8];
  int n_out = 0;
  h4mk_adapter_block info;
  /* Each frame is its own block's sample, pts + 0.5; a B block's state goes
   * as it is handed out, its output stays readable. */
  float payload[sizeof order / sizeof order[0]];
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    payload[i] = (float)order[i].pts + 0.5f;
    h4mk_adapter_block in = {order[i].type, order[i].pts, 0, 1, (const uint8_t*)&payload[i], 4};
    int rc = h4mk_chain_decoder_push(d, &in, &info, &out);
    CHECK(rc >= 0);
    if (rc == 1) {
      float got;
      CHECK(out.size == 4 && (memcpy(&got, out.data, 4), got == (float)info.pts + 0.5f));
      out_pts[n_out++] = info.pts;
    }
  }
  while (h4mk_chain_decoder_drain(d, &info, &out) == 1) out_pts[n_out++] = info.pts;
  CHECK(n_out == 4 && out_pts[0] == 0 && out_pts[1] == 1 && out_pts[2] == 2 && out_pts[3] == 3);
  CHECK(h4mk_chain_decoder_skipped(d) == 1);
  /* A block no chain takes is refused, saying why. */
  h4mk_adapter_block odd = {3, 9, 9, 1, (const uint8_t*)samples, 4};
  CHECK(h4mk_chain_decoder_push(d, &odd, &info, &out) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(strstr(h4mk_chain_decoder_last_error(d), "block type 3") != NULL);
  h4mk_chain_decoder_free(d);

  /* A track's bound of 3: I P P decode, the next P is a loud error, and what
   * follows waits for an I block. */
  d = NULL;
  CHECK(h4mk_chain_decoder_open(&d, a, 3) == H4MK_OK && d);
  const int chain[] = {H4MK_ADAPTER_BLOCK_I, H4MK_ADAPTER_BLOCK_P, H4MK_ADAPTER_BLOCK_P,
                       H4MK_ADAPTER_BLOCK_P, H4MK_ADAPTER_BLOCK_P, H4MK_ADAPTER_BLOCK_I};
  int rcs[6];
  for (int i = 0; i < 6; i++) {
    h4mk_adapter_block in = {chain[i], i, i, 1, (const uint8_t*)samples, 4};
    rcs[i] = h4mk_chain_decoder_push(d, &in, &info, &out);
    if (i == 3) CHECK(strstr(h4mk_chain_decoder_last_error(d), "longer than 3 blocks") != NULL);
  }
  CHECK(rcs[0] == 0 && rcs[1] == 1 && rcs[2] == 1 && rcs[3] == H4MK_ERR_LIMIT && rcs[4] == 0 &&
        rcs[5] == 0);
  CHECK(h4mk_chain_decoder_skipped(d) == 2);
  h4mk_chain_decoder_free(d);
  h4mk_adapter_free(a);

  h4mk_tokenizer* t = NULL;
  h4mk_tokenizer_params params = {8000, 1};
  CHECK(h4mk_tokenizer_open(&t, "null", NULL, &params) == H4MK_ERR_NOT_FOUND && !t);
  CHECK(strstr(h4mk_open_error(), "has no tokenizer") != NULL);
}

/* Every entry point taking a handle refuses NULL: an error, "" or 0. */
static void null_handles(void) {
  CHECK(h4mk_reader_open(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_count(NULL) == 0);
  CHECK(h4mk_reader_attachment_count(NULL) == 0);
  CHECK(h4mk_reader_hand_out_damaged_groups(NULL, 1) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_attachment(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_add_attachment(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_info(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(!strcmp(h4mk_reader_tracks_json(NULL), ""));
  CHECK(!strcmp(h4mk_reader_metadata_json(NULL), ""));
  CHECK(!strcmp(h4mk_reader_safe_json(NULL), ""));
  CHECK(!strcmp(h4mk_reader_note(NULL), ""));
  CHECK(!strcmp(h4mk_reader_veri_json(NULL), ""));
  CHECK(h4mk_reader_data_offset(NULL) == 0);
  CHECK(h4mk_reader_has_index(NULL) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_summary(NULL, 0, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_index(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_next_block(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  {
    uint32_t count = 7;
    CHECK(h4mk_reader_next_run(NULL, 0, &count, 0) == H4MK_ERR_INVALID_ARGUMENT && count == 0);
  }
  CHECK(h4mk_reader_metadata(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_tag(NULL, 0, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_property(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_property_int(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_chapter_count(NULL) == 0);
  CHECK(h4mk_reader_chapter(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_chapter_tag(NULL, 0, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_seek(NULL, 0, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_seek_all(NULL, 0, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_seek_to_group(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_rewind(NULL) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_bytes_read(NULL) == 0);
  CHECK(h4mk_reader_damage_count(NULL) == 0);
  CHECK(h4mk_reader_damage(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_open(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_add_track(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_track_tag(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_track_property(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_track_property_int(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_track_property_json(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_metadata(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_metadata_json(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_safe_json(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_note(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_add_chapter(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_chapter_tag(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_write_block(NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_write_run(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_flush(NULL) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_finish(NULL) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_mask_key(NULL, 0, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_writer_set_track_mask(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_set_mask_key(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_masker_create(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_masker_open(NULL, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(!strcmp(h4mk_masker_params_json(NULL), ""));
  CHECK(h4mk_masker_scheme(NULL) == H4MK_MASK_AES_256_GCM);
  CHECK(!strcmp(h4mk_masker_kid(NULL), ""));
  CHECK(h4mk_masker_overhead(NULL) == 0);
  CHECK(h4mk_masker_mask(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_masker_unmask(NULL, 0, 0, 0) == H4MK_ERR_INVALID_ARGUMENT);
}

/* A compressed track (docs/FORMAT.md §5.7): 2.0, smaller, the same blocks. */
static void compressed_track(void) {
  membuf files[2] = {{0}, {0}};
  static uint8_t dict[64];
  for (size_t i = 0; i < sizeof dict; ++i) dict[i] = (uint8_t)(i % 4);
  for (int z = 0; z < 2; ++z) {
    h4mk_io io = {&files[z], NULL, mem_write, NULL, NULL};
    h4mk_writer* w = NULL;
    CHECK(h4mk_writer_open(&w, &io, NULL) == H4MK_OK);
    h4mk_track_desc t = {0};
    t.id = 3;
    t.kind = "data";
    t.codec = "h4core";
    t.time_base_num = 1;
    t.time_base_den = 50;
    CHECK(h4mk_writer_add_track(w, &t) == H4MK_OK);
    CHECK(h4mk_writer_set_track_compression(w, 4, 3, NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(h4mk_writer_set_track_compression(w, 3, 0, NULL, 1) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(h4mk_writer_set_track_compression(w, 3, 20, NULL, 0) == H4MK_ERR_INVALID_ARGUMENT);
    CHECK(strstr(h4mk_writer_last_error(w), "1..19") != NULL);
    if (z) CHECK(h4mk_writer_set_track_compression(w, 3, 0, dict, sizeof dict) == H4MK_OK);
    for (int i = 0; i < 500; ++i) {
      uint8_t frame[16] = {0};
      frame[i % 16] = (uint8_t)(i / 50);
      h4mk_block b = {0};
      b.track_id = 3;
      b.type = i % 50 ? H4MK_BLOCK_P : H4MK_BLOCK_I;
      b.pts = b.dts = i;
      b.duration = 1;
      b.data = frame;
      b.size = sizeof frame;
      CHECK(h4mk_writer_write_block(w, &b) == H4MK_OK);
    }
    CHECK(h4mk_writer_set_track_compression(w, 3, 3, NULL, 0) == H4MK_ERR_STATE);
    CHECK(h4mk_writer_finish(w) == H4MK_OK);
    h4mk_writer_free(w);
  }
  CHECK(files[0].data[4] == 1 && files[1].data[4] == 2); /* version_major */
  CHECK(files[1].size * 3 < files[0].size);
  CHECK(h4mk_probe(files[1].data, files[1].size) == 100);
  h4mk_reader* r[2] = {NULL, NULL};
  for (int z = 0; z < 2; ++z) {
    h4mk_io io = {&files[z], mem_read, NULL, mem_seek, mem_size};
    files[z].pos = 0;
    CHECK(h4mk_reader_open(&r[z], &io) == H4MK_OK);
  }
  const char* scheme = NULL;
  CHECK(h4mk_reader_track_property(r[1], 0, "compression.scheme", &scheme) == H4MK_OK &&
        !strcmp(scheme, "zstd"));
  int blocks = 0;
  for (;;) {
    h4mk_block a, b;
    const int ra = h4mk_reader_next_block(r[0], &a, NULL),
              rb = h4mk_reader_next_block(r[1], &b, NULL);
    CHECK(ra == rb);
    if (ra != H4MK_OK) break;
    CHECK(a.pts == b.pts && a.type == b.type && a.size == b.size &&
          !memcmp(a.data, b.data, a.size));
    ++blocks;
  }
  CHECK(blocks == 500);
  for (int z = 0; z < 2; ++z) {
    h4mk_reader_free(r[z]);
    free(files[z].data);
  }
}

/* The signed test vectors' key (seed 40 41 .. 5f): a test key, published. */
static const char kSigningKey[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIEBBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n"
    "-----END PRIVATE KEY-----\n";
static const char kPublicKey[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAJUO5L/EJVRFHatyDadtt3JM2ZaEZeN2hQE7hBmypVZ0=\n"
    "-----END PUBLIC KEY-----\n";

/* Sign, then read with the key: every block; a changed byte (CRCs resealed
 * by nothing: the tree sees it first) stops the read that meets it. */
static void signed_reading(void) {
  membuf plain = {0}, sig = {0};
  write_file(&plain, 1);
  h4mk_io in = {&plain, mem_read, NULL, mem_seek, mem_size};
  h4mk_io out = {&sig, NULL, mem_write, NULL, NULL};
  plain.pos = 0;
  CHECK(h4mk_sign(&in, &out, kSigningKey) == H4MK_OK);
  h4mk_io sio = {&sig, mem_read, NULL, mem_seek, mem_size};
  sig.pos = 0;
  CHECK(h4mk_verify_signature(&sio, kPublicKey) == H4MK_OK);
  h4mk_reader* r = NULL;
  sig.pos = 0;
  CHECK(h4mk_reader_open_verified(&r, &sio, kPublicKey) == H4MK_OK);
  CHECK(h4mk_reader_verified(r) == 1);
  h4mk_block b;
  uint64_t where = 0;
  int blocks = 0, rc;
  while ((rc = h4mk_reader_next_block(r, &b, &where)) == H4MK_OK) ++blocks;
  CHECK(rc == H4MK_ERR_EOF && blocks == 500);
  h4mk_reader_free(r);
  /* The unsigned file, and no key at all. */
  plain.pos = 0;
  CHECK(h4mk_reader_open_verified(&r, &in, kPublicKey) == H4MK_ERR_AUTH && r == NULL);
  CHECK(strstr(h4mk_open_error(), "not signed") != NULL);
  CHECK(h4mk_reader_open_verified(&r, &in, "") == H4MK_ERR_INVALID_ARGUMENT);
  plain.pos = 0;
  CHECK(h4mk_reader_open_verified(&r, &in, NULL) == H4MK_OK && h4mk_reader_verified(r) == 0);
  h4mk_reader_free(r);
  /* A byte of a block in the middle changed. */
  sig.data[sig.size / 3] ^= 0x01;
  sig.pos = 0;
  CHECK(h4mk_reader_open_verified(&r, &sio, kPublicKey) == H4MK_OK);
  blocks = 0;
  while ((rc = h4mk_reader_next_block(r, &b, &where)) == H4MK_OK) ++blocks;
  CHECK(rc == H4MK_ERR_VERIFY && blocks > 0 && blocks < 500);
  CHECK(strstr(h4mk_reader_last_error(r), "altered") != NULL);
  h4mk_reader_free(r);
  free(plain.data);
  free(sig.data);
}

/* h4mk_reader_next_packet and its seek: the same 500 blocks as file order
 * (one track), a landing reported with 1, a seek on a pipe to a time
 * already read refused with nothing lost, and a discarded track dropped. */
static void packets(membuf* m, int seekable) {
  h4mk_io io = {m, mem_read, NULL, seekable ? mem_seek : NULL, seekable ? mem_size : NULL};
  h4mk_reader* r = NULL;
  h4mk_block b, landed;
  int n = 0, rc;
  m->pos = 0;
  CHECK(h4mk_reader_open(&r, &io) == H4MK_OK);
  if (!r) return;
  for (; n < 100 && (rc = h4mk_reader_next_packet(r, &b, NULL)) == H4MK_OK; ++n)
    CHECK(b.track_id == 1 && b.pts == (int64_t)n * 960);
  if (seekable) {
    CHECK(h4mk_reader_seek_packets(r, 1, 321 * 960 + 7, H4MK_SEEK_KEY_BEFORE, &landed) == 1);
    CHECK(landed.pts <= 321 * 960 && landed.type == H4MK_BLOCK_I);
    CHECK(h4mk_reader_next_packet(r, &b, NULL) == H4MK_OK && b.pts == landed.pts);
    CHECK(h4mk_reader_seek_packets(r, 1, 0, H4MK_SEEK_KEY_BEFORE, NULL) == 0); /* from the start */
    n = 0;
  } else {
    CHECK(h4mk_reader_seek_packets(r, 1, 5 * 960, H4MK_SEEK_KEY_BEFORE, NULL) ==
          H4MK_ERR_NOT_SEEKABLE);
    CHECK(strstr(h4mk_reader_last_error(r), "cannot seek back") != NULL);
  }
  CHECK(h4mk_reader_seek_packets(r, 9, 0, H4MK_SEEK_KEY_BEFORE, NULL) == H4MK_ERR_NOT_FOUND);
  CHECK(h4mk_reader_seek_packets(r, 1, 0, (h4mk_seek_mode)5, NULL) == H4MK_ERR_INVALID_ARGUMENT);
  while ((rc = h4mk_reader_next_packet(r, &b, NULL)) == H4MK_OK) CHECK(b.pts == (int64_t)n++ * 960);
  CHECK(rc == H4MK_ERR_EOF && n == 500);
  h4mk_reader_free(r);

  m->pos = 0;
  CHECK(h4mk_reader_open(&r, &io) == H4MK_OK);
  if (!r) return;
  CHECK(h4mk_reader_discard_track(r, 1, 1) == H4MK_OK);
  CHECK(h4mk_reader_discard_track(r, 2, 1) == H4MK_ERR_NOT_FOUND);
  CHECK(h4mk_reader_next_packet(r, &b, NULL) == H4MK_ERR_EOF);
  h4mk_reader_free(r);
  CHECK(h4mk_reader_next_packet(NULL, &b, NULL) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_discard_track(NULL, 1, 1) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_seek_packets(NULL, 1, 0, H4MK_SEEK_KEY_BEFORE, NULL) ==
        H4MK_ERR_INVALID_ARGUMENT);
}

/* A block's track_index is its track's position in TRAK, whatever the
 * ids: tracks 5 then 2, read by file order, by packet and after a seek;
 * h4mk_reader_track_index agrees, and disposition names come in bit order. */
static void track_positions(void) {
  membuf m = {0};
  h4mk_io out = {&m, NULL, mem_write, mem_seek, NULL};
  h4mk_io in = {&m, mem_read, NULL, mem_seek, mem_size};
  h4mk_writer* w = NULL;
  h4mk_reader* r = NULL;
  h4mk_block b, landed;
  uint8_t payload[4] = {1, 2, 3, 4};
  size_t index = 7;
  int seen[2] = {0, 0};
  CHECK(h4mk_writer_open(&w, &out, NULL) == H4MK_OK);
  for (int id = 5; id >= 2; id -= 3) {
    h4mk_track_desc t = {.id = (uint16_t)id,
                         .kind = "data",
                         .codec = "x",
                         .time_base_num = 1,
                         .time_base_den = 1000};
    CHECK(h4mk_writer_add_track(w, &t) == H4MK_OK);
  }
  for (int i = 0; i < 40; ++i) {
    h4mk_block blk = {.track_id = (uint16_t)(i % 2 ? 2 : 5),
                      .type = H4MK_BLOCK_I,
                      .pts = i * 10,
                      .dts = i * 10,
                      .duration = 10,
                      .data = payload,
                      .size = 4};
    CHECK(h4mk_writer_write_block(w, &blk) == H4MK_OK);
  }
  CHECK(h4mk_writer_finish(w) == H4MK_OK);
  h4mk_writer_free(w);
  m.pos = 0;
  CHECK(h4mk_reader_open(&r, &in) == H4MK_OK);
  if (!r) return;
  CHECK(h4mk_reader_track_index(r, 5, &index) == H4MK_OK && index == 0);
  CHECK(h4mk_reader_track_index(r, 2, &index) == H4MK_OK && index == 1);
  CHECK(h4mk_reader_track_index(r, 3, &index) == H4MK_ERR_NOT_FOUND && index == 1);
  CHECK(h4mk_reader_track_index(r, 2, NULL) == H4MK_ERR_INVALID_ARGUMENT);
  CHECK(h4mk_reader_track_index(NULL, 2, &index) == H4MK_ERR_INVALID_ARGUMENT);
  while (h4mk_reader_next_block(r, &b, NULL) == H4MK_OK) {
    CHECK(b.track_index == (b.track_id == 5 ? 0 : 1));
    seen[b.track_index]++;
  }
  CHECK(seen[0] == 20 && seen[1] == 20);
  CHECK(h4mk_reader_seek_packets(r, 2, 255, H4MK_SEEK_KEY_BEFORE, &landed) == 1);
  CHECK(landed.track_id == 2 && landed.track_index == 1);
  while (h4mk_reader_next_packet(r, &b, NULL) == H4MK_OK)
    CHECK(b.track_index == (b.track_id == 5 ? 0 : 1));
  h4mk_reader_free(r);
  free(m.data);
  CHECK(strcmp(h4mk_disposition_name(0), "default") == 0);
  CHECK(strcmp(h4mk_disposition_name(7), "hearing_impaired") == 0);
  CHECK(strcmp(h4mk_disposition_name(18), "multilayer") == 0);
  CHECK(h4mk_disposition_name(19) == NULL && h4mk_disposition_name(UINT32_MAX) == NULL);
}

int main(void) {
  track_positions();
  compressed_track();
  signed_reading();
  null_handles();
  CHECK(h4mk_version() ==
        ((H4MK_VERSION_MAJOR << 16) | (H4MK_VERSION_MINOR << 8) | H4MK_VERSION_PATCH));
  CHECK(strcmp(h4mk_version_string(), H4MK_VERSION_STRING) == 0);
  CHECK(strcmp(h4mk_strerror(H4MK_ERR_CRC), "CRC mismatch") == 0);

  /* With a seek callback the writer fills in the HINT after TRAK (the file
   * size at its payload's start); without one there is none. */
  membuf m = {0}, piped = {0};
  write_file(&m, 1);
  write_file(&piped, 0);
  {
    uint32_t trak = 0, hint = 0;
    uint64_t file_size = 0;
    for (int i = 3; i >= 0; --i) trak = trak << 8 | m.data[20 + i];
    const size_t at = 28 + trak;
    CHECK(m.size > at + 20 && memcmp(m.data + at, "HINT", 4) == 0);
    for (int i = 3; i >= 0; --i) hint = hint << 8 | m.data[at + 4 + i];
    for (int i = 7; i >= 0; --i) file_size = file_size << 8 | m.data[at + 12 + i];
    CHECK(hint == 16 + 24 && file_size == m.size);
    CHECK(piped.size == m.size - 12 - hint && memcmp(piped.data + at, "HINT", 4) != 0);
    CHECK(read_all(&piped, 1) == 500);
    free(piped.data);
  }
  CHECK(read_all(&m, 1) == 500);
  CHECK(read_all(&m, 0) == 500);
  packets(&m, 1);
  packets(&m, 0);

  /* A damaged chunk is reported with its offset and reading continues. */
  m.data[m.size / 2] ^= 0x10;
  h4mk_io io = {&m, mem_read, NULL, NULL, NULL};
  h4mk_reader* r = NULL;
  m.pos = 0;
  CHECK(h4mk_reader_open(&r, &io) == H4MK_OK);
  int blocks = 0, damaged = 0, rc;
  uint64_t where = 0;
  h4mk_block b;
  while ((rc = h4mk_reader_next_block(r, &b, &where)) != H4MK_ERR_EOF) {
    if (rc == H4MK_OK)
      ++blocks;
    else {
      ++damaged;
      CHECK(rc == H4MK_ERR_CRC);
      CHECK(strstr(h4mk_reader_last_error(r), "CRC mismatch") != NULL);
      CHECK(where > 0 && where < m.size);
    }
  }
  CHECK(damaged == 1 && blocks == 490);
  h4mk_reader_free(r);

  /* Not an H4MK file. */
  membuf junk = {(uint8_t*)"RIFF....WAVEfmt ", 16, 16, 0};
  h4mk_io jio = {&junk, mem_read, NULL, mem_seek, mem_size};
  CHECK(h4mk_reader_open(&r, &jio) == H4MK_ERR_BAD_MAGIC && r == NULL);
  CHECK(strstr(h4mk_open_error(), "not an H4MK file") != NULL);

  {
    uint8_t head[32];
    memcpy(head, m.data, sizeof head);
    CHECK(h4mk_probe(head, sizeof head) == 100);
    head[13] ^= 1;
    CHECK(h4mk_probe(head, sizeof head) == 0);
    CHECK(h4mk_probe(head, 8) == 0);
  }
  {
    uint8_t blob[64];
    size_t size = 0, pos = 0, ks, vs;
    const char* k;
    const uint8_t* v;
    CHECK(h4mk_side_data_put(blob, sizeof blob, &size, "ffmpeg.Skip Samples",
                             (const uint8_t*)"abcd", 4) == 25);
    CHECK(h4mk_side_data_put(blob, sizeof blob, &size, "", NULL, 0) == 0);
    CHECK(size == 25);
    CHECK(h4mk_side_data_next(blob, size, &pos, &k, &ks, &v, &vs) == H4MK_OK);
    CHECK(ks == 19 && !memcmp(k, "ffmpeg.Skip Samples", 19) && vs == 4 && !memcmp(v, "abcd", 4));
    CHECK(h4mk_side_data_next(blob, size, &pos, &k, &ks, &v, &vs) == H4MK_ERR_EOF);
    pos = 0;
    CHECK(h4mk_side_data_next(blob, 10, &pos, &k, &ks, &v, &vs) == H4MK_ERR_CORRUPT);
  }
  {
    /* packet_flags: names joined by '+', unknown ones (trusted) ignored */
    static const char value[] = "corrupt+trusted++discard+discar";
    char out[32];
    CHECK(h4mk_packet_flags_parse((const uint8_t*)value, strlen(value)) ==
          (H4MK_PACKET_DISCARD | H4MK_PACKET_CORRUPT));
    CHECK(h4mk_packet_flags_parse((const uint8_t*)"discard", 6) == 0); /* "discar" */
    CHECK(h4mk_packet_flags_parse(NULL, 0) == 0);
    CHECK(h4mk_packet_flags_format(H4MK_PACKET_DISCARD | H4MK_PACKET_CORRUPT | 64, out,
                                   sizeof out) == 15 &&
          !strcmp(out, "discard+corrupt"));
    CHECK(h4mk_packet_flags_format(H4MK_PACKET_CORRUPT, out, 4) == 7); /* too small: untouched */
    CHECK(h4mk_packet_flags_format(0, out, sizeof out) == 0 && !*out);
  }
  uint32_t flags = 0, ms = 0;
  h4mk_block_type type;
  CHECK(h4mk_gop_flags_pack(1234, H4MK_BLOCK_B, &flags) == H4MK_OK);
  CHECK(h4mk_gop_flags_unpack(flags, &ms, &type) == H4MK_OK && ms == 1234 && type == H4MK_BLOCK_B);
  CHECK(h4mk_gop_flags_pack(1u << 28, H4MK_BLOCK_I, &flags) == H4MK_ERR_INVALID_ARGUMENT);

  free(m.data);
  masking();
  adapters();
  return failures ? 1 : 0;
}
