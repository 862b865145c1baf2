#include "test_util.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/hash_chain.hpp"

namespace h4mk::test {

Track h4core_audio_track(uint32_t rate, uint32_t channels, const std::string& adapter) {
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.codec = "h4core";
  t.adapter = adapter;
  t.time_base = {1, int64_t(rate)};
  t.sample_rate = rate;
  t.channels = channels;
  return t;
}

std::vector<uint8_t> h4core_file_naming(const std::string& adapter,
                                        const std::vector<uint8_t>& extradata) {
  if (adapter.size() > kMaxAdapterName) throw std::invalid_argument("adapter text too long");
  // Written with a valid name of the same length, then forged: the writer
  // refuses anything that is not an adapter name.
  const std::string stand_in(adapter.size(), 'q');
  Track t = h4core_audio_track(8000, 1, stand_in);
  t.extradata = extradata;
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  std::vector<uint8_t> pcm(160 * 2);
  for (int i = 0; i < 10; i++)
    w.write_block({1, i % 5 == 0 ? BlockType::kI : BlockType::kP, i * 160, i * 160, 160}, pcm);
  w.finish();
  std::vector<uint8_t> file = sink.take();
  if (adapter.empty()) return file;
  for (const auto& c : chunk_layout(file)) {
    if (c.tag != "TRAK") continue;
    const std::string needle = "\"adapter\":\"" + stand_in + "\"";
    auto at =
        std::search(file.begin() + c.offset, file.begin() + c.end, needle.begin(), needle.end());
    if (at == file.begin() + c.end) throw std::runtime_error("no adapter in TRAK");
    std::copy(adapter.begin(), adapter.end(), at + 11);
    reseal_chunk(file, c.offset);
    return file;
  }
  throw std::runtime_error("no TRAK");
}

std::vector<uint8_t> long_chain_file(const Track& t, uint32_t p_blocks,
                                     std::span<const uint8_t> sample) {
  MemorySink sink;
  WriterOptions o;
  o.write_index = false;
  o.write_veri = false;
  Writer w(sink, o);
  w.add_track(t);
  w.write_block({t.id, BlockType::kI, 0, 0, 1}, sample);
  w.close_group(t.id);
  std::vector<uint8_t> run(sample.size() * size_t(p_blocks));
  for (size_t i = 0; i < run.size(); ++i) run[i] = sample[i % sample.size()];
  w.write_run({t.id, BlockType::kI, 1, 1, 1}, p_blocks, run);
  w.finish();
  auto f = sink.take();
  bool first = true;
  for (const auto& c : chunk_layout(f)) {
    if (c.tag != "CORE") continue;
    if (!first) {
      const size_t flags = c.offset + 12 + 16;  // a UNIFORM group's one flags byte
      f[flags] = uint8_t((f[flags] & ~0x03) | uint8_t(BlockType::kP));
      reseal_chunk(f, c.offset);
    }
    first = false;
  }
  return f;
}

std::vector<uint8_t> file_with_claiming_headers(size_t region_bytes, int blocks) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(h4core_audio_track(8000, 1, "null"));
  const std::vector<uint8_t> pcm(320);
  for (int i = 0; i < blocks; i++) w.write_block({1, BlockType::kI, i * 160, i * 160, 160}, pcm);
  w.finish();
  const auto good = sink.take();
  size_t after_trak = 0;
  for (const auto& c : chunk_layout(good))
    if (c.tag == "TRAK") after_trak = size_t(c.end);
  std::vector<uint8_t> f(good.begin(), good.begin() + long(after_trak));
  f.insert(f.end(), {'J', 'U', 'N', 'K'});  // the bad chunk
  for (size_t at = 0; at + 12 <= region_bytes; at += 12) {
    uint8_t h[12] = {'N', 'O', 'T', 'E'};
    detail::store_u32(h + 4, uint32_t(region_bytes - at - 12));
    f.insert(f.end(), h, h + 12);
  }
  f.insert(f.end(), good.begin() + long(after_trak), good.end());
  return f;
}

Track audio_ms_track() {
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.codec = "h4core";
  t.time_base = {1, 1000};
  t.default_duration = 20;
  return t;
}

std::vector<Track> test_tracks(const StreamSpec& spec) {
  std::vector<Track> t(2);
  t[0].id = 1;
  t[0].kind = TrackKind::kAudio;
  t[0].codec = "h4core";
  t[0].time_base = {1, 48000};
  t[0].sample_rate = 48000;
  t[0].channels = 2;
  t[0].default_duration = 960;
  t[0].name = "tokens";
  t[0].adapter = "null";
  t[1].id = 2;
  t[1].kind = TrackKind::kVideo;
  t[1].codec = "mpeg4";
  t[1].time_base = {1, 90000};
  t[1].width = 320;
  t[1].height = 240;
  t[1].frame_rate = {30, 1};
  t[1].extradata = {0, 0, 1, 0xb0, 1, 2, 3};
  t[1].tags = {{"language", "und"}, {"title", "camera"}};
  if (spec.data_track) {
    Track d;
    d.id = 3;
    d.kind = TrackKind::kData;
    d.codec = "h4core";
    d.time_base = {1, 1000};
    d.extra_json = R"({"model":{"name":"controls-v2"}})";
    t.push_back(d);
  }
  return t;
}

