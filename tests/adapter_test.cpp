// Adapters: the plugin ABI and loader, decode_range against full decodes, the
// null adapter on PCM, B-block anchors (a test plugin whose output hashes the
// chain), and the dsp adapter with its tokenizer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "h4mk/adapters.h"
#include "test_util.hpp"

using namespace h4mk;
using namespace h4mk::test;

namespace {

std::vector<uint8_t> write_track(const Track& track, const std::vector<TestBlock>& blocks) {
  return write_stream({track}, blocks, WriterOptions{});
}

Track pcm_track() { return h4core_audio_track(48000, 2, "null"); }

// Stereo s16 PCM cut into blocks of varied length; an I block every 8.
std::vector<TestBlock> pcm_blocks(std::mt19937& rng, std::vector<uint8_t>& all_pcm) {
  std::vector<TestBlock> out;
  int64_t pts = 0;
  for (int i = 0; i < 300; i++) {
    int64_t n = 100 + rng() % 900;
    TestBlock b;
    b.info = {1, i % 8 == 0 ? BlockType::kI : BlockType::kP, pts, pts, n, false, false};
    b.data.resize(size_t(n) * 4);
    for (auto& x : b.data) x = uint8_t(rng());
    all_pcm.insert(all_pcm.end(), b.data.begin(), b.data.end());
    out.push_back(std::move(b));
    pts += n;
  }
  return out;
}

}  // namespace

TEST(Adapter, NullOnPcmIsBitExactAndRangesAreSlicesOfTheFullDecode) {
  std::mt19937 rng(7);
  std::vector<uint8_t> pcm;
  auto blocks = pcm_blocks(rng, pcm);
  auto file = write_track(pcm_track(), blocks);
  MemorySource src(file);
  Reader reader(src);
  auto adapter = load_adapter("null", "", adapter_config_json(*reader.track(1)));  // by name
  EXPECT_EQ(adapter->name(), "null");

  auto full = decode_audio_range(reader, 1, kRangeStart, kRangeEnd, *adapter);
  EXPECT_EQ(full.sample_format, H4MK_SAMPLE_S16);
  EXPECT_EQ(full.channels, 2u);
  EXPECT_EQ(full.first_sample, 0);
  EXPECT_EQ(full.frames, blocks.size());
  ASSERT_EQ(full.bytes, pcm);  // bit-exact

  const int64_t total = int64_t(pcm.size() / 4);
  for (int i = 0; i < 200; i++) {
    int64_t t0 = int64_t(rng() % uint64_t(total)), t1 = t0 + int64_t(rng() % 20000) + 1;
    auto part = decode_audio_range(reader, 1, t0, t1, *adapter);
    int64_t end = std::min(t1, total);
    ASSERT_EQ(part.first_sample, t0) << t0 << ".." << t1;
    ASSERT_EQ(part.bytes.size(), size_t(end - t0) * 4) << t0 << ".." << t1;
    ASSERT_TRUE(std::equal(part.bytes.begin(), part.bytes.end(), pcm.begin() + t0 * 4))
        << t0 << ".." << t1;
  }
}

