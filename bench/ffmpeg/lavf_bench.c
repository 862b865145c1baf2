/*
 * Demuxer costs through the patched libavformat, for one file:
 *   open_bytes    bytes the demuxer read to open (avformat_open_input only)
 *   read_ns       ns per packet of a bare av_read_frame loop (best of N runs)
 *   seek_us       us per random av_seek_frame(BACKWARD) + first packet read
 *   seek_errors   seeks that did not land on the last keyframe <= target
 *   seek_bytes    bytes a seek read, on average (AVIOContext.bytes_read)
 *   seek_calls_us us per lseek + read of seek_bytes at a random offset of the
 *                 same file, with no demuxer: the system calls a seek through
 *                 the file protocol makes at least (hosts differ widely here)
 *   floor_read_ns, floor_seek_us
 *                 the same loops through a demuxer that does nothing (below):
 *                 what libavformat itself costs any demuxer
 *   floor_copy_read_ns
 *                 the read loop through that demuxer when it copies each
 *                 packet into a pooled buffer
 *   packets, payload_bytes, file_bytes
 * Prints one JSON object.
 *
 * usage: lavf_bench FILE [RUNS] [SEEKS]
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/mem.h>
/* FFInputFormat, for the floor demuxer: lavf_bench links the libavformat it
 * was built with, whose source tree is on its include path. */
#include <libavformat/demux.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct CountingFile {
  FILE* f;
  int64_t bytes;
  int64_t size;
} CountingFile;

static int cf_read(void* opaque, uint8_t* buf, int size) {
  CountingFile* c = opaque;
  size_t n = fread(buf, 1, size, c->f);
  c->bytes += n;
  return n ? (int)n : AVERROR_EOF;
}