namespace {

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

struct Timed {
  double dts_seconds;
  TestBlock block;
};

}  // namespace

std::vector<TestBlock> make_stream(const StreamSpec& spec) {
  std::mt19937 rng(spec.seed);
  std::vector<Timed> all;

  // Audio: 20 ms blocks, all I.
  const int audio_blocks = int(spec.seconds * 50);
  for (int i = 0; i < audio_blocks; ++i) {
    TestBlock b;
    b.info = {1, BlockType::kI, int64_t(i) * 960, int64_t(i) * 960, 960, false, false};
    b.data = random_bytes(rng, spec.audio_fixed_size ? 16 : 10 + rng() % 200);
    all.push_back({i * 0.02, std::move(b)});
  }

  // Video at 30 fps: closed GOPs of 12 frames, anchors at 0, 3, 6, 9, 11.
  const int frames = int(spec.seconds * 30);
  int k = 0;  // decode index
  auto emit = [&](int n, BlockType type) {
    TestBlock b;
    int64_t pts = int64_t(n) * 3000, dts = int64_t(k - 1) * 3000;
    b.info = {2, type, pts, dts, 3000, false, type == BlockType::kB};
    size_t size = rng() % (spec.max_video_block + 1);
    if (spec.large_blocks && rng() % 40 == 0) size = rng() % (1u << 20) + 1;
    if (type == BlockType::kI) size += 100;
    b.data = random_bytes(rng, size);
    if (rng() % 7 == 0) {
      auto value = random_bytes(rng, rng() % 12);
      append_side_data(b.side, "example.value", value);
      if (rng() % 2) append_side_data(b.side, "x", {});
    }
    all.push_back({static_cast<double>(dts) / 90000, std::move(b)});
    ++k;
  };
  for (int g = 0; g < frames; g += 12) {
    int end = std::min(frames, g + 12);
    emit(g, BlockType::kI);
    int prev_anchor = g;
    for (int a : {g + 3, g + 6, g + 9, g + 11}) {
      if (a >= end) a = end - 1;
      if (a <= prev_anchor) break;
      emit(a, BlockType::kP);
      for (int n = prev_anchor + 1; n < a; ++n) emit(n, BlockType::kB);
      prev_anchor = a;
    }
  }

  if (spec.data_track) {
    int64_t t = 5;
    const auto end_ms = static_cast<int64_t>(spec.seconds * 1000);
    while (t < end_ms) {
      TestBlock b;
      int64_t dur = (rng() % 3 == 0) ? 0 : int64_t(rng() % 500);
      b.info = {3, BlockType::kI, t, t, dur, rng() % 5 == 0, false};
      b.data = random_bytes(rng, rng() % 64);
      all.push_back({double(t) / 1000, std::move(b)});
      t += 1 + rng() % 900;
    }
  }

  std::stable_sort(all.begin(), all.end(),
                   [](const Timed& a, const Timed& b) { return a.dts_seconds < b.dts_seconds; });
  std::vector<TestBlock> out;
  for (auto& t : all) out.push_back(std::move(t.block));
  return out;
}

void write_stream_to(Sink& sink, const std::vector<Track>& tracks,
                     const std::vector<TestBlock>& blocks, const WriterOptions& options) {
  Writer w(sink, options);
  for (const auto& t : tracks) w.add_track(t);
  w.set_metadata("title", "test stream");
  w.set_safe_json(R"({"policy":"transport_only"})");
  w.set_note("written by the libh4mk tests");
  for (const auto& b : blocks) w.write_block(b.info, b.data, b.side);
  w.finish();
}

std::vector<uint8_t> write_stream(const std::vector<Track>& tracks,
                                  const std::vector<TestBlock>& blocks,
                                  const WriterOptions& options) {
  MemorySink sink;
  write_stream_to(sink, tracks, blocks, options);
  return sink.take();
}

std::vector<uint8_t> write_stream_unseekable(const std::vector<Track>& tracks,
                                             const std::vector<TestBlock>& blocks,
                                             const WriterOptions& options) {
  PipeLikeSink sink;
  write_stream_to(sink, tracks, blocks, options);
  return std::move(sink.bytes);
}

ReadBack read_all(Source& source) {
  ReadBack r;
  Reader reader(source);
  Block b;
  for (ReadEvent ev; (ev = reader.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) continue;
    r.blocks.push_back(
        {b.info, {b.data.begin(), b.data.end()}, {b.side_data.begin(), b.side_data.end()}});
    r.chunk_offsets.push_back(b.chunk_offset);
  }
  r.damage = reader.damage();
  return r;
}

