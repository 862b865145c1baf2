// decode_range / decode_audio_range: a track's blocks through an adapter.
#include <algorithm>
#include <optional>
#include <string>

#include "h4mk/chain_decoder.hpp"
#include "h4mk/decode.hpp"
#include "h4mk/error.hpp"
#include "rescale.hpp"

namespace h4mk {

using namespace detail;

namespace {

bool meets(const BlockInfo& info, int64_t t0, int64_t t1) {
  // [pts, pts + max(duration, 1)) against [t0, t1), without overflow.
  Int128 end = static_cast<Int128>(info.pts) + std::max<int64_t>(info.duration, 1);
  return info.pts < t1 && end > t0;
}

std::string where(uint16_t track_id, const Block& b) {
  return "track " + std::to_string(track_id) + ", " + block_type_name(b.info.type) +
         " block at pts " + std::to_string(b.info.pts) + " (chunk at offset " +
         std::to_string(b.chunk_offset) + ")";
}

}  // namespace

void OutputBudget::made(const AdapterOutput& o) {
  check_adapter_output(o);
  if (o.kind == H4MK_OUTPUT_VIDEO)
    for (size_t line : o.linesize) output_ += uint64_t(line) * o.height;
  else
    output_ += o.size;
  if (Int128(output_) >
      Int128(input_) * limits_.output_per_input_byte + Int128(limits_.output_allowance))
    throw Error(ErrorCode::kLimitExceeded,
                "decoding gave " + std::to_string(output_) + " bytes for " +
                    std::to_string(input_) + " payload bytes, more than " +
                    std::to_string(limits_.output_per_input_byte) + " per byte plus " +
                    std::to_string(limits_.output_allowance) + " (DecodeLimits)");
}

uint64_t decode_range(Reader& reader, uint16_t track_id, int64_t t0, int64_t t1,
                      ModelAdapter& adapter, const FrameCallback& on_frame,
                      const DecodeLimits& limits) {
  if (!reader.track(track_id))
    throw Error(ErrorCode::kNotFound, "no track " + std::to_string(track_id));
  if (t0 >= t1) return 0;
  bool positioned = false;
  if (t0 != kRangeStart) {
    try {
      reader.seek(track_id, t0);
      positioned = true;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;  // no I block at or before t0
    }
  }
  if (!positioned) reader.rewind();

  uint64_t delivered = 0;
  OutputBudget budget(limits);
  auto emit = [&](const BlockInfo& info, const DecodeState& state) {
    if (!meets(info, t0, t1)) return;
    AdapterOutput out;
    try {
      out = adapter.finalize(state);
      budget.made(out);
    } catch (const Error& e) {
      throw Error(e.code(), "track " + std::to_string(track_id) + ", " +
                                block_type_name(info.type) + " block at pts " +
                                std::to_string(info.pts) + ": " + e.what());
    }
    on_frame(info, out);
    ++delivered;
  };

  const Track* track = reader.track(track_id);
  ChainDecoder chain(adapter,
                     track && track->max_chain_blocks
                         ? std::min(reader.limits().max_chain_blocks, track->max_chain_blocks)
                         : reader.limits().max_chain_blocks);
  auto emit_frame = [&](const std::optional<ChainDecoder::Frame>& f) {
    if (!f) return;
    BlockInfo info;
    info.track_id = track_id;
    info.type = f->info.type;
    info.pts = f->info.pts;
    info.dts = f->info.dts;
    info.duration = f->info.duration;
    emit(info, *f->state);
  };
  int anchors_past_end = 0;
  Block b;
  for (;;) {
    ReadEvent ev = reader.next(b);
    if (ev == ReadEvent::kEnd) break;
    if (ev == ReadEvent::kDamage) {  // the chain is broken: what follows needs an I block
      emit_frame(chain.drain());
      chain.reset();
      continue;
    }
    if (b.info.track_id != track_id) continue;
    if (b.info.masked)
      throw Error(ErrorCode::kInvalidArgument,
                  where(track_id, b) + " is masked: give the reader the track's mask key",
                  b.chunk_offset);
    std::optional<ChainDecoder::Frame> ready;
    budget.read(b.data.size());
    try {
      ready = chain.push({b.info.type, b.info.pts, b.info.dts, b.info.duration, b.data});
    } catch (const Error& e) {
      throw Error(e.code(), where(track_id, b) + ": " + e.what(), b.chunk_offset);
    }
    emit_frame(ready);
    // Blocks after the second anchor past t1 all present after t1.
    if (b.info.type != BlockType::kB && chain.has_anchor() && b.info.pts >= t1 &&
        ++anchors_past_end >= 2)
      return delivered;
  }
  emit_frame(chain.drain());
  return delivered;
}

namespace {

// Sample positions stay within ±(2^62 - 1), so differences of two fit in int64
// whatever timestamps a damaged or hostile file holds.
constexpr int64_t kMaxSample = (int64_t(1) << 62) - 1;

// t ticks of time_base tb → samples at rate sr, rounded down.
int64_t to_samples(Int128 t, const Rational& tb, uint32_t sr) {
  if (t <= kRangeStart) return -kMaxSample;
  if (t >= kRangeEnd) return kMaxSample;
  return std::clamp(rescale(t, tb, Rational{1, sr}, Round::kDown), -kMaxSample, kMaxSample);
}

// Silence fills a gap between blocks (damage) so later samples keep their
// time; a longer jump is refused rather than written out as silence, and so
// is silence beyond the audio decoded so far plus one such gap: the output
// is at most twice what the file's blocks decode to, plus 60 s.
constexpr int64_t kMaxSilenceSeconds = 60;

}  // namespace

DecodedAudio stream_audio_range(Reader& reader, uint16_t track_id, int64_t t0, int64_t t1,
                                ModelAdapter& adapter, const SamplesCallback& on_samples,
                                const DecodeLimits& limits) {
  const Track* track = reader.track(track_id);
  if (!track) throw Error(ErrorCode::kNotFound, "no track " + std::to_string(track_id));
  const Rational tb = track->time_base;
  DecodedAudio r;
  size_t frame_bytes = 0;
  int64_t s0 = 0, s1 = 0, written = 0, silence = 0;
  r.frames = decode_range(
      reader, track_id, t0, t1, adapter,
      [&](const BlockInfo& info, const AdapterOutput& out) {
        if (out.kind != H4MK_OUTPUT_AUDIO)
          throw Error(ErrorCode::kCorrupt, "track " + std::to_string(track_id) + ": adapter " +
                                               adapter.name() + " gave no audio at pts " +
                                               std::to_string(info.pts));
        size_t bytes_per_sample = out.sample_format == H4MK_SAMPLE_S16 ? 2 : 4;
        if (frame_bytes == 0) {
          if (out.sample_rate == 0 || out.channels == 0 ||
              (out.sample_format != H4MK_SAMPLE_S16 && out.sample_format != H4MK_SAMPLE_F32))
            throw Error(ErrorCode::kCorrupt, "adapter " + adapter.name() + ": bad audio format");
          r.sample_format = out.sample_format;
          r.sample_rate = out.sample_rate;
          r.channels = out.channels;
          frame_bytes = bytes_per_sample * out.channels;
          s0 = to_samples(t0, tb, out.sample_rate);
          s1 = to_samples(t1, tb, out.sample_rate);
        } else if (out.sample_format != r.sample_format || out.sample_rate != r.sample_rate ||
                   out.channels != r.channels) {
          throw Error(ErrorCode::kCorrupt, "adapter " + adapter.name() +
                                               ": audio format changes at pts " +
                                               std::to_string(info.pts));
        }
        if (out.size < static_cast<size_t>(out.nb_samples) * frame_bytes)
          throw Error(ErrorCode::kCorrupt, "adapter " + adapter.name() + ": short audio buffer");
        int64_t start = to_samples(info.pts, tb, r.sample_rate);
        int64_t n = out.nb_samples;
        if (info.duration > 0)  // the last block of a stream is shorter than the adapter's frame
          n = std::min(n, to_samples(Int128(info.pts) + info.duration, tb, r.sample_rate) - start);
        int64_t a = std::max(start, s0), e = std::min(start + n, s1);
        if (written > 0) a = std::max(a, r.first_sample + written);  // overlap: keep the first
        if (a >= e) return;
        if (written == 0) {
          r.first_sample = a;
        } else if (a > r.first_sample + written) {  // a gap (damage): silence keeps the timing
          if (a - r.first_sample - written > kMaxSilenceSeconds * int64_t(r.sample_rate))
            throw Error(ErrorCode::kCorrupt,
                        "track " + std::to_string(track_id) + ": the audio jumps " +
                            std::to_string((a - r.first_sample - written) / r.sample_rate) +
                            " s ahead at pts " + std::to_string(info.pts) + "; gaps of more than " +
                            std::to_string(kMaxSilenceSeconds) +
                            " s are not filled with silence: decode the parts on either side "
                            "as separate ranges");
          const int64_t gap_samples = a - r.first_sample - written;
          if (silence + gap_samples >
              (written - silence) + kMaxSilenceSeconds * int64_t(r.sample_rate))
            throw Error(
                ErrorCode::kCorrupt,
                "track " + std::to_string(track_id) + ": at pts " + std::to_string(info.pts) +
                    " the gaps filled with silence would add up to more than the " +
                    std::to_string((written - silence) / r.sample_rate) +
                    " s of audio decoded so far plus " + std::to_string(kMaxSilenceSeconds) +
                    " s: decode the parts between the gaps as separate ranges");
          silence += gap_samples;
          static const uint8_t kSilence[4096] = {};
          size_t gap = size_t(gap_samples) * frame_bytes;
          for (size_t done = 0; done < gap;) {
            size_t chunk = std::min(gap - done, sizeof(kSilence) / frame_bytes * frame_bytes);
            on_samples(r, {kSilence, chunk});
            done += chunk;
          }
          written = a - r.first_sample;
        }
        const uint8_t* from = out.data + (a - start) * frame_bytes;
        on_samples(r, {from, size_t(e - a) * frame_bytes});
        written += e - a;
      },
      limits);
  return r;
}

DecodedAudio decode_audio_range(Reader& reader, uint16_t track_id, int64_t t0, int64_t t1,
                                ModelAdapter& adapter, const DecodeLimits& limits) {
  std::vector<uint8_t> bytes;
  DecodedAudio r = stream_audio_range(
      reader, track_id, t0, t1, adapter,
      [&](const DecodedAudio&, std::span<const uint8_t> s) {
        bytes.insert(bytes.end(), s.begin(), s.end());
      },
      limits);
  r.bytes = std::move(bytes);
  return r;
}

}  // namespace h4mk
