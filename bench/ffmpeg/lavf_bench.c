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

int main(int argc, char** argv) {
  const char* path = argv[1];
  const int runs = argc > 2 ? atoi(argv[2]) : 5;
  const int seeks = argc > 3 ? atoi(argv[3]) : 2000;
  AVFormatContext* fmt = NULL;
  AVPacket* pkt = av_packet_alloc();
  int64_t packets = 0, payload = 0, *keys = NULL, last = 0, file_bytes;
  size_t nkeys = 0, cap = 0;
  double best = 1e9, t0, seek_time;
  int errors = 0, stream = 0;

  if (argc < 2 || runs < 1 || seeks < 1) {
    fprintf(stderr, "usage: %s FILE [RUNS >= 1] [SEEKS >= 1]\n", argv[0]);
    return 2;
  }
  if (avformat_open_input(&fmt, path, NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0)
    return 1;
  file_bytes = avio_size(fmt->pb);

  for (int r = 0; r < runs; r++) {
    int64_t n = 0;
    if (r > 0) { /* a fresh context per run: every run reads from the start */
      avformat_close_input(&fmt);
      if (avformat_open_input(&fmt, path, NULL, NULL) < 0) return 1;
    }
    t0 = now();
    while (av_read_frame(fmt, pkt) >= 0) {
      if (r == 0) {
        payload += pkt->size;
        if (pkt->stream_index == stream && (pkt->flags & AV_PKT_FLAG_KEY)) {
          if (nkeys == cap) keys = realloc(keys, (cap = cap ? 2 * cap : 4096) * sizeof(*keys));
          keys[nkeys++] = pkt->pts;
        }
        if (pkt->stream_index == stream && pkt->pts > last) last = pkt->pts;
      }
      n++;
      av_packet_unref(pkt);
    }
    if ((now() - t0) / n < best) best = (now() - t0) / n;
    packets = n;
  }

  /* The targets and where each must land (the last keyframe <= target),
   * computed before the clock starts: only seeking is timed. */
  int64_t *targets = malloc(seeks * sizeof(*targets)), *wants = malloc(seeks * sizeof(*wants));
  qsort(keys, nkeys, sizeof(*keys), cmp_i64);
  srand(1);
  for (int i = 0; i < seeks; i++) {
    size_t lo = 0, hi = nkeys; /* first key > target */
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
  const int64_t read_before_seeks = fmt->pb->bytes_read;
  t0 = now();
  for (int i = 0; i < seeks; i++) {
    int64_t target = targets[i], want = wants[i];
    if (av_seek_frame(fmt, stream, target, AVSEEK_FLAG_BACKWARD) < 0) {
      errors++;
      continue;
    }
    while (av_read_frame(fmt, pkt) >= 0 && pkt->stream_index != stream) av_packet_unref(pkt);
    if (pkt->pts != want) errors++;
    av_packet_unref(pkt);
  }
  seek_time = (now() - t0) / seeks;
  const size_t seek_bytes = (size_t)((fmt->pb->bytes_read - read_before_seeks) / seeks);
  free(targets);
  free(wants);

  printf("{\"file\":\"%s\",\"format\":\"%s\",\"packets\":%" PRId64 ",\"payload_bytes\":%" PRId64
         ","
         "\"file_bytes\":%" PRId64
         ",\"read_ns\":%.1f,\"seek_us\":%.2f,\"seek_errors\":%d,\"seek_bytes\":%zu,"
         "\"seek_calls_us\":%.2f,\"open_bytes\":%" PRId64 "}\n",
         path, fmt->iformat->name, packets, payload, file_bytes, best * 1e9, seek_time * 1e6,
         errors, seek_bytes, seek_calls_us(path, file_bytes, seek_bytes, seeks), open_bytes(path));
  free(keys);
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  return 0;
}
