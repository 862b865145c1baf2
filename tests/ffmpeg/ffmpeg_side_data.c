/*
 * The side data registry of docs/FORMAT.md (§6.1) through the real muxer and
 * demuxer, one value of every struct-valued type FFmpeg has.
 *
 *   ffmpeg_side_data write OUT       a file whose stream and first packet
 *                                    carry every type
 *   ffmpeg_side_data stored FILE     the file stores each type under its
 *                                    registered id, in bytes equal to the
 *                                    layouts, both written out by hand below
 *                                    from the spec
 *   ffmpeg_side_data check FILE      the demuxer gives every value back
 */
#include <h4mk/h4mk.h>
#include <libavcodec/defs.h>
#include <libavformat/avformat.h>
#include <libavutil/ambient_viewing_environment.h>
#include <libavutil/base64.h>
#include <libavutil/dovi_meta.h>
#include <libavutil/hdr_dynamic_metadata.h>
#include <libavutil/iamf.h>
#include <libavutil/mastering_display_metadata.h>
#include <libavutil/mem.h>
#include <libavutil/replaygain.h>
#include <libavutil/spherical.h>
#include <libavutil/stereo3d.h>
#include <libavutil/tdrdi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Sample {
  enum AVPacketSideDataType type;
  const char* id; /* the registered id, by hand from FORMAT.md */
  uint8_t* data;
  size_t size;
  const char* stored_hex; /* the layout, by hand from FORMAT.md; NULL: see check_stored */
} Sample;

static Sample samples[32];
static int nb_samples;

static void add(enum AVPacketSideDataType type, const char* id, void* data, size_t size,
                const char* hex) {
  if (!data) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  samples[nb_samples++] = (Sample){type, id, data, size, hex};
}

#define PLAIN(T) av_mallocz(sizeof(T)), sizeof(T)

/* T.35 payloads are FFmpeg's own serialisation: the sample is what
 * from_t35 makes of to_t35's bytes, so a round trip is exact. */
static AVDynamicHDRPlus* hdr_plus_sample(size_t* size) {
  AVDynamicHDRPlus *p = av_dynamic_hdr_plus_alloc(size), *q = av_dynamic_hdr_plus_alloc(size);
  uint8_t* t35 = NULL;
  size_t n;
  p->itu_t_t35_country_code = 0xB5;
  p->application_version = 1;
  p->num_windows = 1;
  p->targeted_system_display_maximum_luminance = (AVRational){400, 1};
  for (int i = 0; i < 3; i++) p->params[0].maxscl[i] = (AVRational){(i + 1) * 1000, 100000};
  p->params[0].average_maxrgb = (AVRational){500, 100000};
  p->params[0].num_distribution_maxrgb_percentiles = 2;
  p->params[0].distribution_maxrgb[0] = (AVHDRPlusPercentile){1, {10, 100000}};
  p->params[0].distribution_maxrgb[1] = (AVHDRPlusPercentile){99, {900, 100000}};
  p->params[0].fraction_bright_pixels = (AVRational){2, 1000};
  if (av_dynamic_hdr_plus_to_t35(p, &t35, &n) < 0 || av_dynamic_hdr_plus_from_t35(q, t35, n) < 0) {
    fprintf(stderr, "HDR10+ sample does not serialise\n");
    exit(2);
  }
  q->itu_t_t35_country_code = 0; /* not in the T.35 payload */
  av_free(t35);
  av_free(p);
  return q;
}