static int64_t cf_seek(void* opaque, int64_t offset, int whence) {
  CountingFile* c = opaque;
  if (whence == AVSEEK_SIZE) return c->size;
  if (fseeko(c->f, offset, whence & ~AVSEEK_FORCE) < 0) return AVERROR(errno);
  return ftello(c->f);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_i64(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

/* Bytes read by avformat_open_input alone, through a small (4 KiB) buffer. */
static int64_t open_bytes(const char* path) {
  CountingFile c = {fopen(path, "rb")};
  AVFormatContext* fmt = avformat_alloc_context();
  uint8_t* buf = av_malloc(4096);
  AVIOContext* pb;
  int64_t bytes;

  fseeko(c.f, 0, SEEK_END);
  c.size = ftello(c.f);
  fseeko(c.f, 0, SEEK_SET);
  pb = avio_alloc_context(buf, 4096, 0, &c, cf_read, NULL, cf_seek);
  fmt->pb = pb;
  if (avformat_open_input(&fmt, path, NULL, NULL) < 0) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  bytes = c.bytes;
  avformat_close_input(&fmt);
  av_freep(&pb->buffer);
  avio_context_free(&pb);
  fclose(c.f);
  return bytes;
}

/* us per lseek + read of `bytes` at random offsets, `count` times. */
static double seek_calls_us(const char* path, int64_t file_bytes, size_t bytes, int count) {
  const int fd = open(path, O_RDONLY);
  uint8_t* buf = malloc(bytes ? bytes : 1);
  const int64_t span = file_bytes > (int64_t)bytes ? file_bytes - (int64_t)bytes : 1;
  double t0;
  if (fd < 0 || !buf) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  srand(2);
  t0 = now();
  for (int i = 0; i < count; i++) {
    if (lseek(fd, (int64_t)((double)rand() / RAND_MAX * span), SEEK_SET) < 0 ||
        read(fd, buf, bytes) < 0) {
      fprintf(stderr, "cannot read %s\n", path);
      exit(1);
    }
  }
  t0 = (now() - t0) / count;
  free(buf);
  close(fd);
  return t0 * 1e6;
}

/*
 * The floor: a demuxer that hands out the packets a file holds, recorded
 * beforehand, each a reference into one buffer holding them all. No I/O, no
 * parsing, no copy: one av_buffer_ref a packet, the allocation every
 * refcounted packet costs. Seeking is a binary search among the recorded
 * keyframes of the stream. Reading and seeking through it measure what
 * av_read_frame and av_seek_frame cost on top of any demuxer.
 */
void avpriv_set_pts_info(AVStream* st, int pts_wrap_bits, unsigned pts_num, unsigned pts_den);

typedef struct Recorded {
  int64_t pts, dts, duration, offset; /* offset into the buffer */
  int stream, flags, size;
} Recorded;

static struct {
  AVFormatContext* file; /* the recorded file, open: its streams */
  Recorded* packets;
  size_t count, cap;
  uint8_t* bytes;
  size_t used, bytes_cap;
  AVBufferRef* buffer;
  size_t* keys; /* positions of the seek stream's keyframes (in pts order in
                   the streams compared: no keyframe is reordered) */
  size_t nkeys, keys_cap;
  int key_stream;
  int max_size;
} rec;

typedef struct FloorContext {
  size_t next;
  AVBufferPool* pool; /* floor_copy's buffers */
} FloorContext;

static void record(const AVPacket* pkt) {
  if (rec.count == rec.cap)
    rec.packets = realloc(rec.packets, (rec.cap = rec.cap ? 2 * rec.cap : 4096) * sizeof(Recorded));
  while (rec.used + pkt->size + AV_INPUT_BUFFER_PADDING_SIZE > rec.bytes_cap)
    rec.bytes = realloc(rec.bytes, rec.bytes_cap = rec.bytes_cap ? 2 * rec.bytes_cap : 1 << 20);
  if (!rec.packets || !rec.bytes) exit(1);
  rec.packets[rec.count++] =
      (Recorded){pkt->pts,          pkt->dts,   pkt->duration, (int64_t)rec.used,
                 pkt->stream_index, pkt->flags, pkt->size};
  memcpy(rec.bytes + rec.used, pkt->data, pkt->size);
  memset(rec.bytes + rec.used + pkt->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  rec.used += pkt->size + AV_INPUT_BUFFER_PADDING_SIZE;
  if (pkt->size > rec.max_size) rec.max_size = pkt->size;
  if (pkt->stream_index == rec.key_stream && (pkt->flags & AV_PKT_FLAG_KEY)) {
    if (rec.nkeys == rec.keys_cap)
      rec.keys = realloc(rec.keys,
                         (rec.keys_cap = rec.keys_cap ? 2 * rec.keys_cap : 4096) * sizeof(size_t));
    if (!rec.keys) exit(1);
    rec.keys[rec.nkeys++] = rec.count - 1;
  }
}

static void kept(void* opaque, uint8_t* data) {
  (void)opaque;
  (void)data;
}

static int floor_read_header(AVFormatContext* s) {
  for (unsigned i = 0; i < rec.file->nb_streams; i++) {
    const AVStream* from = rec.file->streams[i];
    AVStream* st = avformat_new_stream(s, NULL);
    if (!st || avcodec_parameters_copy(st->codecpar, from->codecpar) < 0) return AVERROR(ENOMEM);
    st->id = from->id;
    avpriv_set_pts_info(st, 64, from->time_base.num, from->time_base.den);
  }
  return 0;
}

/* The next recorded packet's fields, in pkt (its data is the caller's to
 * set); NULL at the end. */
static const Recorded* next_recorded(AVFormatContext* s, AVPacket* pkt) {
  FloorContext* c = s->priv_data;
  const Recorded* r;
  if (c->next == rec.count) return NULL;
  r = &rec.packets[c->next++];
  pkt->size = r->size;
  pkt->stream_index = r->stream;
  pkt->pts = r->pts;
  pkt->dts = r->dts;
  pkt->duration = r->duration;
  pkt->flags = r->flags;
  return r;
}

static int floor_read_packet(AVFormatContext* s, AVPacket* pkt) {
  const Recorded* r = next_recorded(s, pkt);
  if (!r) return AVERROR_EOF;
  if (!(pkt->buf = av_buffer_ref(rec.buffer))) return AVERROR(ENOMEM);
  pkt->data = pkt->buf->data + r->offset;
  return 0;
}

/* The floor, but each packet is a copy in a pooled buffer, as a demuxer
 * that does not hand out references to its own storage makes it. */
static int floor_copy_read_packet(AVFormatContext* s, AVPacket* pkt) {
  FloorContext* c = s->priv_data;
  const Recorded* r = next_recorded(s, pkt);
  if (!r) return AVERROR_EOF;
  if (!c->pool &&
      !(c->pool = av_buffer_pool_init(rec.max_size + AV_INPUT_BUFFER_PADDING_SIZE, NULL)))
    return AVERROR(ENOMEM);
  if (!(pkt->buf = av_buffer_pool_get(c->pool))) return AVERROR(ENOMEM);
  pkt->data = pkt->buf->data;
  memcpy(pkt->data, rec.bytes + r->offset, r->size);
  memset(pkt->data + r->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  return 0;
}

static int floor_close(AVFormatContext* s) {
  FloorContext* c = s->priv_data;
  av_buffer_pool_uninit(&c->pool);
  return 0;
}

/* The last recorded keyframe of the seek stream with pts <= ts. */
static int floor_read_seek(AVFormatContext* s, int stream, int64_t ts, int flags) {
  FloorContext* c = s->priv_data;
  size_t lo = 0, hi = rec.nkeys; /* the first keyframe with pts > ts */
  (void)flags;
  if (stream != rec.key_stream) return -1;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (rec.packets[rec.keys[mid]].pts <= ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (!lo) return -1;
  c->next = rec.keys[lo - 1];
  return 0;
}

static const FFInputFormat floor_demuxer = {
    .p.name = "floor",
    .p.long_name = "a demuxer that does nothing",
    .p.flags = AVFMT_NOFILE,
    .priv_data_size = sizeof(FloorContext),
    .read_header = floor_read_header,
    .read_packet = floor_read_packet,
    .read_seek = floor_read_seek,
};

static const FFInputFormat floor_copy_demuxer = {
    .p.name = "floor_copy",
    .p.long_name = "a demuxer that copies each packet into a pooled buffer",
    .p.flags = AVFMT_NOFILE,
    .priv_data_size = sizeof(FloorContext),
    .read_header = floor_read_header,
    .read_packet = floor_copy_read_packet,
    .read_close = floor_close,
};

/* The file through its own demuxer, or (fmt set) one of the floors. */
static AVFormatContext* open_input(const AVInputFormat* fmt, const char* path) {
  AVFormatContext* ctx = NULL;
  if (avformat_open_input(&ctx, fmt ? "" : path, fmt, NULL) < 0) {
    fprintf(stderr, "cannot open %s\n", fmt ? fmt->name : path);
    exit(1);
  }
  return ctx;
}

/* ns per packet of an av_read_frame loop over a fresh context (open_input);
 * with `recording`, the packets are recorded (record()) and counted. */
static double read_once(const AVInputFormat* format, const char* path, int recording,
                        int64_t* packets, int64_t* payload) {
  AVPacket* pkt = av_packet_alloc();
  AVFormatContext* fmt = open_input(format, path);
  int64_t n = 0;
  double t0 = now();
  while (av_read_frame(fmt, pkt) >= 0) {
    if (recording) {
      record(pkt);
      *payload += pkt->size;
    }
    n++;
    av_packet_unref(pkt);
  }
  t0 = (now() - t0) / n;
  if (recording) *packets = n;
  avformat_close_input(&fmt);
  av_packet_free(&pkt);
  return t0 * 1e9;
}

/* us per av_seek_frame(BACKWARD) to each target and read of the stream's
 * first packet; counts the landings that are not on wants[i]. */
static double seek_us(AVFormatContext* fmt, int stream, const int64_t* targets,
                      const int64_t* wants, int seeks, int* errors) {
  AVPacket* pkt = av_packet_alloc();
  double t0 = now();
  *errors = 0;
  for (int i = 0; i < seeks; i++) {
    if (av_seek_frame(fmt, stream, targets[i], AVSEEK_FLAG_BACKWARD) < 0) {
      ++*errors;
      continue;
    }
    while (av_read_frame(fmt, pkt) >= 0 && pkt->stream_index != stream) av_packet_unref(pkt);
    if (pkt->pts != wants[i]) ++*errors;
    av_packet_unref(pkt);
  }
  t0 = (now() - t0) / seeks;
  av_packet_free(&pkt);
  return t0 * 1e6;
}

int main(int argc, char** argv) {
  const char* path = argv[1];
  const int runs = argc > 2 ? atoi(argv[2]) : 5;
  const int seeks = argc > 3 ? atoi(argv[3]) : 2000;
  const int stream = 0;
  int64_t packets = 0, payload = 0, last = 0, file_bytes;
  double read_time, floor_read_time, floor_copy_time, seek_time, floor_seek_time;
  int errors = 0, floor_errors = 0;

  if (argc < 2 || runs < 1 || seeks < 1) {
    fprintf(stderr, "usage: %s FILE [RUNS >= 1] [SEEKS >= 1]\n", argv[0]);
    return 2;
  }
  rec.file = open_input(NULL, path);
  if (avformat_find_stream_info(rec.file, NULL) < 0) return 1;
  file_bytes = avio_size(rec.file->pb);
  rec.key_stream = stream;
  /* Best of `runs` each, the file and the floor taking turns, so that the
   * machine's drift falls on both alike; the first run records. */
  read_time = read_once(NULL, path, 1, &packets, &payload);
  rec.buffer = av_buffer_create(rec.bytes, rec.used, kept, NULL, AV_BUFFER_FLAG_READONLY);
  if (!rec.buffer || !rec.nkeys) return 1;
  floor_read_time = read_once(&floor_demuxer.p, path, 0, NULL, NULL);
  floor_copy_time = read_once(&floor_copy_demuxer.p, path, 0, NULL, NULL);
  for (int r = 1; r < runs; r++) {
    const double file = read_once(NULL, path, 0, NULL, NULL);
    const double floor = read_once(&floor_demuxer.p, path, 0, NULL, NULL);
    const double copy = read_once(&floor_copy_demuxer.p, path, 0, NULL, NULL);
    read_time = file < read_time ? file : read_time;
    floor_read_time = floor < floor_read_time ? floor : floor_read_time;
    floor_copy_time = copy < floor_copy_time ? copy : floor_copy_time;
  }
  for (size_t k = 0; k < rec.count; k++)
    if (rec.packets[k].stream == stream && rec.packets[k].pts > last) last = rec.packets[k].pts;

  /* The targets and where each must land (the last keyframe <= target),
   * computed before the clock starts: only seeking is timed. */
  int64_t *targets = malloc(seeks * sizeof(*targets)), *wants = malloc(seeks * sizeof(*wants));
  int64_t* keys = malloc(rec.nkeys * sizeof(*keys));
  for (size_t k = 0; k < rec.nkeys; k++) keys[k] = rec.packets[rec.keys[k]].pts;
  qsort(keys, rec.nkeys, sizeof(*keys), cmp_i64);
  srand(1);
  for (int i = 0; i < seeks; i++) {
    size_t lo = 0, hi = rec.nkeys; /* first key > target */
    targets[i] = (int64_t)((double)rand() / RAND_MAX * last);
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (keys[mid] <= targets[i])
        lo = mid + 1;
      else
        hi = mid;
    }
    wants[i] = lo ? keys[lo - 1] : INT64_MIN;
  }
  const int64_t read_before_seeks = rec.file->pb->bytes_read;
  seek_time = seek_us(rec.file, stream, targets, wants, seeks, &errors);
  const size_t seek_bytes = (size_t)((rec.file->pb->bytes_read - read_before_seeks) / seeks);
  {
    AVFormatContext* floor = open_input(&floor_demuxer.p, path);
    floor_seek_time = seek_us(floor, stream, targets, wants, seeks, &floor_errors);
    avformat_close_input(&floor);
  }
  if (floor_errors) fprintf(stderr, "the floor demuxer missed %d landings\n", floor_errors);

  printf("{\"file\":\"%s\",\"format\":\"%s\",\"packets\":%" PRId64 ",\"payload_bytes\":%" PRId64
         ",\"file_bytes\":%" PRId64
         ",\"read_ns\":%.1f,\"seek_us\":%.2f,\"seek_errors\":%d,\"seek_bytes\":%zu,"
         "\"seek_calls_us\":%.2f,\"open_bytes\":%" PRId64
         ",\"floor_read_ns\":%.1f,\"floor_copy_read_ns\":%.1f,\"floor_seek_us\":%.2f}\n",
         path, rec.file->iformat->name, packets, payload, file_bytes, read_time, seek_time, errors,
         seek_bytes, seek_calls_us(path, file_bytes, seek_bytes, seeks), open_bytes(path),
         floor_read_time, floor_copy_time, floor_seek_time);
  free(targets);
  free(wants);
  free(keys);
  avformat_close_input(&rec.file);
  av_buffer_unref(&rec.buffer);
  free(rec.bytes);
  free(rec.packets);
  free(rec.keys);
  return 0;
}
