/*
 * What the patched libavformat reads to open a file: avformat_open_input()
 * through an AVIOContext with a 4 KiB buffer that counts the bytes and the
 * furthest offset its reads reach. Prints one line per stage as
 *   open bytes=N end=E durations=D0,D1,...
 *   seek bytes=N end=E
 * (durations in stream time base; "seek" after one av_seek_frame to the
 * middle of stream 0).
 *
 * usage: ffmpeg_open_reads FILE
 */
#include <inttypes.h>
#include <libavformat/avformat.h>
#include <stdio.h>

typedef struct Counted {
  FILE* f;
  int64_t size, pos, bytes, end;
} Counted;

static int counted_read(void* opaque, uint8_t* buf, int size) {
  Counted* c = opaque;
  size_t n = fread(buf, 1, (size_t)size, c->f);
  c->bytes += (int64_t)n;
  c->pos += (int64_t)n;
  if (c->pos > c->end) c->end = c->pos;
  return n ? (int)n : AVERROR_EOF;
}

static int64_t counted_seek(void* opaque, int64_t offset, int whence) {
  Counted* c = opaque;
  if (whence == AVSEEK_SIZE) return c->size;
  whence &= ~AVSEEK_FORCE;
  if (whence == SEEK_CUR) offset += c->pos;
  if (whence == SEEK_END) offset += c->size;
  if (fseeko(c->f, offset, SEEK_SET) < 0) return AVERROR(errno);
  return c->pos = offset;
}

int main(int argc, char** argv) {
  Counted c = {0};
  AVFormatContext* fmt = avformat_alloc_context();
  uint8_t* buf = av_malloc(4096);
  AVIOContext* pb;
  int ret;

  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  if (!(c.f = fopen(argv[1], "rb"))) {
    perror(argv[1]);
    return 1;
  }
  fseeko(c.f, 0, SEEK_END);
  c.size = ftello(c.f);
  fseeko(c.f, 0, SEEK_SET);
  pb = avio_alloc_context(buf, 4096, 0, &c, counted_read, NULL, counted_seek);
  fmt->pb = pb;
  if ((ret = avformat_open_input(&fmt, argv[1], NULL, NULL)) < 0) {
    fprintf(stderr, "open: %s\n", av_err2str(ret));
    return 1;
  }
  printf("open bytes=%" PRId64 " end=%" PRId64 " durations=", c.bytes, c.end);
  for (unsigned i = 0; i < fmt->nb_streams; i++)
    printf("%s%" PRId64, i ? "," : "", fmt->streams[i]->duration);
  printf("\n");
  if (fmt->nb_streams && fmt->streams[0]->duration > 0) {
    AVStream* st = fmt->streams[0];
    int64_t start = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
    if ((ret = av_seek_frame(fmt, 0, start + st->duration / 2, AVSEEK_FLAG_BACKWARD)) < 0) {
      fprintf(stderr, "seek: %s\n", av_err2str(ret));
      return 1;
    }
    printf("seek bytes=%" PRId64 " end=%" PRId64 "\n", c.bytes, c.end);
  }
  avformat_close_input(&fmt);
  av_freep(&pb->buffer);
  avio_context_free(&pb);
  fclose(c.f);
  return 0;
}
