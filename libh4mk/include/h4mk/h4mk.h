/*
 * libh4mk C API: read and write H4MK files (docs/FORMAT.md) through caller-supplied I/O.
 *
 * Conventions: functions return H4MK_OK (0) or a negative h4mk_status;
 * handles are opaque; strings returned by a handle stay valid until the
 * handle is freed (or, for blocks, until the next call that reads).
 * h4mk_*_last_error() gives the message of the last failure, which names the
 * offset, chunk and track concerned.
 */
#ifndef H4MK_H
#define H4MK_H

#include <stddef.h>
#include <stdint.h>

#include "h4mk/export.h"
#include "h4mk/version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum h4mk_status {
  H4MK_OK = 0,
  H4MK_ERR_EOF = -1, /* no more blocks */
  H4MK_ERR_IO = -2,
  H4MK_ERR_INVALID_ARGUMENT = -3,
  H4MK_ERR_BAD_MAGIC = -4, /* not an H4MK file */
  H4MK_ERR_UNSUPPORTED_VERSION = -5,
  H4MK_ERR_CRC = -6,
  H4MK_ERR_CORRUPT = -7,
  H4MK_ERR_LIMIT = -8, /* a field exceeds a reader limit */
  H4MK_ERR_TRUNCATED = -9,
  H4MK_ERR_NOT_SEEKABLE = -10,
  H4MK_ERR_NOT_FOUND = -11,
  H4MK_ERR_NO_MEMORY = -12,
  H4MK_ERR_STATE = -13, /* call not allowed now */
  H4MK_ERR_VERIFY = -14,
  H4MK_ERR_KEY = -15,  /* a mask key that is not the track's */
  H4MK_ERR_AUTH = -16, /* a masked block or a signature does not verify */
  H4MK_ERR_INTERNAL = -99
} h4mk_status;

/* Library version as (major << 16) | (minor << 8) | patch. */
H4MK_API unsigned h4mk_version(void);
H4MK_API const char* h4mk_version_string(void);
H4MK_API const char* h4mk_strerror(int status);

/*
 * I/O callbacks. read returns bytes read (0 at end of stream, < 0 on error);
 * write returns bytes written (<= 0 on error); seek goes to an absolute offset
 * and returns it (< 0 on error); size returns the total size (< 0 if unknown).
 * A NULL seek means the stream is not seekable; a NULL size means unknown.
 * Offsets count from the first byte of the H4MK file. A writer given a seek
 * goes back once, when it finishes, to fill in the HINT chunk (the file's
 * totals, FORMAT.md §10.1), then seeks to the end again.
 */
typedef struct h4mk_io {
  void* opaque;
  int64_t (*read)(void* opaque, uint8_t* buf, size_t size);
  int64_t (*write)(void* opaque, const uint8_t* buf, size_t size);
  int64_t (*seek)(void* opaque, int64_t offset);
  int64_t (*size)(void* opaque);
} h4mk_io;

typedef enum h4mk_block_type {
  H4MK_BLOCK_I = 0,
  H4MK_BLOCK_P = 1,
  H4MK_BLOCK_B = 2
} h4mk_block_type;

/* DAMAGED is set by readers only (h4mk_reader_hand_out_damaged_groups). */
enum { H4MK_BLOCK_FLAG_MASKED = 1, H4MK_BLOCK_FLAG_DISCARDABLE = 2, H4MK_BLOCK_FLAG_DAMAGED = 4 };

typedef struct h4mk_block {
  uint16_t track_id;
  uint16_t track_index; /* reader: the track's position (h4mk_reader_track_info) */
  h4mk_block_type type;
  unsigned flags;      /* H4MK_BLOCK_FLAG_* */
  int64_t pts, dts;    /* in the track's time_base */
  int64_t duration;    /* 0 = unknown */
  const uint8_t* data; /* reader: valid until the next reading call */
  size_t size;
  uint64_t chunk_offset; /* reader: offset of the CORE chunk holding the block */
  uint32_t index_in_group;
  const uint8_t* side_data; /* key/value entries (h4mk_side_data_*), or NULL */
  size_t side_data_size;
} h4mk_block;

/* Block side data: a blob of key/value entries next to the payload, opaque to
 * the container (docs/FORMAT.md §5.4). */

/* Appends one entry to dst (capacity cap) at *size if it fits; returns the
 * bytes the entry takes either way, 0 for an empty key. */
H4MK_API size_t h4mk_side_data_put(uint8_t* dst, size_t cap, size_t* size, const char* key,
                                   const uint8_t* value, size_t value_size);
/* The entry at *pos, advancing *pos: H4MK_OK, H4MK_ERR_EOF at the end, or
 * H4MK_ERR_CORRUPT. The key is not NUL-terminated. */
H4MK_API int h4mk_side_data_next(const uint8_t* blob, size_t blob_size, size_t* pos,
                                 const char** key, size_t* key_size, const uint8_t** value,
                                 size_t* value_size);

/* The packet flags a block has no bit for (docs/FORMAT.md §5.4): side data
 * under H4MK_PACKET_FLAGS_KEY. parse gives the flags a value names (names it
 * does not know are ignored); format writes the value naming flags,
 * NUL-terminated, into out if it fits (32 bytes always do) and returns its
 * length, 0 for no flag. */