// A gap between audio blocks (damage, or a writer's jump) is filled with
// silence up to 60 s; a longer one, up to the largest timestamp a file may
// hold, is refused with the track and pts instead of written out.
TEST(Adapter, AudioGapsAreFilledWithSilenceUpToAMinute) {
  auto decode_with_gap = [](int64_t gap_samples) {
    std::vector<TestBlock> blocks(2);
    blocks[0].info = {1, BlockType::kI, 0, 0, 100, false, false};
    blocks[1].info = {1, BlockType::kI, 100 + gap_samples, 100 + gap_samples, 100, false, false};
    for (auto& b : blocks) b.data.assign(400, 7);
    auto file = write_track(pcm_track(), blocks);
    MemorySource src(file);
    Reader reader(src);
    auto adapter = load_adapter("null", "", adapter_config_json(*reader.track(1)));
    return decode_audio_range(reader, 1, kRangeStart, kRangeEnd, *adapter);
  };
  auto filled = decode_with_gap(30 * 48000);
  ASSERT_EQ(filled.bytes.size(), size_t(100 + 30 * 48000 + 100) * 4);
  EXPECT_EQ(filled.bytes[400], 0);
  EXPECT_EQ(filled.bytes[filled.bytes.size() - 1], 7);
  for (int64_t gap : {int64_t(61) * 48000, (int64_t(1) << 62) - 1000}) {
    try {
      decode_with_gap(gap);
      ADD_FAILURE() << "a gap of " << gap << " samples was decoded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("track 1: the audio jumps"), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find("at pts " + std::to_string(100 + gap)),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Adapter, NullRefusesPayloadsThatAreNotWholeSampleFrames) {
  Track t = pcm_track();
  std::vector<TestBlock> blocks(1);
  blocks[0].info = {1, BlockType::kI, 0, 0, 3, false, false};
  blocks[0].data = {1, 2, 3, 4, 5, 6, 7};  // 7 bytes of 4-byte frames
  auto file = write_track(t, blocks);
  MemorySource src(file);
  Reader reader(src);
  auto adapter = load_adapter("null", "", adapter_config_json(t));
  try {
    decode_audio_range(reader, 1, kRangeStart, kRangeEnd, *adapter);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a whole number"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("track 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_adapter("null", "format=u8", adapter_config_json(t)), Error);
}

// ------------------------------------------------------------------ B blocks
namespace {

uint64_t fnv(uint64_t h, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint64_t order_hash(BlockType type, uint64_t a, uint64_t c, const std::vector<uint8_t>& data) {
  uint64_t h = 0xcbf29ce484222325ull;
  uint8_t t = uint8_t(type);
  h = fnv(h, &t, 1);
  h = fnv(h, &a, sizeof a);
  h = fnv(h, &c, sizeof c);
  return fnv(h, data.data(), data.size());
}

// The order adapter's output for every block of a track, from the structure
// alone: P refers to the previous anchor in presentation order, B to the
// anchors on either side of it.
std::map<int64_t, uint64_t> expected_hashes(const std::vector<TestBlock>& track_blocks) {
  std::map<int64_t, const TestBlock*> by_pts;
  for (const auto& b : track_blocks) by_pts[b.info.pts] = &b;
  std::map<int64_t, uint64_t> h;
  uint64_t last_anchor = 0;
  for (const auto& [pts, b] : by_pts) {  // anchors first, in presentation order
    if (b->info.type == BlockType::kB) continue;
    h[pts] = b->info.type == BlockType::kI ? order_hash(BlockType::kI, 0, 0, b->data)
                                           : order_hash(BlockType::kP, last_anchor, 0, b->data);
    last_anchor = h[pts];
  }
  const auto anchors = h;
  for (const auto& [pts, b] : by_pts) {
    if (b->info.type != BlockType::kB) continue;
    auto next = anchors.upper_bound(pts);
    auto prev = std::prev(anchors.lower_bound(pts));
    h[pts] = order_hash(BlockType::kB, prev->second, next->second, b->data);
  }
  return h;
}

struct Frame {
  int64_t pts;
  uint64_t hash;
};

std::vector<Frame> decode_frames(Reader& r, ModelAdapter& a, int64_t t0, int64_t t1) {
  std::vector<Frame> out;
  decode_range(r, 2, t0, t1, a, [&](const BlockInfo& info, const AdapterOutput& o) {
    EXPECT_EQ(o.kind, H4MK_OUTPUT_BYTES);
    uint64_t h = 0;
    EXPECT_EQ(o.size, sizeof h);
    std::memcpy(&h, o.data, sizeof h);
    out.push_back({info.pts, h});
  });
  return out;
}

}  // namespace

TEST(Adapter, BBlocksGetTheirTwoAnchorsAndComeOutInPresentationOrder) {
  StreamSpec spec;
  spec.seconds = 20;
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  auto file = write_stream(tracks, blocks);
  auto expected = expected_hashes(of_track(blocks, 2));
  MemorySource src(file);
  Reader reader(src);
  auto adapter = load_adapter_file(H4MK_ORDER_PLUGIN);  // by path
  ASSERT_TRUE(adapter->supports_B());

  auto full = decode_frames(reader, *adapter, kRangeStart, kRangeEnd);
  ASSERT_EQ(full.size(), expected.size());
  size_t i = 0;
  for (const auto& [pts, h] : expected) {
    ASSERT_EQ(full[i].pts, pts) << "presentation order, frame " << i;
    ASSERT_EQ(full[i].hash, h) << "frame at pts " << pts;
    i++;
  }

  std::mt19937 rng(3);
  const int64_t end = int64_t(spec.seconds * 90000);
  for (int k = 0; k < 300; k++) {
    int64_t t0 = int64_t(rng() % uint64_t(end)) - 5000, t1 = t0 + int64_t(rng() % 200000);
    auto part = decode_frames(reader, *adapter, t0, t1);
    std::vector<Frame> want;
    for (const auto& f : full)
      if (f.pts < t1 && f.pts + 3000 > t0) want.push_back(f);
    ASSERT_EQ(part.size(), want.size()) << t0 << ".." << t1;
    for (size_t j = 0; j < want.size(); j++) {
      ASSERT_EQ(part[j].pts, want[j].pts) << t0 << ".." << t1;
      ASSERT_EQ(part[j].hash, want[j].hash) << t0 << ".." << t1;
    }
  }
}

TEST(Adapter, AfterDamageDecodingWaitsForTheNextIBlockInsteadOfGuessing) {
  StreamSpec spec;
  spec.seconds = 8;
  spec.data_track = false;
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  WriterOptions small;
  small.max_group_blocks = 3;  // many chunks, so damage hits the middle of GOPs
  auto file = write_stream(tracks, blocks, small);
  auto expected = expected_hashes(of_track(blocks, 2));
  auto adapter = load_adapter_file(H4MK_ORDER_PLUGIN);
  size_t undamaged = 0;
  {
    MemorySource src(file);
    Reader reader(src);
    undamaged = decode_frames(reader, *adapter, kRangeStart, kRangeEnd).size();
  }
  std::mt19937 rng(11);
  for (int k = 0; k < 40; k++) {
    auto bad = file;
    size_t at = file.size() / 5 + rng() % (file.size() / 2);
    bad[at] ^= 0x40;
    MemorySource src(bad);
    Reader reader(src);
    auto got = decode_frames(reader, *adapter, kRangeStart, kRangeEnd);
    EXPECT_LE(got.size(), undamaged);
    for (const auto& f : got) {  // nothing delivered is wrong
      ASSERT_TRUE(expected.count(f.pts));
      ASSERT_EQ(f.hash, expected[f.pts]) << "flip at " << at << ", frame at pts " << f.pts;
    }
  }
}

TEST(Adapter, PluginErrorsNameWhatIsWrong) {
  auto message = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return std::to_string(int(e.code())) + " " + e.what();
    }
    return "no error";
  };
  std::string m = message([] { load_adapter_file(H4MK_ORDER_ABI_PLUGIN); });
  EXPECT_NE(m.find(std::to_string(int(ErrorCode::kUnsupportedVersion))), std::string::npos) << m;
  EXPECT_NE(m.find("ABI version 99"), std::string::npos) << m;
  m = message([] { load_adapter_file(H4MK_ORDER_NOENTRY_PLUGIN); });
  EXPECT_NE(m.find("exports no h4mk_adapter_entry"), std::string::npos) << m;
  m = message([] { load_adapter_file("/nonexistent/dir/plugin.so"); });
  EXPECT_NE(m.find("no such file"), std::string::npos) << m;
  m = message([] { load_adapter("no-such-adapter"); });
  EXPECT_NE(m.find("h4mk-adapter-no-such-adapter.so"), std::string::npos) << m;
  EXPECT_NE(m.find("H4MK_ADAPTER_PATH"), std::string::npos) << m;
  m = message([] { load_adapter_file(H4MK_ORDER_PLUGIN, "x=1"); });
  EXPECT_NE(m.find("takes no options"), std::string::npos) << m;
  m = message([] { load_tokenizer_file(H4MK_ORDER_PLUGIN, "", {48000, 1}); });
  EXPECT_NE(m.find("has no tokenizer"), std::string::npos) << m;
}

// A track's adapter and chain bound travel in front of its extradata and
// come back into a track description as they were; a track's adapter text
// that is not a name never goes into the header, and bytes without a header
// are all extradata.
TEST(Adapter, ATracksConfigurationTravelsWithItsAdapterAndBound) {
  const uint8_t extradata[3] = {'H', '4', 'A'};  // starts like a header, is not one
  h4mk_track_info ti{};
  ti.adapter = "dsp";
  ti.max_chain_blocks = 50;
  ti.extradata = extradata;
  ti.extradata_size = sizeof extradata;
  const int len = h4mk_adapter_config_of_track(&ti, nullptr, 0);
  ASSERT_EQ(len, 9 + 3 + 3);
  std::vector<uint8_t> config(size_t(len), 0xAA);
  EXPECT_EQ(h4mk_adapter_config_of_track(&ti, config.data(), config.size() - 1), len);
  EXPECT_EQ(config[0], 0xAA);  // too small: untouched
  ASSERT_EQ(h4mk_adapter_config_of_track(&ti, config.data(), config.size()), len);
  h4mk_track_desc d{};
  char name[H4MK_ADAPTER_NAME_SIZE];
  ASSERT_EQ(h4mk_adapter_config_to_track(config.data(), config.size(), &d, name), 1);
  EXPECT_STREQ(d.adapter, "dsp");
  EXPECT_EQ(d.max_chain_blocks, 50u);
  ASSERT_EQ(d.extradata_size, sizeof extradata);
  EXPECT_EQ(std::memcmp(d.extradata, extradata, sizeof extradata), 0);

  ti.adapter = "../evil.so";
  ti.max_chain_blocks = 0;
  ASSERT_EQ(h4mk_adapter_config_of_track(&ti, config.data(), config.size()), 9 + 3);
  h4mk_track_desc kept{};
  kept.adapter = "from-metadata";
  ASSERT_EQ(h4mk_adapter_config_to_track(config.data(), 9 + 3, &kept, name), 1);
  EXPECT_STREQ(kept.adapter, "from-metadata");  // the header names none
  EXPECT_EQ(kept.extradata_size, sizeof extradata);

  h4mk_track_desc raw{};
  ASSERT_EQ(h4mk_adapter_config_to_track(extradata, sizeof extradata, &raw, name), 0);
  EXPECT_EQ(raw.extradata, extradata);
  EXPECT_EQ(raw.extradata_size, sizeof extradata);
  const uint8_t cut[6] = {'H', '4', 'A', 'D', 3, 'd'};
  EXPECT_EQ(h4mk_adapter_config_to_track(cut, sizeof cut, &raw, name), H4MK_ERR_CORRUPT);
}

// An adapter's output that claims more than its buffers hold is refused,
// saying what, by the chain decoder FFmpeg's h4core decoders run and by
// decode_range (the CLI, Python): none of them reads past the buffers.
TEST(Adapter, OutputsThatClaimMoreThanTheirBuffersAreRefused) {
  const std::pair<const char*, const char*> lies[] = {
      {"rows", "plane 0 with rows of 15 bytes for 16-byte rows"},
      {"plane", "plane 0 with no buffer"},
      {"side", "a picture of 40000x8 (sides 1..32768)"},
      {"kind", "output kind 7"},
      {"samples", "17 samples of 2 channels in a buffer of 128 bytes"},
  };
  const char config[] = R"({"kind":"video","width":16,"height":8})";
  const uint8_t payload[4] = {1, 2, 3, 4};
  for (const auto& [lie, said] : lies) {
    SCOPED_TRACE(lie);
    const std::string options = std::string("lie=") + lie;
    h4mk_adapter* a = nullptr;
    ASSERT_EQ(h4mk_adapter_open_file(&a, H4MK_ORDER_PLUGIN, options.c_str(), config), H4MK_OK);
    h4mk_chain_decoder* d = nullptr;
    ASSERT_EQ(h4mk_chain_decoder_open(&d, a, 0), H4MK_OK);
    h4mk_adapter_block b{H4MK_ADAPTER_BLOCK_I, 0, 0, 1, payload, sizeof payload}, info;
    h4mk_adapter_output out;
    ASSERT_EQ(h4mk_chain_decoder_push(d, &b, &info, &out), 0);  // the anchor is held
    EXPECT_EQ(h4mk_chain_decoder_drain(d, &info, &out), H4MK_ERR_CORRUPT);
    EXPECT_NE(std::string(h4mk_chain_decoder_last_error(d)).find(said), std::string::npos)
        << h4mk_chain_decoder_last_error(d);
    h4mk_chain_decoder_free(d);
    h4mk_adapter_free(a);

    auto adapter = load_adapter_file(H4MK_ORDER_PLUGIN, options, config);
    OutputBudget budget;
    AdapterBlock block{BlockType::kI, 0, 0, 1, {payload, sizeof payload}};
    try {
      budget.made(adapter->finalize(*adapter->decode_I(block)));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
      EXPECT_NE(std::string(e.what()).find(said), std::string::npos) << e.what();
    }
  }
  // The same plugin telling the truth is decoded.
  h4mk_adapter* a = nullptr;
  ASSERT_EQ(h4mk_adapter_open_file(&a, H4MK_ORDER_PLUGIN, nullptr, config), H4MK_OK);
  h4mk_chain_decoder* d = nullptr;
  ASSERT_EQ(h4mk_chain_decoder_open(&d, a, 0), H4MK_OK);
  h4mk_adapter_block b{H4MK_ADAPTER_BLOCK_I, 0, 0, 1, payload, sizeof payload}, info;
  h4mk_adapter_output out;
  ASSERT_EQ(h4mk_chain_decoder_push(d, &b, &info, &out), 0);
  ASSERT_EQ(h4mk_chain_decoder_drain(d, &info, &out), 1);
  EXPECT_EQ(out.kind, H4MK_OUTPUT_VIDEO);
  EXPECT_EQ(out.width, 16u);
  h4mk_chain_decoder_free(d);
  h4mk_adapter_free(a);
}

// A track's decode chain from its h4core configuration: the user's choice
// over the adapter the header names, the header's chain bound either way,
// and errors that say why there is no chain.
TEST(Adapter, ATracksChainOpensFromItsConfiguration) {
  h4mk_chain_decoder* d = nullptr;
  EXPECT_EQ(h4mk_chain_decoder_open_track(&d, nullptr, 0, nullptr, nullptr, nullptr),
            H4MK_ERR_NOT_FOUND);
  EXPECT_NE(std::string(h4mk_open_error()).find("names no adapter"), std::string::npos);
  EXPECT_EQ(d, nullptr);
  const uint8_t bad[] = {'H', '4', 'A', 'D', 2, 'A', '/', 0, 0, 0, 0};
  EXPECT_EQ(h4mk_chain_decoder_open_track(&d, bad, sizeof bad, H4MK_ORDER_PLUGIN, nullptr, nullptr),
            H4MK_ERR_CORRUPT);
  // A name from the track is a name: a path there is never loaded.
  uint8_t config[9 + 32 + 3];
  int len = h4mk_adapter_config_header("no-such-adapter", 1, config, sizeof config);
  ASSERT_GT(len, 0);
  EXPECT_EQ(h4mk_chain_decoder_open_track(&d, config, size_t(len), nullptr, nullptr, nullptr),
            H4MK_ERR_NOT_FOUND);
  EXPECT_NE(std::string(h4mk_open_error()).find("h4mk-adapter-no-such-adapter.so"),
            std::string::npos);
  // The user's choice wins; the track's bound of 1 block still holds.
  std::memcpy(config + len, "abc", 3);
  ASSERT_EQ(h4mk_chain_decoder_open_track(&d, config, size_t(len) + 3, H4MK_ORDER_PLUGIN, nullptr,
                                          nullptr),
            H4MK_OK);
  EXPECT_STREQ(h4mk_chain_decoder_adapter_name(d), "order");
  const uint8_t payload[1] = {9};
  h4mk_adapter_block b{H4MK_ADAPTER_BLOCK_I, 0, 0, 1, payload, 1}, info;
  h4mk_adapter_output out;
  EXPECT_EQ(h4mk_chain_decoder_push(d, &b, &info, &out), 0);
  b.type = H4MK_ADAPTER_BLOCK_P;
  b.pts = b.dts = 1;
  EXPECT_EQ(h4mk_chain_decoder_push(d, &b, &info, &out), H4MK_ERR_LIMIT);
  h4mk_chain_decoder_free(d);  // frees its adapter (ASan: no leak)
}

// The python adapter runs the Python code its options name: a name from a
// file (load_adapter, h4mk_adapter_open) never loads it, whatever the
// search path holds; the user's choice (load_user_adapter) does.
TEST(Adapter, OnlyTheUserCanChooseThePythonAdapter) {
  for (int c_api = 0; c_api < 2; ++c_api) {
    std::string why;
    if (c_api) {
      h4mk_adapter* a = nullptr;
      EXPECT_EQ(h4mk_adapter_open(&a, "python", "module=os:class=system", nullptr),
                H4MK_ERR_INVALID_ARGUMENT);
      EXPECT_EQ(a, nullptr);
      why = h4mk_open_error();
    } else {
      try {
        load_adapter("python", "module=os:class=system");
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        why = e.what();
      }
    }
    EXPECT_NE(why.find("only the user can choose it"), std::string::npos) << why;
  }
  // A user's path still goes to load_adapter_file, a user's name to load_adapter.
  try {
    load_user_adapter("/nonexistent/dir/plugin.so");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos) << e.what();
  }
  try {
    load_user_adapter("no-such-adapter");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h4mk-adapter-no-such-adapter.so"), std::string::npos);
  }
}

