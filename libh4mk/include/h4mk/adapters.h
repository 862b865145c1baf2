/*
 * libh4mk-adapters C API: the adapter runtime (docs/FORMAT.md §17). Loads
 * adapter plugins (h4mk/adapter.h), runs their decode chains and tokenizers,
 * and carries a track's adapter name with its codec configuration. The
 * container library (h4mk.h) loads no code; this one does, and only from a
 * bare name looked up in trusted directories or from a path the caller gives.
 * Conventions as in h4mk.h.
 */
#ifndef H4MK_ADAPTERS_H
#define H4MK_ADAPTERS_H

#include <stddef.h>
#include <stdint.h>

#include "h4mk/adapter.h"
#include "h4mk/export.h"
#include "h4mk/h4mk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- adapters */

/* A loaded adapter. h4mk_adapter_open takes a name (h4mk_is_adapter_name),
 * looked up as h4mk-adapter-NAME.so in the absolute directories of
 * $H4MK_ADAPTER_PATH, then <libdir>/h4mk/adapters; anything else (a path, a
 * name with '/' or '.') is refused with H4MK_ERR_INVALID_ARGUMENT. This is
 * the only way to load what a file names. h4mk_adapter_open_file loads the
 * plugin at `path`: only for a path the user gave, never for text from a
 * file. options: "key=value:..." or NULL. config_json: the track's TRAK
 * object, or NULL. On failure *out is NULL and the message (not a name, not
 * found, ABI mismatch, missing function, refused options) is in
 * h4mk_open_error(). */
typedef struct h4mk_adapter h4mk_adapter;
typedef struct h4mk_adapter_state h4mk_adapter_state;
H4MK_API int h4mk_adapter_open(h4mk_adapter** out, const char* name, const char* options,
                               const char* config_json);
H4MK_API int h4mk_adapter_open_file(h4mk_adapter** out, const char* path, const char* options,
                                    const char* config_json);
/* What the user chose (an -adapter or --adapter option; never text from a
 * file or a request): a path (containing '/') as h4mk_adapter_open_file,
 * "python" (the python adapter, which runs the Python class its options name
 * and which h4mk_adapter_open refuses), or a name as h4mk_adapter_open. */
H4MK_API int h4mk_adapter_open_user(h4mk_adapter** out, const char* choice, const char* options,
                                    const char* config_json);
H4MK_API void h4mk_adapter_free(h4mk_adapter* a);
H4MK_API const char* h4mk_adapter_name(const h4mk_adapter* a);
H4MK_API int h4mk_adapter_supports_b(const h4mk_adapter* a);
H4MK_API const char* h4mk_adapter_last_error(const h4mk_adapter* a);
/* One block: I (prev and next NULL), P (prev = its reference), B (prev and
 * next = the two anchors around it). *out is a new state; free each state
 * with h4mk_adapter_state_free (states may outlive the adapter). */
H4MK_API int h4mk_adapter_decode(h4mk_adapter* a, const h4mk_adapter_block* block,
                                 const h4mk_adapter_state* prev, const h4mk_adapter_state* next,
                                 h4mk_adapter_state** out);
/* The state's output; buffers valid until the next call on `a`. */
H4MK_API int h4mk_adapter_finalize(h4mk_adapter* a, const h4mk_adapter_state* state,
                                   h4mk_adapter_output* output);
H4MK_API void h4mk_adapter_state_free(h4mk_adapter_state* s);

/* ----------------------------------------------------------- decode chain */

/* The decode chain of one track, as h4mk's decode_range runs it: blocks in
 * decode order in, outputs in presentation order out. An I block starts a
 * chain, a P block builds on the last anchor (I or P), a B block on the two
 * last anchors; a block whose references are missing (after a seek, damage
 * or an error) is skipped, never guessed. A B block comes out at once, an
 * anchor when the next anchor arrives or at drain.
 * push returns 1 and fills *frame (the output; buffers valid until the next
 * call on the adapter) and *info (the block it is of; data NULL) when a
 * frame is ready, 0 when none is, or a negative status (the message in
 * h4mk_chain_decoder_last_error); after an error the chain restarts at the
 * next I block. drain hands out the anchor still held (end of stream, or
 * before a reset). reset forgets the chain (a seek, damage). The adapter is
 * borrowed and must outlive the decoder. A chain longer than max_chain_blocks
 * (the track's bound, 1..65536; 0 = the format's, 65536) from its I block is
 * an error (H4MK_ERR_LIMIT) and what follows up to the next I block is
 * skipped; so is output beyond 4096 bytes per payload byte pushed plus
 * 64 MiB (decode_range's DecodeLimits): a small stream never decodes into
 * gigabytes. */
typedef struct h4mk_chain_decoder h4mk_chain_decoder;
H4MK_API int h4mk_chain_decoder_open(h4mk_chain_decoder** out, h4mk_adapter* adapter,
                                     uint32_t max_chain_blocks);