#define H4MK_PACKET_FLAGS_KEY "packet_flags"
#define H4MK_PACKET_DISCARD 1u /* decode, do not show */
#define H4MK_PACKET_CORRUPT 2u
H4MK_API unsigned h4mk_packet_flags_parse(const uint8_t* value, size_t size);
H4MK_API size_t h4mk_packet_flags_format(unsigned flags, char* out, size_t out_size);

/* Registered side data (docs/FORMAT.md §6.1), by id (id_size bytes, not
 * NUL-terminated). h4mk_side_data_check: H4MK_OK when value fits the id's
 * layout, H4MK_ERR_NOT_FOUND for an id that is not registered,
 * H4MK_ERR_CORRUPT otherwise. For the ids laid out in fields,
 * h4mk_side_data_read_values gives their values (the header's, then each
 * entry's, in the table's order; a rational is num, den; a u64 is the
 * int64_t of its bits) and h4mk_side_data_write_values the bytes of
 * values, refusing with H4MK_ERR_INVALID_ARGUMENT a value its field cannot
 * hold; both set *count or *size to what there is, and write it only when it
 * fits in cap. H4MK_ERR_INVALID_ARGUMENT too for an id without fields. */
H4MK_API int h4mk_side_data_check(const char* id, size_t id_size, const uint8_t* value,
                                  size_t size);
H4MK_API int h4mk_side_data_read_values(const char* id, size_t id_size, const uint8_t* value,
                                        size_t size, int64_t* values, size_t cap, size_t* count);
H4MK_API int h4mk_side_data_write_values(const char* id, size_t id_size, const int64_t* values,
                                         size_t count, uint8_t* out, size_t cap, size_t* size);

/* A program's own struct as a layout's fields: the program says where each
 * field sits in its struct and libh4mk keeps the layout's rules (byte order,
 * units, enumerations by symbol, ranges, the entry count). A field the map
 * does not name is stored as 0 and not loaded. id is NUL-terminated;
 * H4MK_ERR_NOT_FOUND for one that is not registered. */
typedef struct h4mk_symbol {
  const char* name; /* the field's symbol (docs/FORMAT.md §6.1) */
  int value;        /* the program's value for it */
} h4mk_symbol;
typedef enum h4mk_member_kind {
  H4MK_MEMBER_UINT,     /* unsigned integers of `size` bytes, as many as the field has */
  H4MK_MEMBER_INT,      /* signed integers of `size` bytes */
  H4MK_MEMBER_RATIONAL, /* int num, int den: a rational field, or one in units (mdcv) */
  H4MK_MEMBER_ENUM      /* an int, one of `symbols` */
} h4mk_member_kind;
typedef struct h4mk_member {
  const char* field; /* the layout's field name */
  uint32_t offset;   /* of the member in the struct */
  uint8_t kind;      /* h4mk_member_kind */
  uint8_t size;      /* integers: 1, 2, 4 or 8 */
  uint16_t nb_symbols;
  const h4mk_symbol* symbols;
  /* 0, or 1 + the offset of an int saying the member is set: stored as 0
   * while that int is 0, and set to 1 when a value other than 0 is loaded */
  uint32_t present;
} h4mk_member;
typedef struct h4mk_struct_map {
  const h4mk_member* members; /* the header's fields */
  size_t nb_members;
  const h4mk_member* entry; /* each entry's fields (IAMF subblocks, ...) */
  size_t nb_entry;
  void* (*entry_at)(void* s, size_t i); /* entry i of struct s (NULL: refused) */
} h4mk_struct_map;
/* The bytes of struct s (with entries entries) under id, written to out when
 * they fit in cap, *size set either way: H4MK_ERR_INVALID_ARGUMENT for a map
 * that names a field the layout lacks or does not fit it, or a value its
 * field cannot hold (an entry count other than entries, an unlisted enum). */
H4MK_API int h4mk_side_data_from_struct(const char* id, const h4mk_struct_map* map, const void* s,
                                        size_t entries, uint8_t* out, size_t cap, size_t* size);
/* The entries value holds; H4MK_ERR_CORRUPT when it does not fit id's layout. */
H4MK_API int h4mk_side_data_entries(const char* id, const uint8_t* value, size_t size,
                                    size_t* entries);
/* Loads value into struct s, which has room for its entries: H4MK_ERR_CORRUPT
 * when value does not fit id's layout or has a symbol the map lacks. */
H4MK_API int h4mk_side_data_to_struct(const char* id, const h4mk_struct_map* map,
                                      const uint8_t* value, size_t size, void* s);

typedef struct h4mk_track_info {
  uint16_t id;
  const char* kind;  /* "audio", "video", "data", "subtitle", "control" */
  const char* codec; /* FFmpeg codec name, or "h4core" */
  int32_t time_base_num, time_base_den;
  const char* name; /* "" when absent, likewise below */
  const char* language;
  const char* channel_layout;
  const char* adapter; /* as the file has it: load it only if h4mk_is_adapter_name */
  uint32_t sample_rate, channels, width, height;
  int32_t frame_rate_num, frame_rate_den; /* 0/0 when absent */
  int64_t default_duration;
  const uint8_t* extradata;
  size_t extradata_size;
  const char* json;          /* the whole track object, as JSON text */
  uint32_t max_chain_blocks; /* the track's declared chain bound, 0 when it declares none */
} h4mk_track_info;