static void make_samples(void) {
  uint32_t* palette = av_malloc(1024);
  AVReplayGain* rg = av_mallocz(sizeof(*rg));
  int32_t* matrix = av_mallocz(36);
  size_t size;
  AVStereo3D* s3d = av_stereo3d_alloc_size(&size);
  int32_t *service = av_mallocz(4), *fallback = av_mallocz(4);

  for (int i = 0; i < 256; i++) palette[i] = 0xFF000000u | (uint32_t)i * 0x010203u;
  add(AV_PKT_DATA_PALETTE, "palette", palette, 1024, NULL);
  *rg = (AVReplayGain){-123456, 0x89ABCDEF, 654321, 0x01020304};
  add(AV_PKT_DATA_REPLAYGAIN, "replay_gain", rg, sizeof(*rg),
      "c01dfeff efcdab89 f1fb0900 04030201");
  memcpy(matrix, (int32_t[9]){0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30}, 36);
  add(AV_PKT_DATA_DISPLAYMATRIX, "display_matrix", matrix, 36,
      "00000000 00000100 00000000 0000ffff 00000000 00000000 00000000 00000000 00000040");
  s3d->type = AV_STEREO3D_SIDEBYSIDE;
  s3d->flags = AV_STEREO3D_FLAG_INVERT;
  s3d->view = AV_STEREO3D_VIEW_LEFT;
  s3d->primary_eye = AV_PRIMARY_EYE_RIGHT;
  s3d->baseline = 64000;
  s3d->horizontal_disparity_adjustment = (AVRational){-3, 100};
  s3d->horizontal_field_of_view = (AVRational){90, 1};
  add(AV_PKT_DATA_STEREO3D, "stereo3d", s3d, size,
      "01000000 01000000 01000000 02000000 00fa0000 fdffffff 64000000 5a000000 01000000");
  *service = AV_AUDIO_SERVICE_TYPE_KARAOKE;
  add(AV_PKT_DATA_AUDIO_SERVICE_TYPE, "audio_service_type", service, 4, "08000000");
  *fallback = 7;
  add(AV_PKT_DATA_FALLBACK_TRACK, "fallback_track", fallback, 4, "07000000");

  AVCPBProperties* cpb = av_cpb_properties_alloc(&size);
  cpb->max_bitrate = 5000000;
  cpb->min_bitrate = 1000;
  cpb->avg_bitrate = 2500000;
  cpb->buffer_size = 8000000;
  cpb->vbv_delay = 0x0102030405060708ULL;
  add(AV_PKT_DATA_CPB_PROPERTIES, "cpb_properties", cpb, size,
      "404b4c0000000000 e803000000000000 a025260000000000 00127a0000000000 0807060504030201");

  AVMasteringDisplayMetadata* md = av_mastering_display_metadata_alloc_size(&size);
  const int prim[6][2] = {{34000, 50000}, {16000, 50000}, {13250, 50000},
                          {34500, 50000}, {7500, 50000},  {3000, 50000}};
  for (int i = 0; i < 6; i++)
    md->display_primaries[i / 2][i % 2] = (AVRational){prim[i][0], prim[i][1]};
  md->white_point[0] = (AVRational){15635, 50000};
  md->white_point[1] = (AVRational){16450, 50000};
  md->min_luminance = (AVRational){50, 10000};
  md->max_luminance = (AVRational){10000000, 10000};
  md->has_primaries = md->has_luminance = 1;
  /* ISO BMFF's mdcv: big-endian, primaries G, B, R, then white point,
   * max and min luminance. */
  add(AV_PKT_DATA_MASTERING_DISPLAY_METADATA, "mdcv", md, size,
      "33c2 86c4 1d4c 0bb8 84d0 3e80 3d13 4042 00989680 00000032");

  AVSphericalMapping* sph = av_spherical_alloc(&size);
  sph->projection = AV_SPHERICAL_EQUIRECTANGULAR_TILE;
  sph->yaw = 90 << 16;
  sph->pitch = -(45 << 16);
  sph->roll = 1;
  sph->bound_left = 1;
  sph->bound_top = 2;
  sph->bound_right = 3;
  sph->bound_bottom = 4;
  sph->padding = 5;
  add(AV_PKT_DATA_SPHERICAL, "spherical", sph, size,
      "02000000 00005a00 0000d3ff 01000000 01000000 02000000 03000000 04000000 05000000");

  AVContentLightMetadata* cll = av_content_light_metadata_alloc(&size);
  cll->MaxCLL = 1000;
  cll->MaxFALL = 400;
  add(AV_PKT_DATA_CONTENT_LIGHT_LEVEL, "clli", cll, size, "03e8 0190");

  AVProducerReferenceTime* prft = av_mallocz(sizeof(*prft));
  prft->wallclock = 0x0006474C9A2B3C00LL;
  prft->flags = 1;
  add(AV_PKT_DATA_PRFT, "producer_reference_time", prft, sizeof(*prft),
      "003c2b9a4c470600 01000000 00000000");

  AVDOVIDecoderConfigurationRecord* dovi = av_dovi_alloc(&size);
  *dovi = (AVDOVIDecoderConfigurationRecord){1, 0, 8, 6, 1, 0, 1, 4, 2};
  /* dvcC: profile 8 (7 bits), level 6 (6), rpu 1, el 0, bl 1 | compatibility
   * 4 (4), compression 2 (2), 26 reserved bits | 16 reserved bytes. */
  add(AV_PKT_DATA_DOVI_CONF, "dvcc", dovi, size,
      "0100 1035 48000000 00000000000000000000000000000000");

  uint32_t* tc = av_malloc(16);
  memcpy(tc, (uint32_t[4]){2, 0x12345678, 0x9ABCDEF0, 0}, 16);
  add(AV_PKT_DATA_S12M_TIMECODE, "s12m_timecode", tc, 16, "02000000 78563412 f0debc9a 00000000");

  AVAmbientViewingEnvironment* ave = av_ambient_viewing_environment_alloc(&size);
  ave->ambient_illuminance = (AVRational){3141, 10000};
  ave->ambient_light_x = (AVRational){15635, 50000};
  ave->ambient_light_y = (AVRational){16450, 50000};
  add(AV_PKT_DATA_AMBIENT_VIEWING_ENVIRONMENT, "ambient_viewing_environment", ave, size,
      "450c0000 10270000 133d0000 50c30000 42400000 50c30000");

  AVRTCPSenderReport* sr = av_mallocz(sizeof(*sr));
  *sr = (AVRTCPSenderReport){0xDEADBEEF, 0x1122334455667788ULL, 0x99AABBCC, 100, 100000};
  add(AV_PKT_DATA_RTCP_SR, "rtcp_sr", sr, sizeof(*sr),
      "efbeadde 00000000 8877665544332211 ccbbaa99 64000000 a0860100 00000000");

  AVDynamicHDRPlus* hdr = hdr_plus_sample(&size);
  add(AV_PKT_DATA_DYNAMIC_HDR10_PLUS, "hdr10plus", hdr, size, NULL);

#if LIBAVCODEC_VERSION_MAJOR >= 63
  AVDynamicHDRSmpte2094App5 *app5 = av_dynamic_hdr_smpte2094_app5_alloc(&size), *canon;
  uint8_t* t35 = NULL;
  size_t t35_size;
  app5->application_version = 1;
  app5->has_custom_hdr_reference_white_flag = 1;
  app5->hdr_reference_white = 20300;
  app5->has_adaptive_tone_map_flag = 1;
  app5->baseline_hdr_headroom = 1000;
  app5->use_reference_white_tone_mapping_flag = 1;
  canon = av_dynamic_hdr_smpte2094_app5_alloc(&size);
  if (av_dynamic_hdr_smpte2094_app5_to_t35(app5, &t35, &t35_size) < 0 ||
      av_dynamic_hdr_smpte2094_app5_from_t35(canon, t35, t35_size) < 0) {
    fprintf(stderr, "SMPTE 2094-50 sample does not serialise\n");
    exit(2);
  }
  av_free(t35);
  av_free(app5);
  add(AV_PKT_DATA_DYNAMIC_HDR_SMPTE_2094_APP5, "smpte2094_50", canon, size, NULL);
#endif

  AVIAMFParamDefinition* mix =
      av_iamf_param_definition_alloc(AV_IAMF_PARAMETER_DEFINITION_MIX_GAIN, 2, &size);
  mix->parameter_id = 5;
  mix->parameter_rate = 48000;
  mix->duration = 960;
  mix->constant_subblock_duration = 480;
  for (unsigned i = 0; i < 2; i++) {
    AVIAMFMixGain* g = av_iamf_param_definition_get_subblock(mix, i);
    g->subblock_duration = 480;
    g->animation_type = i ? AV_IAMF_ANIMATION_TYPE_BEZIER : AV_IAMF_ANIMATION_TYPE_LINEAR;
    g->start_point_value = (AVRational){-6, 1};
    g->end_point_value = (AVRational){(int)i, 1};
    g->control_point_value = (AVRational){-3, 2};
    g->control_point_relative_time = (AVRational){1, 4};
  }
  add(AV_PKT_DATA_IAMF_MIX_GAIN_PARAM, "iamf_mix_gain", mix, size,
      "00000000 02000000 05000000 80bb0000 c0030000 e0010000 "
      "e0010000 01000000 faffffff 01000000 00000000 01000000 fdffffff 02000000 01000000 04000000 "
      "e0010000 02000000 faffffff 01000000 01000000 01000000 fdffffff 02000000 01000000 04000000");
  AVIAMFParamDefinition* demix =
      av_iamf_param_definition_alloc(AV_IAMF_PARAMETER_DEFINITION_DEMIXING, 1, &size);
  demix->parameter_id = 6;
  demix->parameter_rate = 48000;
  demix->duration = 960;
  ((AVIAMFDemixingInfo*)av_iamf_param_definition_get_subblock(demix, 0))->subblock_duration = 960;
  ((AVIAMFDemixingInfo*)av_iamf_param_definition_get_subblock(demix, 0))->dmixp_mode = 3;
  add(AV_PKT_DATA_IAMF_DEMIXING_INFO_PARAM, "iamf_demixing", demix, size,
      "01000000 01000000 06000000 80bb0000 c0030000 00000000 c0030000 03000000");
  AVIAMFParamDefinition* recon =
      av_iamf_param_definition_alloc(AV_IAMF_PARAMETER_DEFINITION_RECON_GAIN, 1, &size);
  AVIAMFReconGain* rgain = av_iamf_param_definition_get_subblock(recon, 0);
  recon->parameter_id = 7;
  recon->parameter_rate = 48000;
  recon->duration = 960;
  rgain->subblock_duration = 960;
  for (int i = 0; i < 72; i++) rgain->recon_gain[i / 12][i % 12] = (uint8_t)i;
  add(AV_PKT_DATA_IAMF_RECON_GAIN_INFO_PARAM, "iamf_recon_gain", recon, size, NULL);

  AV3DReferenceDisplaysInfo* tdrdi = av_tdrdi_alloc(2, &size);
  tdrdi->prec_ref_display_width = 10;
  tdrdi->ref_viewing_distance_flag = 1;
  tdrdi->prec_ref_viewing_dist = 20;
  *av_tdrdi_get_display(tdrdi, 0) = (AV3DReferenceDisplay){1, 2, 3, 4, 5, 6, 1, -7};
  *av_tdrdi_get_display(tdrdi, 1) = (AV3DReferenceDisplay){0x0102, 9, 10, 11, 12, 13, 0, 0};
  add(AV_PKT_DATA_3D_REFERENCE_DISPLAYS, "ref_displays_3d", tdrdi, size,
      "0a011402 0100 0200 0304050601 00 f9ff 0201 0900 0a0b0c0d00 00 0000");
}