TEST(Adapter, MaskedBlocksAreRefusedWithoutTheKey) {
  std::mt19937 rng(5);
  std::vector<uint8_t> pcm;
  auto blocks = pcm_blocks(rng, pcm);
  MemorySink sink;
  Writer w(sink);
  w.add_track(pcm_track());
  MaskKey key{};
  key.fill(9);
  w.set_mask_key(1, key);
  for (const auto& b : blocks) w.write_block(b.info, b.data);
  w.finish();
  auto file = sink.take();
  MemorySource src(file);
  Reader reader(src);
  auto adapter = load_adapter("null", "", adapter_config_json(*reader.track(1)));
  EXPECT_THROW(decode_audio_range(reader, 1, 0, 1000, *adapter), Error);
  reader.set_mask_key(key);
  auto out = decode_audio_range(reader, 1, 0, 1000, *adapter);
  ASSERT_EQ(out.bytes.size(), 4000u);
  EXPECT_TRUE(std::equal(out.bytes.begin(), out.bytes.end(), pcm.begin()));
}

// ---------------------------------------------------------------- dsp
#ifdef H4MK_HAVE_DSP_ADAPTER
namespace {

std::vector<float> sweep(size_t n, double rate) {  // 100 Hz → 8 kHz, exponential
  std::vector<float> x(n);
  const double f0 = 100, f1 = 8000, T = double(n) / rate, k = std::log(f1 / f0) / T;
  for (size_t i = 0; i < n; i++) {
    double t = double(i) / rate;
    x[i] = float(0.5 * std::sin(2 * M_PI * f0 * (std::exp(k * t) - 1) / k));
  }
  return x;
}

std::vector<uint8_t> tokenize(const std::vector<float>& x, const std::string& options) {
  auto tok = load_tokenizer("dsp", options, {48000, 1});
  Track t = pcm_track();
  t.channels = 1;
  t.adapter = "dsp";
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  TokenBlock b;
  auto drain = [&] {
    while (tok->next(b)) w.write_block({1, b.type, b.pts, b.dts, b.duration, false, false}, b.data);
  };
  for (size_t i = 0; i < x.size(); i += 1000) {  // odd-sized pushes
    const float* p = x.data() + i;
    tok->push(&p, std::min<size_t>(1000, x.size() - i));
    drain();
  }
  tok->finish();
  drain();
  w.finish();
  return sink.take();
}

double snr_db(const std::vector<float>& ref, const float* got) {
  double s = 0, e = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    s += double(ref[i]) * ref[i];
    e += (double(ref[i]) - got[i]) * (double(ref[i]) - got[i]);
  }
  return 10 * std::log10(s / e);
}

}  // namespace