/* 1 when `name` is a name a file may give an adapter (docs/FORMAT.md §17.1):
 * 1 to 32 of a-z 0-9 '_' '-', starting with a letter or digit; 0 otherwise
 * (a path, empty, NULL). */
H4MK_API int h4mk_is_adapter_name(const char* name);

/* 1 when `codec` is one of the codec ids of docs/FORMAT.md §6.2 (TRAK
 * `codec`), 0 otherwise (an application's prefixed name, unknown, NULL). */
H4MK_API int h4mk_codec_is_registered(const char* codec);

/* Probe score 0..100 for the first bytes of a file: 100 when they hold a
 * valid H4MK 1.x or 2.x file header (magic, CRC, major version), 0 otherwise.
 * Cheap and allocation-free. */
H4MK_API int h4mk_probe(const uint8_t* buf, size_t size);

/* ---------------------------------------------------------------- reader */

typedef struct h4mk_reader h4mk_reader;

/* Opens a reader over io (copied). On failure *out is NULL; the message is
 * available through h4mk_open_error() until the next open on this thread. */
H4MK_API int h4mk_reader_open(h4mk_reader** out, const h4mk_io* io);
/* As h4mk_reader_open, checking the file against its signature with a trusted
 * Ed25519 public key (PEM text) as it reads (docs/FORMAT.md 8.2): opening fails
 * with H4MK_ERR_AUTH for an unsigned file, another key or a bad signature,
 * H4MK_ERR_NOT_SEEKABLE without a seekable io of known size; a read or seek
 * that meets bytes that do not match fails with H4MK_ERR_VERIFY, naming them
 * in h4mk_reader_last_error(), and hands out nothing of theirs. */
H4MK_API int h4mk_reader_open_verified(h4mk_reader** out, const h4mk_io* io,
                                       const char* public_key_pem);
/* 1 when the reader checks every byte against a signature, 0 otherwise. */
H4MK_API int h4mk_reader_verified(const h4mk_reader* r);
H4MK_API const char* h4mk_open_error(void);
H4MK_API void h4mk_reader_free(h4mk_reader* r);
H4MK_API const char* h4mk_reader_last_error(const h4mk_reader* r);

H4MK_API size_t h4mk_reader_track_count(const h4mk_reader* r);
/* The position of the track with id track_id (0 .. count - 1, as
 * h4mk_reader_track_info takes it): H4MK_OK, or H4MK_ERR_NOT_FOUND. */
H4MK_API int h4mk_reader_track_index(const h4mk_reader* r, uint16_t track_id, size_t* index);
/* Track by position (0 .. count-1). */
H4MK_API int h4mk_reader_track_info(h4mk_reader* r, size_t index, h4mk_track_info* out);
H4MK_API const char* h4mk_reader_tracks_json(const h4mk_reader* r);
H4MK_API const char* h4mk_reader_metadata_json(const h4mk_reader* r); /* "" if absent */
H4MK_API const char* h4mk_reader_safe_json(const h4mk_reader* r);     /* "" if absent */
H4MK_API const char* h4mk_reader_note(const h4mk_reader* r);          /* "" if absent */
/* VERI payload (loads the tail index on seekable sources); "" if absent. */
H4MK_API const char* h4mk_reader_veri_json(h4mk_reader* r);
H4MK_API uint64_t h4mk_reader_data_offset(const h4mk_reader* r);

/* 1 if the file is complete and its index loaded, 0 otherwise. */
H4MK_API int h4mk_reader_has_index(h4mk_reader* r);
/* Per-track totals: from the HINT chunk when the file has a filled-in one
 * (no read at the end of the file), else from the index (loading it);
 * H4MK_ERR_NOT_FOUND with neither. */
H4MK_API int h4mk_reader_track_summary(h4mk_reader* r, uint16_t track_id, uint64_t* block_count,
                                       int64_t* start_pts, int64_t* end_pts);
typedef struct h4mk_index_entry {
  int64_t pts;
  uint64_t offset;
} h4mk_index_entry;
/* The track's seek entries (owned by the reader); *count 0 without an index. */
H4MK_API int h4mk_reader_index(h4mk_reader* r, uint16_t track_id, const h4mk_index_entry** entries,
                               size_t* count);

/*
 * Next block in file order. Returns H4MK_OK with *out filled, H4MK_ERR_EOF at
 * the end, or another error for a damaged region that was skipped (message in
 * h4mk_reader_last_error, offset in *damage_offset if non-NULL); reading may
 * continue after such an error. Fatal I/O errors return H4MK_ERR_IO.
 */
H4MK_API int h4mk_reader_next_block(h4mk_reader* r, h4mk_block* out, uint64_t* damage_offset);
/* h4mk_reader_next_block, and with a block, the blocks after it in its group
 * stored back to back at its size with its type (a FIXED_SIZE group,
 * FORMAT.md §5.3) that no key unmasks: *count blocks at once (0 unless
 * H4MK_OK). out describes the first; block i has pts and dts
 * out->pts + i * out->duration and the i-th out->size / *count bytes of
 * out->data. For bulk reads of fixed-size frames: a group in one call. */
