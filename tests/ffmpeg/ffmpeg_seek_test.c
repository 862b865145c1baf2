/*
 * Random av_seek_frame() calls on an h4mk file through the patched
 * libavformat: each must land exactly on the last keyframe at or before the
 * target (AVSEEK_FLAG_BACKWARD), or the first one at or after it (no flag).
 * A backward seek before the first keyframe starts from the beginning: the
 * stream's first packet comes first. The oracle is a linear read of every
 * packet.
 *
 * usage: ffmpeg_seek_test FILE STREAM SEEKS [SEED]
 *
 * With --undiscard FILE STREAM: reads 200 packets with STREAM discarded
 * (AVDISCARD_ALL), then turns it back on, as ffplay does when it switches
 * streams, and prints "discarded N, then M of 200" (its packets among them).
 *
 * With --failing FILE STREAM READ SECONDS BACKWARD: reads READ packets, then
 * seeks STREAM to SECONDS (BACKWARD 1: AVSEEK_FLAG_BACKWARD), then reads to
 * the end, and prints "seek RET, then N packets": a failed seek must leave
 * reading where it was. FILE may be pipe:0.
 */
#include <inttypes.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Key {
  int64_t pts;
} Key;

static int fail(const char* what, int ret) {
  fprintf(stderr, "%s: %s\n", what, av_err2str(ret));
  return 1;
}

static int failing_seek(int argc, char** argv) {
  AVFormatContext* fmt = NULL;
  AVPacket* pkt = av_packet_alloc();
  int stream, read, backward, ret, seek_ret, n = 0;
  double seconds;

  if (argc < 7) {
    fprintf(stderr, "usage: %s --failing FILE STREAM READ SECONDS BACKWARD\n", argv[0]);
    return 2;
  }
  stream = atoi(argv[3]);
  read = atoi(argv[4]);
  seconds = atof(argv[5]);
  backward = atoi(argv[6]);
  if ((ret = avformat_open_input(&fmt, argv[2], NULL, NULL)) < 0) return fail("open", ret);
  if (stream >= (int)fmt->nb_streams) return fail("stream", AVERROR(EINVAL));
  for (int i = 0; i < read; i++) {
    if ((ret = av_read_frame(fmt, pkt)) < 0) return fail("read", ret);
    av_packet_unref(pkt);
  }
  seek_ret =
      av_seek_frame(fmt, stream, (int64_t)(seconds / av_q2d(fmt->streams[stream]->time_base)),
                    backward ? AVSEEK_FLAG_BACKWARD : 0);
  while ((ret = av_read_frame(fmt, pkt)) >= 0) {
    n++;
    av_packet_unref(pkt);
  }
  if (ret != AVERROR_EOF) return fail("read after the seek", ret);
  printf("seek %s, then %d packets\n", seek_ret < 0 ? "failed" : "succeeded", n);
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  return 0;
}

