/*
 * Remuxes IN into OUT with the h4mk muxer after writing PREFIX bytes of 0xAA
 * to the output AVIOContext first, as a program embedding an H4MK file in a
 * stream of its own would. The muxer's seeks (filling in the HINT) must be
 * relative to where its file starts. Usage: ffmpeg_mux_after_prefix IN OUT PREFIX
 */
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char* what, int err) {
  fprintf(stderr, "%s: %s\n", what, av_err2str(err));
  return 1;
}

int main(int argc, char** argv) {
  AVFormatContext *in = NULL, *out = NULL;
  AVPacket* pkt = av_packet_alloc();
  int ret;

  if (argc != 4 || !pkt) {
    fprintf(stderr, "usage: %s IN OUT PREFIX_BYTES\n", argv[0]);
    return 2;
  }
  if ((ret = avformat_open_input(&in, argv[1], NULL, NULL)) < 0) return fail("open input", ret);
  if ((ret = avformat_find_stream_info(in, NULL)) < 0) return fail("stream info", ret);
  if ((ret = avformat_alloc_output_context2(&out, NULL, "h4mk", argv[2])) < 0)
    return fail("output context", ret);
  for (unsigned i = 0; i < in->nb_streams; i++) {
    AVStream* st = avformat_new_stream(out, NULL);
    if (!st) return fail("new stream", AVERROR(ENOMEM));
    if ((ret = avcodec_parameters_copy(st->codecpar, in->streams[i]->codecpar)) < 0)
      return fail("codec parameters", ret);
    st->time_base = in->streams[i]->time_base;
  }
  if ((ret = avio_open(&out->pb, argv[2], AVIO_FLAG_WRITE)) < 0) return fail("open output", ret);
  for (long n = atol(argv[3]); n > 0; n--) avio_w8(out->pb, 0xAA);
  if ((ret = avformat_write_header(out, NULL)) < 0) return fail("write header", ret);
  while (av_read_frame(in, pkt) >= 0) {
    av_packet_rescale_ts(pkt, in->streams[pkt->stream_index]->time_base,
                         out->streams[pkt->stream_index]->time_base);
    if ((ret = av_interleaved_write_frame(out, pkt)) < 0) return fail("write packet", ret);
  }
  if ((ret = av_write_trailer(out)) < 0) return fail("write trailer", ret);
  avio_closep(&out->pb);
  avformat_free_context(out);
  avformat_close_input(&in);
  av_packet_free(&pkt);
  return 0;
}