H4MK_API int h4mk_reader_next_run(h4mk_reader* r, h4mk_block* out, uint32_t* count,
                                  uint64_t* damage_offset);
/* Whether reading goes on after err from h4mk_reader_next_block or
 * _next_packet: damage (CRC, CORRUPT, TRUNCATED, LIMIT) that was skipped or
 * is handed out next marked damaged, or a masked block that does not
 * authenticate (AUTH); both moved reading past them. Not after bytes that
 * do not match the file's signature (VERIFY: nothing of them is handed out,
 * and reading stops there), I/O errors or a lack of memory. */
H4MK_API int h4mk_reader_goes_on(int err);

/* META entries in key order: strings as they are, other JSON values as JSON
 * text. H4MK_ERR_NOT_FOUND once index >= the number of entries. */
H4MK_API int h4mk_reader_metadata(h4mk_reader* r, size_t index, const char** key,
                                  const char** value);
/* The same for the "tags" object of the track at position track_index. */
H4MK_API int h4mk_reader_track_tag(h4mk_reader* r, size_t track_index, size_t index,
                                   const char** key, const char** value);
/* A member of the track object by dotted path (e.g. "ffmpeg.format"):
 * strings as they are, other values as JSON text; H4MK_ERR_NOT_FOUND if absent. */
H4MK_API int h4mk_reader_track_property(h4mk_reader* r, size_t track_index, const char* path,
                                        const char** value);
/* The registered TRAK members (docs/FORMAT.md §6.1) as values. */
typedef enum h4mk_field_order {
  H4MK_FIELD_ORDER_UNKNOWN = 0,
  H4MK_FIELD_PROGRESSIVE,
  H4MK_FIELD_TT, /* top field coded and shown first */
  H4MK_FIELD_BB,
  H4MK_FIELD_TB, /* top coded first, bottom shown first */
  H4MK_FIELD_BT
} h4mk_field_order;

typedef struct h4mk_codec_params {
  int64_t bit_rate; /* 1..2^63-1; 0: absent, and so for the members to video_delay */
  int32_t bits_per_coded_sample, bits_per_raw_sample, block_align, frame_size;
  int32_t encoder_delay, trailing_padding, seek_preroll, video_delay; /* 1..2^31-1 */
  int32_t sample_aspect_ratio_num, sample_aspect_ratio_den;           /* 0: absent */
  h4mk_field_order field_order;
  int color_range; /* 0 limited, 1 full; -1: absent, and so for the members below */
  int color_primaries, color_transfer, color_matrix; /* ITU-T H.273 code points 0..255 */
  int chroma_location;                               /* Chroma420SampleLocType 0..5 */
} h4mk_codec_params;

/* A track's dispositions: bit i is the i-th name of §6.1's list. */
#define H4MK_DISPOSITION_DEFAULT (1u << 0)
#define H4MK_DISPOSITION_DUB (1u << 1)
#define H4MK_DISPOSITION_ORIGINAL (1u << 2)
#define H4MK_DISPOSITION_COMMENT (1u << 3)
#define H4MK_DISPOSITION_LYRICS (1u << 4)
#define H4MK_DISPOSITION_KARAOKE (1u << 5)
#define H4MK_DISPOSITION_FORCED (1u << 6)
#define H4MK_DISPOSITION_HEARING_IMPAIRED (1u << 7)
#define H4MK_DISPOSITION_VISUAL_IMPAIRED (1u << 8)
#define H4MK_DISPOSITION_CLEAN_EFFECTS (1u << 9)
#define H4MK_DISPOSITION_ATTACHED_PIC (1u << 10)
#define H4MK_DISPOSITION_TIMED_THUMBNAILS (1u << 11)
#define H4MK_DISPOSITION_NON_DIEGETIC (1u << 12)
#define H4MK_DISPOSITION_CAPTIONS (1u << 13)
#define H4MK_DISPOSITION_DESCRIPTIONS (1u << 14)
#define H4MK_DISPOSITION_METADATA (1u << 15)
#define H4MK_DISPOSITION_DEPENDENT (1u << 16)
#define H4MK_DISPOSITION_STILL_IMAGE (1u << 17)
#define H4MK_DISPOSITION_MULTILAYER (1u << 18)

/* The registered name of disposition bit `bit` ("default" for 0, ...), NULL
 * past the last. */
H4MK_API const char* h4mk_disposition_name(unsigned bit);

/* Called with each registered member left out because it does not fit, e.g.
 * "codec_params.frame_size is not an integer in 1..2147483647". */
typedef void (*h4mk_ignored_fn)(void* opaque, const char* message);

/* The codec parameters and dispositions of the track at position
 * track_index (either pointer may be NULL). What does not fit its range,
 * name or layout is left out and passed to ignored (if non-NULL): the media
 * stays readable. */
H4MK_API int h4mk_reader_track_params(h4mk_reader* r, size_t track_index, h4mk_codec_params* params,
                                      unsigned* disposition, h4mk_ignored_fn ignored, void* opaque);
/* The track's side data under a registered id, decoded and checked against
 * its layout (valid as long as the reader): H4MK_ERR_NOT_FOUND when absent or
 * left out (h4mk_reader_track_params says why). */