static int undiscard(int argc, char** argv) {
  AVFormatContext* fmt = NULL;
  AVPacket* pkt = av_packet_alloc();
  int stream, ret, before = 0, after = 0;

  if (argc < 4) {
    fprintf(stderr, "usage: %s --undiscard FILE STREAM\n", argv[0]);
    return 2;
  }
  stream = atoi(argv[3]);
  if ((ret = avformat_open_input(&fmt, argv[2], NULL, NULL)) < 0) return fail("open", ret);
  if (stream >= (int)fmt->nb_streams) return fail("stream", AVERROR(EINVAL));
  fmt->streams[stream]->discard = AVDISCARD_ALL;
  for (int i = 0; i < 200 && (ret = av_read_frame(fmt, pkt)) >= 0; i++) {
    before += pkt->stream_index == stream;
    av_packet_unref(pkt);
  }
  fmt->streams[stream]->discard = AVDISCARD_DEFAULT;
  for (int i = 0; i < 200 && (ret = av_read_frame(fmt, pkt)) >= 0; i++) {
    after += pkt->stream_index == stream;
    av_packet_unref(pkt);
  }
  printf("discarded %d, then %d of 200\n", before, after);
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "--failing")) return failing_seek(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "--undiscard")) return undiscard(argc, argv);
  AVFormatContext* fmt = NULL;
  AVPacket* pkt = av_packet_alloc();
  Key* keys = NULL;
  size_t nkeys = 0, cap = 0;
  int64_t last_pts = 0, first_pts = AV_NOPTS_VALUE;
  int stream, seeks, ret, errors = 0;
  unsigned seed;

  if (argc < 4) {
    fprintf(stderr, "usage: %s FILE STREAM SEEKS [SEED]\n", argv[0]);
    return 2;
  }
  stream = atoi(argv[2]);
  seeks = atoi(argv[3]);
  seed = argc > 4 ? (unsigned)atoi(argv[4]) : 1;

  if ((ret = avformat_open_input(&fmt, argv[1], NULL, NULL)) < 0) return fail("open", ret);
  if (stream >= (int)fmt->nb_streams) return fail("stream", AVERROR(EINVAL));

  /* Oracle: every keyframe of the stream, in decode order. Packets marked
   * corrupt (the complete blocks of the group a cut file ends in) are read
   * on to, never sought to: seeking finds intact groups only. */
  while ((ret = av_read_frame(fmt, pkt)) >= 0) {
    if (pkt->stream_index == stream && !(pkt->flags & AV_PKT_FLAG_CORRUPT)) {
      if (first_pts == AV_NOPTS_VALUE) first_pts = pkt->pts;
      if (pkt->flags & AV_PKT_FLAG_KEY) {
        if (nkeys == cap) {
          cap = cap ? 2 * cap : 1024;
          keys = realloc(keys, cap * sizeof(*keys));
        }
        keys[nkeys++].pts = pkt->pts;
      }
      if (pkt->pts > last_pts) last_pts = pkt->pts;
    }
    av_packet_unref(pkt);
  }
  if (ret != AVERROR_EOF) return fail("read", ret);
  if (!nkeys) return fail("no keyframes", AVERROR(EINVAL));

  srand(seed);
  for (int i = 0; i < seeks; i++) {
    const int backward = i % 2 == 0;
    int64_t target = (int64_t)((double)rand() / RAND_MAX * (last_pts * 1.1)) - last_pts / 20;
    int64_t want = INT64_MIN;
    int found = 0;

    for (size_t k = 0; k < nkeys; k++) {
      if (backward && keys[k].pts <= target) {
        want = keys[k].pts;
        found = 1;
      }
      if (!backward && keys[k].pts >= target) {
        want = keys[k].pts;
        found = 1;
        break;
      }
    }
    ret = av_seek_frame(fmt, stream, target, backward ? AVSEEK_FLAG_BACKWARD : 0);
    if (!found && backward) {
      want = first_pts;
      found = 1;
    }
    if (!found) {
      if (ret >= 0) {
        fprintf(stderr, "seek %d to %" PRId64 ": succeeded where no keyframe qualifies\n", i,
                target);
        errors++;
      }
      continue;
    }
    if (ret < 0) {
      fprintf(stderr, "seek %d to %" PRId64 " (%s) failed: %s\n", i, target,
              backward ? "backward" : "forward", av_err2str(ret));
      errors++;
      continue;
    }
    /* The first packet of the stream after the seek is the landing block. */
    while ((ret = av_read_frame(fmt, pkt)) >= 0 && pkt->stream_index != stream)
      av_packet_unref(pkt);
    if (ret < 0 || pkt->pts != want || (!(pkt->flags & AV_PKT_FLAG_KEY) && want != first_pts)) {
      fprintf(stderr,
              "seek %d to %" PRId64 " (%s): landed on pts %" PRId64 ", want keyframe %" PRId64 "\n",
              i, target, backward ? "backward" : "forward", ret < 0 ? INT64_MIN : pkt->pts, want);
      errors++;
    }
    av_packet_unref(pkt);
  }
  printf("%d seeks, %zu keyframes, %d wrong\n", seeks, nkeys, errors);
  free(keys);
  av_packet_free(&pkt);
  avformat_close_input(&fmt);
  return errors ? 1 : 0;
}