static int fail(const char* what, int err) {
  fprintf(stderr, "%s: %s\n", what, av_err2str(err));
  return 1;
}

/* An h4mk output at path with one stream, which the caller describes. */
static AVStream* new_output(const char* path, AVFormatContext** out) {
  if (avformat_alloc_output_context2(out, NULL, "h4mk", path) < 0) return NULL;
  return avformat_new_stream(*out, NULL);
}

static int add_stream_side_data(AVStream* st, enum AVPacketSideDataType type, void* data,
                                size_t size) {
  return data && av_packet_side_data_add(&st->codecpar->coded_side_data,
                                         &st->codecpar->nb_coded_side_data, type, data, size, 0)
             ? 0
             : fail("stream side data", AVERROR(ENOMEM));
}

static int start_output(AVFormatContext* out, const char* path) {
  int ret;
  if ((ret = avio_open(&out->pb, path, AVIO_FLAG_WRITE)) < 0) return fail("open", ret);
  if ((ret = avformat_write_header(out, NULL)) < 0) return fail("header", ret);
  return 0;
}

static int finish_output(AVFormatContext* out) {
  int ret = av_write_trailer(out);
  avio_closep(&out->pb);
  avformat_free_context(out);
  return ret < 0 ? fail("trailer", ret) : 0;
}