H4MK_API int h4mk_reader_track_side_data(h4mk_reader* r, size_t track_index, const char* id,
                                         const uint8_t** data, size_t* size);

/* The same member as an integer: H4MK_ERR_NOT_FOUND if absent, H4MK_ERR_CORRUPT
 * if it is not a JSON integer that fits in int64_t. */
H4MK_API int h4mk_reader_track_property_int(h4mk_reader* r, size_t track_index, const char* path,
                                            int64_t* value);

/* A chapter (CHAP chunk, docs/FORMAT.md §7.1). Times are in time_base. */
typedef struct h4mk_chapter {
  int32_t time_base_num, time_base_den;
  int64_t start;
  int64_t end; /* when has_end; otherwise unknown (until the next chapter) */
  int64_t id;  /* when has_id: the source's chapter id */
  int has_end, has_id;
  const char* title; /* NULL or "" = none; from a reader, valid while it lives */
} h4mk_chapter;

/* The file's chapters, in file order (none when CHAP is absent or damaged). */
H4MK_API size_t h4mk_reader_chapter_count(const h4mk_reader* r);
/* H4MK_ERR_NOT_FOUND once index >= the count. */
H4MK_API int h4mk_reader_chapter(h4mk_reader* r, size_t index, h4mk_chapter* out);
/* The chapter's tags in key order, as h4mk_reader_track_tag. */
H4MK_API int h4mk_reader_chapter_tag(h4mk_reader* r, size_t chapter, size_t index, const char** key,
                                     const char** value);

/* A file attached to the container (ATCH chunk, docs/FORMAT.md §7.2): a font,
 * or with track_id set, that track's picture (cover art). From a reader the
 * pointers are valid while it lives. */
typedef struct h4mk_attachment {
  const char* filename;    /* a bare name: no '/', '\\' or NUL, not "." or ".." */
  const char* mimetype;    /* NULL or "" = unknown */
  const char* description; /* NULL or "" = none */
  uint16_t track_id;       /* 0 = none */
  const uint8_t* data;
  size_t size;
} h4mk_attachment;

/* From now on, blocks of a CORE whose CRC fails but whose group parses are
 * handed out (after the damage is reported) with H4MK_BLOCK_FLAG_DAMAGED,
 * so decoders can conceal them; never a masked track's. Off by default. */
H4MK_API int h4mk_reader_hand_out_damaged_groups(h4mk_reader* r, int on);

/* The file's attachments, in file order (a damaged one is left out). */
H4MK_API size_t h4mk_reader_attachment_count(const h4mk_reader* r);
/* H4MK_ERR_NOT_FOUND once index >= the count. */
H4MK_API int h4mk_reader_attachment(const h4mk_reader* r, size_t index, h4mk_attachment* out);

typedef enum h4mk_seek_mode {
  H4MK_SEEK_KEY_BEFORE = 0, /* the last I block with pts <= t */
  H4MK_SEEK_KEY_AFTER = 1,  /* the first I block with pts >= t */
  H4MK_SEEK_ANY_BEFORE = 2  /* the last block with pts <= t (and dts <= t) */
} h4mk_seek_mode;

/* Positions reading so that the next block returned is the one the mode
 * names for track_id and time t. Fills *landed (timing, type, offsets; no
 * data) if non-NULL. H4MK_ERR_NOT_FOUND when there is no such block. */
H4MK_API int h4mk_reader_seek(h4mk_reader* r, uint16_t track_id, int64_t t, h4mk_seek_mode mode,
                              h4mk_block* landed);
/* As h4mk_reader_seek for track_id, and every other track resumes with the
 * block it needs to present the landing time (its last I block at or before
 * it while that presents then or has P/B blocks after it, else its first I
 * block after): what a player or FFmpeg reading every track wants. Blocks
 * before each track's point are skipped until the next seek (FORMAT.md §9.5). */
H4MK_API int h4mk_reader_seek_all(h4mk_reader* r, uint16_t track_id, int64_t t, h4mk_seek_mode mode,
                                  h4mk_block* landed);
/* Positions reading at a group (e.g. an index entry's offset) and block. */
H4MK_API int h4mk_reader_seek_to_group(h4mk_reader* r, uint64_t chunk_offset,
                                       uint32_t index_in_group);
/* Back to the first block. */
H4MK_API int h4mk_reader_rewind(h4mk_reader* r);

/* --- packets: every track's blocks in dts order (h4mk/packet_reader.hpp) */
/* The next block in dts order across tracks (equal dts: file order), read
 * ahead within bounds (65,536 blocks, 64 MiB) whatever the file or the number
 * of tracks; otherwise as h4mk_reader_next_block, whose errors it returns.
 * The read-ahead is dropped by h4mk_reader_seek, _seek_all, _seek_to_group,
 * _rewind and _next_block, which read in file order. */
H4MK_API int h4mk_reader_next_packet(h4mk_reader* r, h4mk_block* out, uint64_t* damage_offset);
/* discard != 0: the track's blocks are dropped as read, never queued, and
 * h4mk_reader_next_packet does not wait for the track. */