TEST(Adapter, DspWithEveryBinKeptReconstructsTheInput) {
  auto x = sweep(48000, 48000);
  auto file = tokenize(x, "hop=256:k=257:gop=10");
  MemorySource src(file);
  Reader reader(src);
  auto dsp = load_adapter("dsp", "", adapter_config_json(*reader.track(1)));
  auto out = decode_audio_range(reader, 1, kRangeStart, kRangeEnd, *dsp);
  ASSERT_EQ(out.sample_format, H4MK_SAMPLE_F32);
  ASSERT_EQ(out.bytes.size(), x.size() * 4);  // the last block's duration trims the padding
  double snr = snr_db(x, reinterpret_cast<const float*>(out.bytes.data()));
  EXPECT_GT(snr, 55.0) << "quantisation alone should limit the error";
}

TEST(Adapter, DspTopKSweepAndRangeDecodesAreSlicesOfTheFullDecode) {
  auto x = sweep(48000 * 3, 48000);
  auto file = tokenize(x, "hop=512:k=48:gop=25");
  MemorySource src(file);
  Reader reader(src);
  auto dsp = load_adapter("dsp", "", adapter_config_json(*reader.track(1)));
  auto full = decode_audio_range(reader, 1, kRangeStart, kRangeEnd, *dsp);
  ASSERT_EQ(full.bytes.size(), x.size() * 4);
  const float* y = reinterpret_cast<const float*>(full.bytes.data());
  double snr = snr_db(x, y);
  EXPECT_GT(snr, 15.0);
  std::printf("dsp k=48 hop=512: sweep SNR %.1f dB, %zu bytes for %zu samples\n", snr, file.size(),
              x.size());
  std::mt19937 rng(2);
  for (int i = 0; i < 100; i++) {
    int64_t t0 = int64_t(rng() % x.size()), t1 = t0 + 1 + int64_t(rng() % 30000);
    auto part = decode_audio_range(reader, 1, t0, t1, *dsp);
    int64_t end = std::min<int64_t>(t1, int64_t(x.size()));
    ASSERT_EQ(part.first_sample, t0);
    ASSERT_EQ(part.bytes.size(), size_t(end - t0) * 4);
    ASSERT_EQ(0, std::memcmp(part.bytes.data(), full.bytes.data() + t0 * 4, part.bytes.size()))
        << t0 << ".." << t1;
  }
}