/* The decode chain of a track from its codec configuration outside a file
 * (config: h4core extradata, which may start with the adapter header below):
 * the user's choice when given (choice, as h4mk_adapter_open_user), else the
 * adapter the header names (by name only, as h4mk_adapter_open), with the
 * header's chain bound either way. The decoder owns that adapter.
 * H4MK_ERR_CORRUPT for an invalid header, H4MK_ERR_NOT_FOUND when neither
 * the user nor the track names an adapter, else as the opens; the message is
 * in h4mk_open_error(). */
H4MK_API int h4mk_chain_decoder_open_track(h4mk_chain_decoder** out, const uint8_t* config,
                                           size_t config_size, const char* choice,
                                           const char* options, const char* config_json);
H4MK_API const char* h4mk_chain_decoder_adapter_name(const h4mk_chain_decoder* d);
H4MK_API int h4mk_chain_decoder_push(h4mk_chain_decoder* d, const h4mk_adapter_block* block,
                                     h4mk_adapter_block* info, h4mk_adapter_output* frame);
H4MK_API int h4mk_chain_decoder_drain(h4mk_chain_decoder* d, h4mk_adapter_block* info,
                                      h4mk_adapter_output* frame);
H4MK_API void h4mk_chain_decoder_reset(h4mk_chain_decoder* d);
/* Blocks skipped so far because their references were missing. */
H4MK_API uint64_t h4mk_chain_decoder_skipped(const h4mk_chain_decoder* d);
H4MK_API const char* h4mk_chain_decoder_last_error(const h4mk_chain_decoder* d);
H4MK_API void h4mk_chain_decoder_free(h4mk_chain_decoder* d);

/* ------------------------------------------------- adapter in extradata */

/* The adapter a track names and its chain bound, carried with its codec
 * configuration outside a file (FFmpeg's h4core extradata, docs/FORMAT.md
 * §17.5): "H4AD", a length byte, the name (0..32 bytes, a name
 * h4mk_is_adapter_name accepts; 0 = the track names none), the track's
 * max_chain_blocks as u32 little-endian (0 = it declares none), then the
 * track's own configuration bytes. header writes the first part and returns
 * its length (9 + name length), or H4MK_ERR_INVALID_ARGUMENT for a name that
 * is not an adapter name (NULL or "" for none), a bound above 65536 or a
 * short buffer. parse returns 1, the name (not NUL-terminated; name_size 0
 * for none), the bound and what follows; 0 when the bytes carry no header
 * (all of them are the track's own); or H4MK_ERR_CORRUPT for a header cut
 * short, a name that is not an adapter name or a bound above 65536. */
H4MK_API int h4mk_adapter_config_header(const char* name, uint32_t max_chain_blocks, uint8_t* out,
                                        size_t out_size);
H4MK_API int h4mk_adapter_config_parse(const uint8_t* data, size_t size, const char** name,
                                       size_t* name_size, uint32_t* max_chain_blocks,
                                       const uint8_t** rest, size_t* rest_size);

/* A track's codec configuration as it travels outside a file, and back.
 * of_track: the header (the track's adapter when it is an adapter name, its
 * chain bound), then the track's extradata; written into out when it fits,
 * its length returned either way. to_track: the header's adapter (copied
 * into name, when it names one), chain bound and what follows it into
 * track; returns 1, 0 when the bytes carry no header (all of them are the
 * track's extradata), or H4MK_ERR_CORRUPT as parse does. */
#define H4MK_ADAPTER_NAME_SIZE 33 /* an adapter name and its NUL */
H4MK_API int h4mk_adapter_config_of_track(const h4mk_track_info* track, uint8_t* out,
                                          size_t out_size);
H4MK_API int h4mk_adapter_config_to_track(const uint8_t* config, size_t size,
                                          h4mk_track_desc* track,
                                          char name[H4MK_ADAPTER_NAME_SIZE]);

/* --------------------------------------------------------------- tokenizer */

/* An adapter's tokenizer (audio encoder): planar float samples in, blocks
 * out in decode order, pts in samples from the first one pushed. next()
 * returns 1 and a block (valid until the next call), 0 when none is ready.
 * Opened by name or by the caller's path, as adapters are. */
typedef struct h4mk_tokenizer h4mk_tokenizer;
H4MK_API int h4mk_tokenizer_open(h4mk_tokenizer** out, const char* name, const char* options,
                                 const h4mk_tokenizer_params* params);
H4MK_API int h4mk_tokenizer_open_file(h4mk_tokenizer** out, const char* path, const char* options,
                                      const h4mk_tokenizer_params* params);
H4MK_API int h4mk_tokenizer_push(h4mk_tokenizer* t, const float* const* planes, size_t nb_samples);
H4MK_API int h4mk_tokenizer_finish(h4mk_tokenizer* t);
H4MK_API int h4mk_tokenizer_next(h4mk_tokenizer* t, h4mk_adapter_block* block);
H4MK_API const char* h4mk_tokenizer_last_error(const h4mk_tokenizer* t);
H4MK_API void h4mk_tokenizer_free(h4mk_tokenizer* t);

#ifdef __cplusplus
}
#endif

#endif /* H4MK_ADAPTERS_H */