H4MK_API int h4mk_reader_discard_track(h4mk_reader* r, uint16_t track_id, int discard);
/* Moves h4mk_reader_next_packet to time t of a track, for reading every track
 * from there. Returns 1 with *landed (if non-NULL) filled when reading goes on
 * at a landing block (h4mk_reader_seek_all); 0 when it goes on from the first
 * block of the file (t at or before the track's first I block) or, on a
 * source that cannot seek, by reading on, each track from its first I block
 * presenting at or after t. A failure changes nothing: H4MK_ERR_NOT_FOUND,
 * H4MK_ERR_NOT_SEEKABLE for a time before the latest packet handed out on a
 * source that cannot seek, or another error. */
H4MK_API int h4mk_reader_seek_packets(h4mk_reader* r, uint16_t track_id, int64_t t,
                                      h4mk_seek_mode mode, h4mk_block* landed);
H4MK_API uint64_t h4mk_reader_bytes_read(const h4mk_reader* r);
/* Damage reported so far, in the order found: at open, a damaged META, SAFE,
 * CHAP or HINT (ignored, reading goes on); later, each skipped region.
 * Bounded whatever the file: the first 1000 records and the latest 24 are
 * kept (every one is also reported by h4mk_reader_next_block as it is met).
 * H4MK_ERR_NOT_FOUND once index >= the count. The message stays valid until
 * the reader reads again (next block, seek) or is freed. */
H4MK_API size_t h4mk_reader_damage_count(const h4mk_reader* r);
H4MK_API int h4mk_reader_damage(const h4mk_reader* r, size_t index, uint64_t* offset,
                                const char** message);

/* ---------------------------------------------------------------- writer */

typedef struct h4mk_writer_options {
  uint32_t max_group_bytes;       /* 0 = default (1 MiB) */
  uint32_t max_group_blocks;      /* 0 = default (4096) */
  int64_t max_group_duration_us;  /* 0 = default (2 s) */
  int no_veri;                    /* non-zero: no VERI chunk. With VERI, a process
                                     that may run on more than one CPU hashes it on
                                     a second thread (the same bytes); pin the
                                     process to one CPU before opening to avoid it.
                                     A child forked while the writer is open must
                                     not use it: the thread stays in the parent */
  int no_index;                   /* non-zero: no TSEK chunks */
  int64_t interleave_duration_us; /* 0 = default: with two or more audio or video
                                     tracks, groups span at most 0.5 s; < 0: off */
  /* Text (a track's name, language and tags, a chapter's title and tags,
   * metadata, NOTE) must be UTF-8, as JSON holds it. 0: text that is not is
   * refused (H4MK_ERR_INVALID_ARGUMENT). Non-zero: it is stored with each
   * invalid sequence replaced by U+FFFD, and warn is told what was. */
  int replace_invalid_utf8;
  /* What the writer changed in what it was given, one message a call; NULL:
   * not told. */
  void (*warn)(void* opaque, const char* message);
  void* warn_opaque;
} h4mk_writer_options;

typedef struct h4mk_track_desc {
  uint16_t id;
  const char* kind;  /* required */
  const char* codec; /* required */
  int32_t time_base_num, time_base_den;
  const char *name, *language, *channel_layout, *adapter; /* NULL or "" = absent */
  uint32_t sample_rate, channels, width, height;
  int32_t frame_rate_num, frame_rate_den;
  int64_t default_duration;
  const uint8_t* extradata;
  size_t extradata_size;
  const char* extra_json;    /* other members of the track object, or NULL */
  uint32_t max_chain_blocks; /* 1..65536: the track's decode chain bound; 0 = the writer's */
} h4mk_track_desc;

typedef struct h4mk_writer h4mk_writer;

/* opts may be NULL for defaults. io is copied; it needs write only. */
H4MK_API int h4mk_writer_open(h4mk_writer** out, const h4mk_io* io,
                              const h4mk_writer_options* opts);
/* Frees the writer; without h4mk_writer_finish the output stays incomplete
 * (readable up to the last complete group, like a cut file). */
H4MK_API void h4mk_writer_free(h4mk_writer* w);
H4MK_API const char* h4mk_writer_last_error(const h4mk_writer* w);

H4MK_API int h4mk_writer_add_track(h4mk_writer* w, const h4mk_track_desc* track);
H4MK_API int h4mk_writer_set_track_tag(h4mk_writer* w, uint16_t track_id, const char* key,
                                       const char* value);
/* Sets a member of the track object by dotted path (e.g. "ffmpeg.format"), for
 * parameters beyond h4mk_track_desc. The first component must not be one of
 * the standard keys of docs/FORMAT.md §6. */
H4MK_API int h4mk_writer_set_track_property(h4mk_writer* w, uint16_t track_id, const char* path,
                                            const char* value);
H4MK_API int h4mk_writer_set_track_property_int(h4mk_writer* w, uint16_t track_id, const char* path,
                                                int64_t value);
/* json: one JSON value (an array such as "[16,9]", an object, ...). */
H4MK_API int h4mk_writer_set_track_property_json(h4mk_writer* w, uint16_t track_id,
                                                 const char* path, const char* json);

/* The track's registered codec parameters and dispositions (replacing any
 * set before); H4MK_ERR_INVALID_ARGUMENT names a value out of its range. */
H4MK_API int h4mk_writer_set_track_params(h4mk_writer* w, uint16_t track_id,
                                          const h4mk_codec_params* params, unsigned disposition);