static int write_file(const char* path) {
  AVFormatContext* out = NULL;
  AVPacket* pkt = av_packet_alloc();
  AVStream* st = new_output(path, &out);
  int ret;
  if (!st || !pkt) return fail("output", AVERROR(ENOMEM));
  st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
  st->codecpar->codec_id = AV_CODEC_ID_MPEG4;
  st->codecpar->width = 64;
  st->codecpar->height = 48;
  st->time_base = (AVRational){1, 25};
  for (int i = 0; i < nb_samples; i++)
    if (add_stream_side_data(st, samples[i].type, av_memdup(samples[i].data, samples[i].size),
                             samples[i].size))
      return 1;
  if (start_output(out, path)) return 1;
  for (int n = 0; n < 2; n++) {
    av_new_packet(pkt, 16);
    memset(pkt->data, 0x40 + n, 16);
    pkt->pts = pkt->dts = n;
    pkt->duration = 1;
    pkt->flags = n ? 0 : AV_PKT_FLAG_KEY;
    for (int i = 0; !n && i < nb_samples; i++) {
      uint8_t* copy = av_memdup(samples[i].data, samples[i].size);
      if ((ret = av_packet_add_side_data(pkt, samples[i].type, copy, samples[i].size)) < 0)
        return fail("packet side data", ret);
    }
    if ((ret = av_write_frame(out, pkt)) < 0) return fail("packet", ret);
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  return finish_output(out);
}

/* A mix-gain parameter definition under the demixing type, and a mastering
 * display whose luminance no unit holds: the muxer leaves both out. */
static int write_mismatched(const char* path) {
  AVFormatContext* out = NULL;
  AVStream* st = new_output(path, &out);
  size_t size;
  AVIAMFParamDefinition* mix =
      av_iamf_param_definition_alloc(AV_IAMF_PARAMETER_DEFINITION_MIX_GAIN, 1, &size);
  AVMasteringDisplayMetadata* mdcv = av_mastering_display_metadata_alloc_size(&(size_t){0});
  if (!st || !mix || !mdcv) return fail("alloc", AVERROR(ENOMEM));
  mix->nb_subblocks = 1;
  mdcv->has_luminance = 1;
  mdcv->max_luminance = (AVRational){1000, 0};
  mdcv->min_luminance = (AVRational){1, 1};
  st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
  st->codecpar->codec_id = AV_CODEC_ID_PCM_S16LE;
  st->codecpar->sample_rate = 48000;
  av_channel_layout_default(&st->codecpar->ch_layout, 1);
  st->time_base = (AVRational){1, 48000};
  if (add_stream_side_data(st, AV_PKT_DATA_IAMF_DEMIXING_INFO_PARAM, mix, size) ||
      add_stream_side_data(st, AV_PKT_DATA_MASTERING_DISPLAY_METADATA, mdcv, sizeof(*mdcv)) ||
      start_output(out, path))
    return 1;
  return finish_output(out);
}

/* Spaces in the hex are for reading. */
static size_t unhex(const char* hex, uint8_t* out, size_t cap) {
  size_t n = 0;
  for (; *hex; hex++) {
    unsigned v;
    if (*hex == ' ') continue;
    if (n >= cap || sscanf(hex, "%2x", &v) != 1) return (size_t)-1;
    out[n++] = (uint8_t)v;
    hex++;
  }
  return n;
}

/* The bytes the layout gives for a sample, or 0 when FFmpeg's own
 * serialisation is the layout (T.35) or the sample is generated. */
static size_t expected_stored(const Sample* s, uint8_t* out, size_t cap) {
  if (s->type == AV_PKT_DATA_PALETTE) {
    for (int i = 0; i < 256; i++) {
      uint32_t v = 0xFF000000u | (uint32_t)i * 0x010203u;
      for (int b = 0; b < 4; b++) out[4 * i + b] = (uint8_t)(v >> (8 * b));
    }
    return 1024;
  }
  if (s->type == AV_PKT_DATA_IAMF_RECON_GAIN_INFO_PARAM) {
    size_t n = unhex("02000000 01000000 07000000 80bb0000 c0030000 00000000 c0030000", out, cap);
    for (int i = 0; i < 72; i++) out[n + i] = (uint8_t)i;
    return n + 72;
  }
  if (s->type == AV_PKT_DATA_DYNAMIC_HDR10_PLUS) {
    uint8_t* t35 = NULL;
    size_t n;
    if (av_dynamic_hdr_plus_to_t35((AVDynamicHDRPlus*)s->data, &t35, &n) < 0 || n > cap) return 0;
    memcpy(out, t35, n);
    av_free(t35);
    return n;
  }
#if LIBAVCODEC_VERSION_MAJOR >= 63
  if (s->type == AV_PKT_DATA_DYNAMIC_HDR_SMPTE_2094_APP5) {
    uint8_t* t35 = NULL;
    size_t n;
    if (av_dynamic_hdr_smpte2094_app5_to_t35((AVDynamicHDRSmpte2094App5*)s->data, &t35, &n) < 0 ||
        n > cap)
      return 0;
    memcpy(out, t35, n);
    av_free(t35);
    return n;
  }
#endif
  return unhex(s->stored_hex, out, cap);
}

static int compare_stored(const char* where, const Sample* s, const uint8_t* got, size_t size) {
  uint8_t want[2048];
  size_t n = expected_stored(s, want, sizeof(want));
  if (n == (size_t)-1 || n == 0) {
    printf("%s %s: no expected bytes\n", where, av_packet_side_data_name(s->type));
    return 1;
  }
  if (n != size || memcmp(want, got, n)) {
    printf("%s %s: stored %zu bytes, the layout is %zu:", where, av_packet_side_data_name(s->type),
           size, n);
    for (size_t i = 0; i < size && i < 64; i++) printf(" %02x", got[i]);
    printf("%s\n", size > 64 ? " ..." : "");
    return 1;
  }
  return 0;
}

static int64_t file_read(void* f, uint8_t* buf, size_t size) {
  return (int64_t)fread(buf, 1, size, f);
}
static int64_t file_seek(void* f, int64_t offset) {
  return fseek(f, (long)offset, SEEK_SET) ? -1 : offset;
}
static int64_t file_size(void* f) {
  long here = ftell(f), end;
  fseek(f, 0, SEEK_END);
  end = ftell(f);
  fseek(f, here, SEEK_SET);
  return end;
}

static int check_stored(const char* path) {
  FILE* f = fopen(path, "rb");
  h4mk_io io = {f, file_read, NULL, file_seek, file_size};
  h4mk_reader* r = NULL;
  h4mk_block b;
  uint64_t damage;
  int bad = 0;
  if (!f || h4mk_reader_open(&r, &io) != H4MK_OK) return fail("h4mk open", AVERROR_INVALIDDATA);
  for (int i = 0; i < nb_samples; i++) {
    char key[160];
    const char* text;
    uint8_t* data;
    int n;
    snprintf(key, sizeof(key), "side_data.%s", samples[i].id);
    if (h4mk_reader_track_property(r, 0, key, &text) != H4MK_OK) {
      printf("stream %s: missing\n", av_packet_side_data_name(samples[i].type));
      bad = 1;
      continue;
    }
    data = av_malloc(strlen(text));
    n = av_base64_decode(data, text, (int)strlen(text));
    bad |= n < 0 || compare_stored("stream", &samples[i], data, (size_t)n);
    av_free(data);
  }
  if (h4mk_reader_next_block(r, &b, &damage) != H4MK_OK)
    return fail("first block", AVERROR_INVALIDDATA);
  for (int i = 0; i < nb_samples; i++) {
    char key[160];
    size_t pos = 0, key_size, value_size;
    const char* k;
    const uint8_t* v;
    int found = 0;
    snprintf(key, sizeof(key), "%s", samples[i].id);
    while (h4mk_side_data_next(b.side_data, b.side_data_size, &pos, &k, &key_size, &v,
                               &value_size) == H4MK_OK)
      if (key_size == strlen(key) && !memcmp(k, key, key_size)) {
        found = 1;
        bad |= compare_stored("packet", &samples[i], v, value_size);
      }
    if (!found) {
      printf("packet %s: missing\n", av_packet_side_data_name(samples[i].type));
      bad = 1;
    }
  }
  h4mk_reader_free(r);
  fclose(f);
  return bad;
}

static int compare_loaded(const char* where, const Sample* s, const uint8_t* got, size_t size) {
  const char* name = av_packet_side_data_name(s->type);
  if (!got) {
    printf("%s %s: missing\n", where, name);
    return 1;
  }
  if (size != s->size || memcmp(got, s->data, size)) {
    printf("%s %s: %zu bytes differ from the %zu written\n", where, name, size, s->size);
    return 1;
  }
  return 0;
}

static int check_file(const char* path) {
  AVFormatContext* in = NULL;
  AVPacket* pkt = av_packet_alloc();
  AVCodecParameters* par;
  int ret, bad = 0;
  if ((ret = avformat_open_input(&in, path, NULL, NULL)) < 0) return fail("open", ret);
  par = in->streams[0]->codecpar;
  if ((ret = av_read_frame(in, pkt)) < 0) return fail("first packet", ret);
  for (int i = 0; i < nb_samples; i++) {
    const AVPacketSideData* sd =
        av_packet_side_data_get(par->coded_side_data, par->nb_coded_side_data, samples[i].type);
    size_t size = 0;
    const uint8_t* data = av_packet_get_side_data(pkt, samples[i].type, &size);
    bad |= compare_loaded("stream", &samples[i], sd ? sd->data : NULL, sd ? sd->size : 0);
    bad |= compare_loaded("packet", &samples[i], data, size);
  }
  av_packet_free(&pkt);
  avformat_close_input(&in);
  return bad;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s write OUT | mismatched OUT | stored FILE | check FILE\n", argv[0]);
    return 2;
  }
  make_samples();
  if (!strcmp(argv[1], "write")) return write_file(argv[2]);
  if (!strcmp(argv[1], "mismatched")) return write_mismatched(argv[2]);
  if (!strcmp(argv[1], "stored")) return check_stored(argv[2]);
  if (!strcmp(argv[1], "check")) return check_file(argv[2]);
  return 2;
}
