/* The H4MK adapter plugin ABI (docs/FORMAT.md §17).
 *
 * An adapter turns a track's opaque CORE payloads into media. A plugin is a
 * shared object exporting one C function, H4MK_ADAPTER_ENTRY, that returns a
 * table of function pointers. The host (libh4mk) passes the ABI version it
 * speaks; a plugin built for another version returns NULL or a table whose
 * abi_version differs, and the host refuses it with a clear error.
 *
 * Decoding follows the four operations of a model decoder:
 *   decode_i(block)              -> state   (I block: starts a chain)
 *   apply_p(state, block)        -> state   (P block: builds on one state)
 *   apply_b(prev, next, block)   -> state   (B block, optional: two anchors)
 *   finalize(state)              -> output  (samples or a picture)
 * States are owned by the plugin and immutable once returned: the host may
 * keep several (the two anchors around a B block) and releases each once.
 *
 * A plugin may also offer a tokenizer (encoder): audio samples in, blocks out.
 *
 * Every int-returning function returns 0 on success or a negative H4MK_ERR_*
 * code (h4mk.h); last_error then describes the problem.
 */
#ifndef H4MK_ADAPTER_H
#define H4MK_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define H4MK_ADAPTER_ABI_VERSION 1u
#define H4MK_ADAPTER_ENTRY "h4mk_adapter_entry"

#if defined(_WIN32)
#define H4MK_ADAPTER_EXPORT __declspec(dllexport)
#else
#define H4MK_ADAPTER_EXPORT __attribute__((visibility("default")))
#endif

/* Block types, as in h4mk.h (H4MK_BLOCK_I/P/B). */
enum { H4MK_ADAPTER_BLOCK_I = 0, H4MK_ADAPTER_BLOCK_P = 1, H4MK_ADAPTER_BLOCK_B = 2 };

typedef struct h4mk_adapter_block {
  int type;    /* H4MK_ADAPTER_BLOCK_* */
  int64_t pts; /* in the track's time base */
  int64_t dts;
  int64_t duration; /* 0 = unknown */
  const uint8_t* data;
  size_t size;
} h4mk_adapter_block;

enum h4mk_output_kind {
  H4MK_OUTPUT_BYTES = 0, /* data/size: an opaque byte string */
  H4MK_OUTPUT_AUDIO = 1, /* data/size: interleaved samples */
  H4MK_OUTPUT_VIDEO = 2  /* planes/linesize: one picture */
};

enum h4mk_sample_format { H4MK_SAMPLE_S16 = 0, H4MK_SAMPLE_F32 = 1 };
enum h4mk_pixel_format { H4MK_PIXEL_GRAY8 = 0, H4MK_PIXEL_RGB24 = 1, H4MK_PIXEL_YUV420P = 2 };

/* What finalize() produces. Buffers belong to the adapter instance and stay
 * valid until the next call on that instance. */
typedef struct h4mk_adapter_output {
  int kind; /* enum h4mk_output_kind */
  const uint8_t* data;
  size_t size;
  /* audio */
  int sample_format; /* enum h4mk_sample_format, interleaved */
  uint32_t sample_rate;
  uint32_t channels;
  uint32_t nb_samples; /* per channel */
  /* video */
  int pixel_format; /* enum h4mk_pixel_format */
  uint32_t width;
  uint32_t height;
  const uint8_t* planes[4];
  size_t linesize[4];
} h4mk_adapter_output;

/* What a tokenizer is told about its input. */
typedef struct h4mk_tokenizer_params {
  uint32_t sample_rate;
  uint32_t channels;
} h4mk_tokenizer_params;

typedef struct h4mk_adapter_api {
  uint32_t abi_version; /* H4MK_ADAPTER_ABI_VERSION the plugin was built for */
  uint32_t struct_size; /* sizeof(h4mk_adapter_api) the plugin was built with */
  const char* name;
  const char* description;

  /* options: "key=value:key=value" (may be NULL or empty); config_json: the
   * track object of the TRAK chunk (sample_rate, channels, width, ...). */
  int (*create)(const char* options, const char* config_json, void** instance, char* error,
                size_t error_size);
  void (*destroy)(void* instance);
  const char* (*last_error)(void* instance);

  int (*decode_i)(void* instance, const h4mk_adapter_block* block, void** state);
  int (*apply_p)(void* instance, const void* state, const h4mk_adapter_block* block,
                 void** next_state);
  /* NULL when the adapter has no B blocks. */
  int (*apply_b)(void* instance, const void* prev, const void* next,
                 const h4mk_adapter_block* block, void** state);
  int (*finalize)(void* instance, const void* state, h4mk_adapter_output* output);
  void (*release_state)(void* instance, void* state);

  /* Optional tokenizer: NULL when the adapter has none. Blocks come out in
   * decode order with pts/dts in samples from the first sample pushed. */
  int (*tokenizer_create)(const char* options, const h4mk_tokenizer_params* params,
                          void** tokenizer, char* error, size_t error_size);
  void (*tokenizer_destroy)(void* tokenizer);
  const char* (*tokenizer_last_error)(void* tokenizer);
  /* planes: `channels` arrays of nb_samples floats in [-1, 1], all finite
   * (the runtime refuses NaN and infinity before a plugin sees them). */
  int (*tokenizer_push)(void* tokenizer, const float* const* planes, size_t nb_samples);
  /* No more input: pads and makes the last blocks available. */
  int (*tokenizer_finish)(void* tokenizer);
  /* 1 and a block (valid until the next call), or 0 when none is ready. */
  int (*tokenizer_next)(void* tokenizer, h4mk_adapter_block* block);
} h4mk_adapter_api;

/* The one symbol a plugin exports. */
typedef const h4mk_adapter_api* (*h4mk_adapter_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif

#endif /* H4MK_ADAPTER_H */