/* Side data describing the whole track under a registered id (§6.1);
 * H4MK_ERR_INVALID_ARGUMENT for an id not registered or bytes that do not
 * fit its layout. */
H4MK_API int h4mk_writer_set_track_side_data(h4mk_writer* w, uint16_t track_id, const char* id,
                                             const uint8_t* data, size_t size);
H4MK_API int h4mk_writer_set_metadata(h4mk_writer* w, const char* key, const char* value);
H4MK_API int h4mk_writer_set_metadata_json(h4mk_writer* w, const char* json_object);
H4MK_API int h4mk_writer_set_safe_json(h4mk_writer* w, const char* json_object);
H4MK_API int h4mk_writer_set_note(h4mk_writer* w, const char* utf8);
/* Before the first block; chapters keep the order they are added in. */
H4MK_API int h4mk_writer_add_chapter(h4mk_writer* w, const h4mk_chapter* chapter);
/* Before the first block; the data is copied. */
H4MK_API int h4mk_writer_add_attachment(h4mk_writer* w, const h4mk_attachment* attachment);
/* The track's picture will come as an attachment, maybe after other tracks'
 * first blocks (cover art a muxer gets as a packet): blocks are held, up to
 * 256 or 16 MiB, until every expected picture is added; past that, or on
 * flush or finish, they are written and a later picture is refused
 * (H4MK_ERR_STATE). */
H4MK_API int h4mk_writer_expect_attachment(h4mk_writer* w, uint16_t track_id);
/* chapter: 0 for the first one added, and so on. */
H4MK_API int h4mk_writer_set_chapter_tag(h4mk_writer* w, size_t chapter, const char* key,
                                         const char* value);

/* block->data/size is the payload; chunk_offset and index_in_group are
 * ignored. A whole-frame audio block shorter than its track's frame_size
 * gains skip samples for its padding (docs/FORMAT.md §5.4). */
H4MK_API int h4mk_writer_write_block(h4mk_writer* w, const h4mk_block* block);
/* count blocks at once (Writer::write_run): first->data/size holds their
 * payloads back to back, size / count bytes each; block k is as *first but
 * at pts = dts = first->pts + k * first->duration. first->dts must equal
 * first->pts; no side data. The same file as count write_block calls. */
H4MK_API int h4mk_writer_write_run(h4mk_writer* w, const h4mk_block* first, uint32_t count);
H4MK_API int h4mk_writer_flush(h4mk_writer* w);
H4MK_API int h4mk_writer_finish(h4mk_writer* w);

/* ------------------------------------------------------ masking (h4mask) */
/* docs/FORMAT.md §13. Keys are 32 bytes; nothing here ever writes one to a
 * file or a message. */

typedef enum h4mk_mask_scheme {
  H4MK_MASK_AES_256_GCM = 0, /* authenticated; adds H4MK_MASK_GCM_OVERHEAD bytes */
  H4MK_MASK_AES_256_CTR = 1  /* length-preserving */
} h4mk_mask_scheme;

enum { H4MK_MASK_KEY_SIZE = 32, H4MK_MASK_GCM_OVERHEAD = 28 };

/* 16 bytes naming h4mask where a key system id is expected (FFmpeg's
 * AVEncryptionInitInfo.system_id, which then carries the mask parameters). */
#define H4MK_MASK_SYSTEM_ID "h4mask-v1\0\0\0\0\0\0\0"

/* "aes-256-gcm" / "aes-256-ctr", NULL for a value that is neither scheme;
 * from_name returns H4MK_ERR_INVALID_ARGUMENT for any other name. */
H4MK_API const char* h4mk_mask_scheme_name(h4mk_mask_scheme scheme);
H4MK_API int h4mk_mask_scheme_from_name(const char* name, h4mk_mask_scheme* out);
/* 64 hex digits -> key. */
H4MK_API int h4mk_mask_key_from_hex(const char* hex, uint8_t key[H4MK_MASK_KEY_SIZE]);

/* Masks every block of the track that is not already flagged masked (before
 * the first block). kid NULL or "" = derived from the key. */
H4MK_API int h4mk_writer_set_mask_key(h4mk_writer* w, uint16_t track_id,
                                      const uint8_t key[H4MK_MASK_KEY_SIZE],
                                      h4mk_mask_scheme scheme, const char* kid);
/* Declares a track's mask parameters (its TRAK "mask" object, JSON text from
 * h4mk_masker_params_json) without a key, before the first block: blocks
 * that arrive flagged H4MK_BLOCK_FLAG_MASKED are envelopes made with them
 * (a remux, or packets masked by the h4mask filter). */
H4MK_API int h4mk_writer_set_track_mask(h4mk_writer* w, uint16_t track_id, const char* params_json);
/* Compresses the track's block groups with zstd (docs/FORMAT.md §5.7), before
 * the first block: level 1..19 (0: 3), with the dictionary of dict_size
 * bytes when dict is not NULL (at most 1 MiB). Each group is stored compressed only when that makes
 * it smaller; readers expand it transparently. A masked track is refused. */
H4MK_API int h4mk_writer_set_track_compression(h4mk_writer* w, uint16_t track_id, int level,
                                               const uint8_t* dict, size_t dict_size);