TEST(Adapter, DspRejectsEveryTruncationOfABlock) {
  auto x = sweep(4800, 48000);
  auto file = tokenize(x, "hop=256:k=16:gop=4");
  MemorySource src(file);
  Reader reader(src);
  Block b;
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<BlockType> types;
  while (reader.next(b) == ReadEvent::kBlock) {
    payloads.emplace_back(b.data.begin(), b.data.end());
    types.push_back(b.info.type);
  }
  ASSERT_GE(payloads.size(), 4u);
  auto dsp = load_adapter("dsp");
  auto base = dsp->decode_I({BlockType::kI, 0, 0, 0, payloads[0]});
  for (int which : {0, 1}) {
    const auto& p = payloads[size_t(which)];
    for (size_t cut = 0; cut < p.size(); cut++) {
      AdapterBlock ab{types[size_t(which)], 0, 0, 0, std::span(p.data(), cut)};
      if (which == 0)
        EXPECT_THROW(dsp->decode_I(ab), Error) << cut;
      else
        EXPECT_THROW(dsp->apply_P(*base, ab), Error) << cut;
    }
  }
  auto wrong = payloads[1];
  EXPECT_THROW(dsp->decode_I({BlockType::kI, 0, 0, 0, wrong}), Error);  // a P is not an I
}
#endif