ReadBack read_all(std::span<const uint8_t> file) {
  MemorySource src(file);
  return read_all(src);
}

std::vector<TestBlock> read_by_runs(Reader& reader, uint32_t* longest_run) {
  std::vector<TestBlock> out;
  if (longest_run) *longest_run = 0;
  Block b;
  uint32_t count = 0;
  for (ReadEvent ev; (ev = reader.next_run(b, count)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) {
      EXPECT_EQ(count, 0u);
      continue;
    }
    EXPECT_GE(count, 1u);
    EXPECT_EQ(b.data.size() % count, 0u);
    if (longest_run) *longest_run = std::max(*longest_run, count);
    const size_t size = b.data.size() / count;
    for (uint32_t i = 0; i < count; ++i) {
      BlockInfo info = b.info;
      info.pts = info.dts = b.info.pts + int64_t(i) * b.info.duration;
      if (i == 0) info.dts = b.info.dts;
      out.push_back(
          {info,
           {b.data.begin() + ptrdiff_t(i * size), b.data.begin() + ptrdiff_t((i + 1) * size)},
           {b.side_data.begin(), b.side_data.end()}});
    }
  }
  return out;
}

std::vector<TestBlock> of_track(const std::vector<TestBlock>& blocks, uint16_t track) {
  std::vector<TestBlock> out;
  for (const auto& b : blocks)
    if (b.info.track_id == track) out.push_back(b);
  return out;
}

size_t PipeLikeSource::read(std::span<uint8_t> buf) {
  size_t n = std::min({buf.size(), data_.size() - pos_, max_read_});
  std::memcpy(buf.data(), data_.data() + pos_, n);
  pos_ += n;
  return n;
}

std::vector<ChunkExtent> chunk_layout(std::span<const uint8_t> file) {
  std::vector<ChunkExtent> out;
  uint64_t pos = 16;
  while (pos + 12 <= file.size()) {
    uint32_t size = uint32_t(file[pos + 4]) | uint32_t(file[pos + 5]) << 8 |
                    uint32_t(file[pos + 6]) << 16 | uint32_t(file[pos + 7]) << 24;
    std::string tag(reinterpret_cast<const char*>(&file[pos]), 4);
    out.push_back({pos, pos + 12 + size, tag});
    pos += 12 + size;
    if (tag == "TAIL") break;
  }
  return out;
}

void append_chunk(std::vector<uint8_t>& file, std::string_view tag,
                  std::span<const uint8_t> payload) {
  const auto head =
      detail::make_chunk_header(detail::tag_of({tag[0], tag[1], tag[2], tag[3]}), payload);
  file.insert(file.end(), head.begin(), head.end());
  file.insert(file.end(), payload.begin(), payload.end());
}

void reseal_chunk(std::vector<uint8_t>& file, uint64_t at) {
  const uint32_t size = detail::load_u32(&file[at + 4]);
  std::span<const uint8_t> payload(&file[at + 12], size);
  detail::store_u32(&file[at + 8], detail::chunk_crc(detail::load_u32(&file[at]), size, payload));
  detail::store_u32(&file[file.size() - 4], detail::crc32(0, file.data(), file.size() - 4));
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string to_hex_string(std::span<const uint8_t> bytes) { return detail::to_hex(bytes); }

std::filesystem::path process_work_dir(const std::filesystem::path& parent,
                                       const std::string& prefix) {
  static std::vector<std::filesystem::path> made;
  std::filesystem::path p = parent / (prefix + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  // Registered after gtest's UnitTest exists, so it runs before that goes.
  if (made.empty())
    std::atexit([] {
      if (::testing::UnitTest::GetInstance()->Passed())
        for (const auto& d : made) std::filesystem::remove_all(d);
    });
  made.push_back(p);
  return p;
}

h4mk_io CMemoryFile::writing() {
  h4mk_io io{};
  io.opaque = this;
  io.write = [](void* opaque, const uint8_t* buf, size_t size) -> int64_t {
    auto* m = static_cast<CMemoryFile*>(opaque);
    m->bytes.insert(m->bytes.end(), buf, buf + size);
    return int64_t(size);
  };
  return io;
}

h4mk_io CMemoryFile::reading() {
  h4mk_io io{};
  io.opaque = this;
  io.read = [](void* opaque, uint8_t* buf, size_t size) -> int64_t {
    auto* m = static_cast<CMemoryFile*>(opaque);
    const size_t n = std::min(size, m->bytes.size() - m->pos);
    std::copy_n(m->bytes.begin() + ptrdiff_t(m->pos), n, buf);
    m->pos += n;
    return int64_t(n);
  };
  return io;
}

}  // namespace h4mk::test