/* Unmasks the blocks of the track (0: of every masked track the key fits)
 * from now on: H4MK_ERR_KEY when the key is not the track's (with 0: opens
 * none of the masked tracks; no masked track at all is H4MK_OK). A block that
 * then fails authentication is reported by h4mk_reader_next_block as
 * H4MK_ERR_AUTH (message names track, pts and offset); reading may go on. */
H4MK_API int h4mk_reader_set_mask_key(h4mk_reader* r, uint16_t track_id,
                                      const uint8_t key[H4MK_MASK_KEY_SIZE]);
/* 1 when a key given to h4mk_reader_set_mask_key opens the track's blocks,
 * else 0 (a plain track, a masked one no key opens, or no such track). */
H4MK_API int h4mk_reader_track_unmasked(const h4mk_reader* r, uint16_t track_id);

/* One track's masker, for code that handles packets rather than files (the
 * FFmpeg h4mask bitstream filter). */
typedef struct h4mk_masker h4mk_masker;
/* Fresh parameters: a random salt. kid NULL or "" = derived from the key. */
H4MK_API int h4mk_masker_create(h4mk_masker** out, const uint8_t key[H4MK_MASK_KEY_SIZE],
                                h4mk_mask_scheme scheme, const char* kid);
/* The parameters of a track: its TRAK "mask" object as JSON text (from
 * h4mk_reader_track_property(r, i, "mask", ...) or h4mk_masker_params_json).
 * H4MK_ERR_KEY when the key is not the track's. On failure *out is NULL and
 * the message is in h4mk_open_error(). */
H4MK_API int h4mk_masker_open(h4mk_masker** out, const char* params_json,
                              const uint8_t key[H4MK_MASK_KEY_SIZE]);
H4MK_API void h4mk_masker_free(h4mk_masker* m);
H4MK_API const char* h4mk_masker_last_error(const h4mk_masker* m);
/* The TRAK "mask" object for these parameters (scheme, kid, salt, check). */
H4MK_API const char* h4mk_masker_params_json(const h4mk_masker* m);
H4MK_API h4mk_mask_scheme h4mk_masker_scheme(const h4mk_masker* m);
H4MK_API const char* h4mk_masker_kid(const h4mk_masker* m);
/* Bytes an envelope adds: H4MK_MASK_GCM_OVERHEAD or 0. */
H4MK_API size_t h4mk_masker_overhead(const h4mk_masker* m);
/* block->type, pts and dts place the envelope (docs/FORMAT.md §13.3);
 * block->data/size is the input. out_size must be size + overhead (mask) or
 * size - overhead (unmask). Unmask returns H4MK_ERR_AUTH for an envelope
 * that does not authenticate and then leaves out zeroed. */
H4MK_API int h4mk_masker_mask(h4mk_masker* m, const h4mk_block* block, uint8_t* out,
                              size_t out_size);
H4MK_API int h4mk_masker_unmask(h4mk_masker* m, const h4mk_block* block, uint8_t* out,
                                size_t out_size);

/* What a block's envelope is bound to (type, pts, dts; docs/FORMAT.md
 * §13.3), as bytes that travel with a masked packet outside its file
 * (FFmpeg's AVEncryptionInfo.iv). H4MK_ERR_INVALID_ARGUMENT for a NULL
 * pointer or a type that is no block type. parse fills type, pts and dts of
 * *block and returns H4MK_ERR_INVALID_ARGUMENT for bytes that are not a
 * binding. */
enum { H4MK_MASK_BINDING_SIZE = 17 };
H4MK_API int h4mk_mask_binding(const h4mk_block* block, uint8_t out[H4MK_MASK_BINDING_SIZE]);
H4MK_API int h4mk_mask_binding_parse(const uint8_t* in, size_t size, h4mk_block* block);

/* ---------------------------------------------------------- signed files */

/* Copies the complete file `in` (seekable) to `out`, signed with Ed25519:
 * a hash tree over every byte and a signature over its root (docs/FORMAT.md
 * 8.1, 8.2), which h4mk_reader_open_verified checks as it reads.
 * private_key_pem is the key as PEM text. The message is in h4mk_open_error()
 * on failure. */
H4MK_API int h4mk_sign(const h4mk_io* in, const h4mk_io* out, const char* private_key_pem);
/* Checks the whole file (CRCs, VERI, every digest of the tree) and its
 * signature against a trusted public key (PEM): H4MK_OK, or H4MK_ERR_AUTH / H4MK_ERR_VERIFY with
 * the first problem in h4mk_open_error(). In a process that may run on more than one CPU, VERI may
 * be hashed on a second thread during the call; `in`'s callbacks are only ever called on the
 * caller's thread. */
H4MK_API int h4mk_verify_signature(const h4mk_io* in, const char* public_key_pem);

/* ---------------------------------------------------------------- helpers */

/* The seeds' 32-bit GOP flags: pts_ms in bits 0..27, block type in 28..29. */
H4MK_API int h4mk_gop_flags_pack(uint32_t pts_ms, h4mk_block_type type, uint32_t* flags);
H4MK_API int h4mk_gop_flags_unpack(uint32_t flags, uint32_t* pts_ms, h4mk_block_type* type);

#ifdef __cplusplus
}
#endif

#endif /* H4MK_H */
