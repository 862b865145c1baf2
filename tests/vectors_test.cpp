// Golden test vectors (tests/vectors/): each file is rebuilt here and must
// match the checked-in bytes exactly, and each checked-in file must parse to
// the checked-in expected result. H4MK_UPDATE_VECTORS=1 rewrites them.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/hash_chain.hpp"
#include "test_util.hpp"
#include "vector_signing_key.hpp"

namespace h4mk::test {
namespace {

using nlohmann::ordered_json;
using namespace h4mk::detail;

const std::string kDir = H4MK_VECTORS_DIR;

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> minimal() {
  MemorySink sink;
  Writer w(sink);
  w.add_track(audio_ms_track());
  w.set_metadata("title", "minimal");
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> p = {uint8_t(0xA0 + i), uint8_t(0xB0 + i), uint8_t(0xC0 + i),
                              uint8_t(0xD0 + i)};
    w.write_block({1, BlockType::kI, 20 * i, 20 * i, 20}, p);
  }
  w.finish();
  return sink.take();
}

// `minimal` with chapters (§7.1): one with an end, an id and tags, one
// with neither end nor id, in another time base.
std::vector<uint8_t> chapters() {
  MemorySink sink;
  Writer w(sink);
  w.add_track(audio_ms_track());
  w.add_chapter({{1, 1000}, 0, 40, 5, "First", {{"language", "eng"}}});
  w.add_chapter({{1, 48000}, 1920, std::nullopt, std::nullopt, "Second", {}});
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> p = {uint8_t(0xA0 + i)};
    w.write_block({1, BlockType::kI, 20 * i, 20 * i, 20}, p);
  }
  w.finish();
  return sink.take();
}

// `minimal` with attachments (§7.2): a font, and a picture of a video
// track (cover art) with a description.
std::vector<uint8_t> attachments() {
  MemorySink sink;
  Writer w(sink);
  w.add_track(audio_ms_track());
  Track pic;
  pic.id = 2;
  pic.kind = TrackKind::kVideo;
  pic.codec = "png";
  pic.time_base = {1, 1000};
  w.add_track(pic);
  w.add_attachment({"sub.ttf", "font/ttf", "", 0, {0x00, 0x01, 0x00, 0x00}});
  w.add_attachment({"cover.png", "image/png", "Front", 2, {0x89, 'P', 'N', 'G'}});
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> p = {uint8_t(0xA0 + i)};
    w.write_block({1, BlockType::kI, 20 * i, 20 * i, 20}, p);
  }
  w.finish();
  return sink.take();
}

std::vector<uint8_t> multitrack() {
  MemorySink sink;
  WriterOptions o;
  o.max_group_blocks = 3;
  Writer w(sink, o);
  Track v;
  v.id = 1;
  v.kind = TrackKind::kVideo;
  v.codec = "h4core";
  v.time_base = {1, 25};
  v.width = 64;
  v.height = 48;
  v.frame_rate = {25, 1};
  v.default_duration = 1;
  v.adapter = "null";
  v.extradata = {1, 2, 3};
  Track d;
  d.id = 7;
  d.kind = TrackKind::kControl;
  d.codec = "h4core";
  d.time_base = {1, 1000};
  d.name = "controls";
  d.tags = {{"purpose", "camera"}};
  w.add_track(v);
  w.add_track(d);
  w.set_metadata_json(R"({"encoder":"libh4mk vectors","title":"multitrack"})");
  w.set_safe_json(R"({"policy":"transport_only"})");
  w.set_note("I P B B P B I, and a control track");
  // Video in decode order: I0 P3 B1 B2 P5 B4 I6 (pts), dts = decode index - 1.
  const std::pair<int, BlockType> video[] = {
      {0, BlockType::kI}, {3, BlockType::kP}, {1, BlockType::kB}, {2, BlockType::kB},
      {5, BlockType::kP}, {4, BlockType::kB}, {6, BlockType::kI}};
  int k = 0;
  for (auto [pts, type] : video) {
    BlockInfo b{1, type, pts, k - 1, 1, false, type == BlockType::kB};
    if (k == 4) b.masked = true;
    std::vector<uint8_t> p(size_t(2 + k), uint8_t(0x10 * k));
    std::vector<uint8_t> side;
    if (k == 0) append_side_data(side, "afd", std::vector<uint8_t>{0x08});
    w.write_block(b, p, side);
    if (k == 1) w.write_block({7, BlockType::kI, 40, 40, 0}, bytes_of("pan:+3"));
    if (k == 5) w.write_block({7, BlockType::kI, 160, 160, 80}, bytes_of("zoom:1.5"));
    ++k;
  }
  w.finish();
  return sink.take();
}

std::vector<uint8_t> incomplete() {
  auto f = multitrack();
  auto layout = chunk_layout(f);
  uint64_t last_core = 0;
  for (const auto& c : layout)
    if (c.tag == "CORE") last_core = c.offset;
  f.resize(last_core + 9);
  return f;
}

void add_chunk(std::vector<uint8_t>& f, Tag tag, std::span<const uint8_t> payload) {
  auto h = make_chunk_header(tag, payload);
  f.insert(f.end(), h.begin(), h.end());
  f.insert(f.end(), payload.begin(), payload.end());
}

// A version 1.1 file with chunks of tags a 1.0 reader does not know.
std::vector<uint8_t> future_minor() {
  std::vector<uint8_t> f;
  auto h = encode_file_header({1, 1, 0x80000000u});
  f.insert(f.end(), h.begin(), h.end());
  add_chunk(
      f, kTagTrak,
      bytes_of(
          R"({"tracks":[{"codec":"h4core","id":1,"kind":"data","time_base":[1,1000],"future_key":true}]})"));
  add_chunk(f, make_tag("XTRA"), bytes_of("unknown header chunk"));
  std::vector<uint8_t> g(16);
  store_u16(g.data(), 1);
  g[2] = 0x03;  // UNIFORM | FIXED_SIZE
  store_u32(g.data() + 4, 2);
  store_i64(g.data() + 8, 1000);
  g.insert(g.end(), {0x20, 0x0a, 0x02, 0x01, 0x02, 0x03, 0x04});  // I+DURATION, dur 10, size 2
  add_chunk(f, kTagCore, g);
  add_chunk(f, make_tag("ZZZZ"), bytes_of("unknown chunk between groups"));
  store_i64(g.data() + 8, 1020);
  add_chunk(f, kTagCore, g);
  uint64_t index_offset = f.size();
  add_chunk(f, kTagTail, encode_tail({index_offset, 2}));
  uint8_t crc[4];
  store_u32(crc, crc32(0, f.data(), f.size()));
  f.insert(f.end(), crc, crc + 4);
  return f;
}

// §12.1: a track whose TRAK declares max_chain_blocks 2 (the writer's
// bound), with chains I P, I P, I.
std::vector<uint8_t> bounded_chain() {
  MemorySink sink;
  WriterOptions o;
  o.max_chain_blocks = 2;
  Writer w(sink, o);
  w.add_track(audio_ms_track());
  for (int i = 0; i < 5; ++i)
    w.write_block({1, i % 2 ? BlockType::kP : BlockType::kI, 20 * i, 20 * i, 20},
                  std::vector<uint8_t>{uint8_t(0xE0 + i)});
  w.finish();
  return sink.take();
}

// §5.7: one token track compressed with zstd (level 3), 8 codebooks of
// 10-bit codes per 20 ms block, every other block repeating the one before,
// in groups of 60 blocks; with `dictionary`, the track's DICT chunk holds
// 128 bytes of raw content (no zstd dictionary header).
std::vector<uint8_t> compressed_tokens(bool dictionary) {
  MemorySink sink;
  WriterOptions o;
  o.max_group_blocks = 60;
  Writer w(sink, o);
  Track t = audio_ms_track();
  t.compression = TrackCompression{};
  if (dictionary)
    for (int i = 0; i < 128; ++i) t.compression->dictionary.push_back(uint8_t(i % 8 * 3));
  w.add_track(t);
  std::vector<uint8_t> frame(16);
  uint32_t x = 1;
  for (int i = 0; i < 120; ++i) {
    if (i % 2 == 0)
      for (size_t c = 0; c < 8; ++c) {
        x = x * 1103515245u + 12345u;
        store_u16(&frame[2 * c], uint16_t((x >> 16) % 24));
      }
    w.write_block({1, i % 60 == 0 ? BlockType::kI : BlockType::kP, 20 * i, 20 * i, 20}, frame);
  }
  w.finish();
  return sink.take();
}

std::vector<uint8_t> compressed() { return compressed_tokens(false); }
std::vector<uint8_t> compressed_dictionary() { return compressed_tokens(true); }

// `compressed` with its second group's frame replaced by one of the same
// size that expands 30,000-fold (CRCs resealed): RLE blocks of 128 KiB,
// 4 bytes each, then a raw block taking up what is left, and the content
// size they make (9,568,258 bytes from 307). A reader refuses that group
// unexpanded and reads the first.
std::vector<uint8_t> compressed_bomb() {
  auto f = compressed();
  size_t at = 0;
  int cores = 0;
  for (size_t p = 16; p + 12 <= f.size(); p += 12 + load_u32(&f[p + 4]))
    if (load_u32(&f[p]) == kTagCore && ++cores == 2) at = p;
  uint8_t* frame = &f[at + 12 + 16];
  const size_t frame_size = load_u32(&f[at + 4]) - 16;
  constexpr size_t kHead = 10;  // magic, descriptor, window, 4-byte content size
  const size_t rle = (frame_size - kHead - 3) / 4, raw = frame_size - kHead - 4 * rle - 3;
  const uint8_t head[6] = {0x28, 0xb5, 0x2f, 0xfd, 0x80, 0x38};  // window 2^17
  std::copy(head, head + 6, frame);
  store_u32(frame + 6, uint32_t((rle << 17) + raw));
  auto block_header = [](uint8_t* b, uint32_t type, uint32_t size, bool last) {
    const uint32_t v = size << 3 | type << 1 | (last ? 1u : 0u);
    b[0] = uint8_t(v), b[1] = uint8_t(v >> 8), b[2] = uint8_t(v >> 16);
  };
  for (size_t i = 0; i < rle; ++i) {
    block_header(frame + kHead + 4 * i, 1, 1u << 17, false);
    frame[kHead + 4 * i + 3] = 0;
  }
  block_header(frame + kHead + 4 * rle, 0, uint32_t(raw), true);
  store_u32(&f[at + 8], crc32(crc32(0, &f[at], 8), &f[at + 12], load_u32(&f[at + 4])));
  store_u32(&f[f.size() - 4], crc32(0, f.data(), f.size() - 4));
  return f;
}

// Key 00 01 .. 1f, fixed salts: a gcm track and a ctr track (docs/FORMAT.md §13).
MaskKey vector_key() {
  MaskKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i);
  return k;
}

std::vector<uint8_t> masked() {
  const MaskKey key = vector_key();
  std::array<uint8_t, kMaskSaltSize> salt1, salt2;
  for (size_t i = 0; i < kMaskSaltSize; ++i)
    salt1[i] = uint8_t(0xA0 + i), salt2[i] = uint8_t(0xB0 + i);
  MemorySink sink;
  Writer w(sink);
  Track a;
  a.id = 1;
  a.kind = TrackKind::kAudio;
  a.time_base = {1, 1000};
  a.default_duration = 20;
  a.mask = make_track_mask(key, MaskScheme::kAes256Gcm, "vector-key", &salt1);
  Track c;
  c.id = 2;
  c.kind = TrackKind::kControl;
  c.time_base = {1, 1000};
  c.mask = make_track_mask(key, MaskScheme::kAes256Ctr, "vector-key", &salt2);
  w.add_track(a);
  w.add_track(c);
  BlockMasker gcm(*a.mask, key, 1), ctr(*c.mask, key, 2);
  auto put = [&](BlockMasker& m, BlockInfo b, const std::string& text) {
    auto plain = bytes_of(text);
    std::vector<uint8_t> env(plain.size() + m.overhead());
    m.mask(b, plain, env);
    b.masked = true;
    w.write_block(b, env);
  };
  put(gcm, {1, BlockType::kI, 0, 0, 20}, "token block 0");
  put(ctr, {2, BlockType::kI, 0, 0, 0}, "pan:+3");
  put(gcm, {1, BlockType::kP, 20, 20, 20}, "token block 1");
  put(gcm, {1, BlockType::kP, 40, 40, 20}, "token block 2");  // every block of a masked track
  put(ctr, {2, BlockType::kI, 40, 40, 0}, "zoom:1.5");
  w.finish();
  return sink.take();
}

std::string hex(std::span<const uint8_t> b) { return to_hex(b); }

// Five groups of 100 token blocks (16 bytes each), signed with the vector
// key: two leaves, one HASH page, VERI, SIGN, ROOT (§8.2).
std::vector<uint8_t> signed_tokens() {
  MemorySink sink;
  WriterOptions o;
  o.max_group_blocks = 100;
  Writer w(sink, o);
  w.add_track(audio_ms_track());
  std::vector<uint8_t> p(16);
  for (int i = 0; i < 500; ++i) {
    for (size_t k = 0; k < p.size(); ++k) p[k] = uint8_t(i * 7 + int(k) * 13);
    w.write_block({1, BlockType::kI, 20 * i, 20 * i, 20}, p);
  }
  w.finish();
  MemorySource in(sink.bytes());
  MemorySink out;
  sign_file(in, out, vector_signing_pem(true));
  return out.take();
}

// `signed` with the last payload byte of its fourth group changed and every
// CRC resealed: only the signed tree tells; a verifying reader hands out the
// first leaf's blocks and refuses the second leaf, naming its offset.
std::vector<uint8_t> signed_tampered() {
  auto f = signed_tokens();
  int cores = 0;
  for (size_t p = 16; p + 12 <= f.size(); p += 12 + load_u32(&f[p + 4])) {
    if (load_u32(&f[p]) != kTagCore || ++cores != 4) continue;
    const uint32_t size = load_u32(&f[p + 4]);
    f[p + 12 + size - 1] ^= 0x01;
    store_u32(&f[p + 8], crc32(crc32(0, &f[p], 8), &f[p + 12], size));
  }
  store_u32(&f[f.size() - 4], crc32(0, f.data(), f.size() - 4));
  return f;
}

std::string hex_dump(std::span<const uint8_t> b) {
  std::string out;
  char line[100];
  for (size_t i = 0; i < b.size(); i += 16) {
    int n = std::snprintf(line, sizeof line, "%08zx:", i);
    std::string s(line, size_t(n)), ascii;
    for (size_t j = i; j < i + 16; ++j) {
      if (j < b.size()) {
        std::snprintf(line, sizeof line, " %02x", b[j]);
        s += line;
        ascii += (b[j] >= 0x20 && b[j] < 0x7f) ? char(b[j]) : '.';
      } else {
        s += "   ";
      }
    }
    out += s + "  " + ascii + "\n";
  }
  return out;
}

ordered_json describe(std::span<const uint8_t> file, bool signed_file = false) {
  ordered_json j;
  MemorySource src(file);
  Reader r(src);
  // Masked files: the payloads again with the vectors' key, unmasked.
  MemorySource src2(file);
  Reader unmasked(src2);
  const bool has_mask = std::any_of(r.tracks().begin(), r.tracks().end(),
                                    [](const Track& t) { return t.mask.has_value(); });
  if (has_mask) unmasked.set_mask_key(vector_key());
  Block u;
  if (r.version_major() != 1) j["version_major"] = r.version_major();  // 1 in older vectors
  j["version_minor"] = r.version_minor();
  j["trak"] = ordered_json::parse(r.tracks_json());
  j["meta"] = r.metadata_json();
  j["safe"] = r.safe_json();
  j["note"] = r.note();
  if (!r.chapters().empty()) {  // only the vectors that have chapters say so
    j["chapters"] = ordered_json::array();
    for (const Chapter& c : r.chapters())
      j["chapters"].push_back({{"time_base", {c.time_base.num, c.time_base.den}},
                               {"start", c.start},
                               {"end", c.end ? ordered_json(*c.end) : ordered_json(nullptr)},
                               {"id", c.id ? ordered_json(*c.id) : ordered_json(nullptr)},
                               {"title", c.title},
                               {"tags", c.tags}});
  }
  if (!r.attachments().empty()) {  // only the vectors that have attachments say so
    j["attachments"] = ordered_json::array();
    for (const Attachment& a : r.attachments())
      j["attachments"].push_back({{"filename", a.filename},
                                  {"mimetype", a.mimetype},
                                  {"description", a.description},
                                  {"track", a.track},
                                  {"data", hex(a.data)}});
  }
  j["data_offset"] = r.data_offset();
  j["has_index"] = r.has_index();
  j["blocks"] = ordered_json::array();
  Block b;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) continue;
    j["blocks"].push_back({{"track", b.info.track_id},
                           {"type", block_type_name(b.info.type)},
                           {"pts", b.info.pts},
                           {"dts", b.info.dts},
                           {"duration", b.info.duration},
                           {"masked", b.info.masked},
                           {"discardable", b.info.discardable},
                           {"chunk_offset", b.chunk_offset},
                           {"index_in_group", b.index_in_group},
                           {"data", hex(b.data)},
                           {"side_data", hex(b.side_data)}});
    if (has_mask) {
      EXPECT_EQ(unmasked.next(u), ReadEvent::kBlock);
      j["blocks"].back()["unmasked"] = std::string(u.data.begin(), u.data.end());
    }
  }
  j["damage"] = ordered_json::array();
  for (const Damage& d : r.damage())
    j["damage"].push_back({{"offset", d.offset},
                           {"length", d.length},
                           {"code", int(d.code)},
                           {"message", d.message}});
  j["index"] = ordered_json::object();
  for (const Track& t : r.tracks()) {
    ordered_json e = ordered_json::array();
    for (const IndexEntry& x : r.index(t.id)) e.push_back({x.pts, x.offset});
    j["index"][std::to_string(t.id)] = e;
  }
  MemorySource vsrc(file);
  VerifyReport v = verify(vsrc);
  j["verify"] = {{"ok", v.ok()},
                 {"complete", v.complete},
                 {"veri_ok", v.veri_ok},
                 {"container_crc_ok", v.container_crc_ok},
                 {"blocks", v.blocks}};
  j["verify"]["problems"] = ordered_json::array();
  for (const Problem& p : v.problems)
    j["verify"]["problems"].push_back(
        {{"offset", p.offset}, {"chunk", p.chunk}, {"message", p.message}});
  if (!signed_file) return j;
  // What a reader with the trusted key hands out, and where it stops.
  ReaderOptions ro;
  ro.public_key_pem = vector_signing_pem(false);
  MemorySource ksrc(file);
  ordered_json& kj = j["verified_reading"];
  kj["blocks"] = 0;
  kj["error"] = nullptr;
  try {
    Reader kr(ksrc, ro);
    for (ReadEvent ev; (ev = kr.next(b)) != ReadEvent::kEnd;)
      if (ev == ReadEvent::kBlock) kj["blocks"] = kj["blocks"].get<int>() + 1;
  } catch (const Error& e) {
    kj["error"] = {{"code", int(e.code())}, {"offset", e.offset()}, {"message", e.what()}};
  }
  MemorySource ksrc2(file);
  VerifyOptions vo;
  vo.public_key_pem = ro.public_key_pem;
  VerifyReport kv = verify(ksrc2, vo);
  j["verify_with_key"] = {{"ok", kv.ok()}, {"signature_ok", kv.signature_ok}};
  j["verify_with_key"]["problems"] = ordered_json::array();
  for (const Problem& p : kv.problems)
    j["verify_with_key"]["problems"].push_back(
        {{"offset", p.offset}, {"chunk", p.chunk}, {"message", p.message}});
  return j;
}

struct Vector {
  const char* name;
  std::vector<uint8_t> (*build)();
  bool zstd_frames = false;  // its bytes depend on the zstd that compressed it
  bool signed_file = false;  // signed with the vectors' key (vector_signing_pem)
};

const Vector kVectors[] = {{"minimal", minimal},
                           {"multitrack", multitrack},
                           {"incomplete", incomplete},
                           {"future_minor", future_minor},
                           {"masked", masked},
                           {"chapters", chapters},
                           {"attachments", attachments},
                           {"bounded_chain", bounded_chain},
                           {"compressed", compressed, true},
                           {"compressed_dictionary", compressed_dictionary, true},
                           {"compressed_bomb", compressed_bomb, true},
                           {"signed", signed_tokens, false, true},
                           {"signed_tampered", signed_tampered, false, true}};

// The zstd release the checked-in vectors were compressed with (Debian's
// 1.5.4). Another release may choose other frame bytes for the same input:
// what the files decode to is compared then, not their bytes.
constexpr unsigned kVectorZstd = 10504;

bool updating() {
  const char* e = std::getenv("H4MK_UPDATE_VECTORS");
  return e && *e == '1';
}

TEST(Vectors, RebuiltFilesMatchCheckedInBytes) {
  for (const Vector& v : kVectors) {
    auto built = v.build();
    const std::string base = kDir + "/" + v.name;
    if (updating()) {
      write_file(base + ".h4mk", built);
      std::string dump = hex_dump(built);
      write_file(base + ".hex", bytes_of(dump));
      std::string expected = describe(built, v.signed_file).dump(2) + "\n";
      if (v.signed_file) {
        const std::string pem = vector_signing_pem(false);
        write_file(kDir + "/signed.pub.pem", bytes_of(pem));
      }
      write_file(base + ".json", bytes_of(expected));
      continue;
    }
    if (v.zstd_frames && ZSTD_versionNumber() != kVectorZstd) {
      EXPECT_EQ(describe(built)["blocks"], describe(read_file(base + ".h4mk"))["blocks"])
          << v.name << ": the writer no longer produces the vector's blocks";
      continue;
    }
    EXPECT_EQ(read_file(base + ".h4mk"), built)
        << v.name << ": the writer no longer produces the vector";
    const std::string dump = hex_dump(built);
    EXPECT_EQ(read_file(base + ".hex"), std::vector<uint8_t>(dump.begin(), dump.end()))
        << v.name << ".hex is stale";
  }
}

TEST(Vectors, TheSigningKeyIsTheOnePublished) {
  const std::string pem = vector_signing_pem(false);
  EXPECT_EQ(read_file(kDir + "/signed.pub.pem"), std::vector<uint8_t>(pem.begin(), pem.end()));
}

TEST(Vectors, CheckedInFilesParseToExpectedResults) {
  for (const Vector& v : kVectors) {
    const std::string base = kDir + "/" + v.name;
    auto file = read_file(base + ".h4mk");
    auto expected_text = read_file(base + ".json");
    ordered_json expected = ordered_json::parse(expected_text.begin(), expected_text.end());
    EXPECT_EQ(describe(file, v.signed_file), expected) << v.name;
  }
}

TEST(Vectors, ExpectedResultsSayWhatTheSpecSays) {
  // Independent of the generator: facts stated in docs/FORMAT.md.
  auto f = read_file(kDir + "/minimal.h4mk");
  ASSERT_GE(f.size(), 32u);
  EXPECT_EQ(std::string(f.begin(), f.begin() + 4), "H4MK");
  EXPECT_EQ(load_u16(&f[4]), 1);
  EXPECT_EQ(crc32(0, f.data(), f.size() - 4), load_u32(&f[f.size() - 4]));
  EXPECT_EQ(std::string(f.end() - 32, f.end() - 28), "TAIL");
  // §14's annotated dump: HINT right after TRAK with the file's size, TAIL's
  // index offset and track 1's summary (3 blocks, pts 0 to 60).
  const size_t hint = 16 + 12 + load_u32(&f[20]);
  ASSERT_EQ(hint, 0x7cu);
  EXPECT_EQ(std::string(f.begin() + long(hint), f.begin() + long(hint) + 4), "HINT");
  EXPECT_EQ(load_u32(&f[hint + 4]), 16u + 24u);
  EXPECT_EQ(load_u64(&f[hint + 12]), f.size());
  EXPECT_EQ(load_u64(&f[hint + 20]), load_u64(&f[f.size() - 20]));
  EXPECT_EQ(load_u64(&f[hint + 28]), 3u);
  EXPECT_EQ(load_u64(&f[hint + 44]), 60u);
  auto inc = describe(read_file(kDir + "/incomplete.h4mk"));
  EXPECT_FALSE(inc["has_index"].get<bool>());
  EXPECT_EQ(inc["damage"].size(), 1u);
  // §7.1: CHAP's payload is compact JSON with sorted keys, before the first CORE.
  auto ch = read_file(kDir + "/chapters.h4mk");
  const std::string chap_json =
      R"({"chapters":[{"end":40,"id":5,"start":0,"tags":{"language":"eng"},)"
      R"("time_base":[1,1000],"title":"First"},)"
      R"({"start":1920,"time_base":[1,48000],"title":"Second"}]})";
  const std::string ch_text(ch.begin(), ch.end());
  const size_t chap_at = ch_text.find("CHAP");
  ASSERT_NE(chap_at, std::string::npos);
  EXPECT_LT(chap_at, ch_text.find("CORE"));
  EXPECT_EQ(load_u32(&ch[chap_at + 4]), chap_json.size());
  EXPECT_EQ(ch_text.substr(chap_at + 12, chap_json.size()), chap_json);
  // §7.2: ATCH is a u32 header size, the header (compact JSON, sorted keys),
  // then the data, before the first CORE.
  auto at = read_file(kDir + "/attachments.h4mk");
  const std::string at_text(at.begin(), at.end());
  const std::string cover_json =
      R"({"description":"Front","filename":"cover.png","mimetype":"image/png","track":2})";
  const size_t font_at = at_text.find("ATCH"), cover_at = at_text.find("ATCH", font_at + 1);
  ASSERT_NE(cover_at, std::string::npos);
  EXPECT_LT(cover_at, at_text.find("CORE"));
  EXPECT_EQ(load_u32(&at[cover_at + 4]), 4 + cover_json.size() + 4);
  EXPECT_EQ(load_u32(&at[cover_at + 12]), cover_json.size());
  EXPECT_EQ(at_text.substr(cover_at + 16, cover_json.size() + 4), cover_json + "\x89PNG");
  // §5.7: a compressed group keeps its header in the clear, then records
  // size and one zstd frame that declares that size; the file says 2.0.
  for (const char* name : {"compressed", "compressed_dictionary"}) {
    auto z = read_file(kDir + "/" + name + ".h4mk");
    EXPECT_EQ(load_u16(&z[4]), 2) << name;
    const std::string text(z.begin(), z.end());
    EXPECT_NE(text.find(R"("compression":{"scheme":"zstd"})"), std::string::npos) << name;
    const bool dict = std::string(name) == "compressed_dictionary";
    EXPECT_EQ(text.find("DICT") != std::string::npos, dict) << name;
    const size_t core = text.find("CORE");
    ASSERT_NE(core, std::string::npos);
    const uint8_t* g = &z[core + 12];
    // compressed records of an I block then P blocks of one size: UNIFORM,
    // FIXED_SIZE and KEY_FIRST
    EXPECT_EQ(g[2], 0x04 | 0x13 | (dict ? 0x08 : 0)) << name;
    EXPECT_EQ(load_u32(g + 4), 60u);
    // the flags byte, the size, 60 16-byte payloads
    EXPECT_EQ(ZSTD_getFrameContentSize(g + 16, load_u32(&z[core + 4]) - 16), 1 + 1 + 60u * 16);
  }
  // §5.3: KEY_FIRST in the clear: the masked token track's group of an I
  // block and two P blocks stores the P blocks' flags byte once.
  {
    auto m = read_file(kDir + "/masked.h4mk");
    const std::string text(m.begin(), m.end());
    size_t core = text.find("CORE");
    while (core != std::string::npos && load_u32(&m[core + 16]) != 3)
      core = text.find("CORE", core + 1);
    ASSERT_NE(core, std::string::npos);
    const uint8_t* g = &m[core + 12];
    EXPECT_EQ(load_u16(g), 1);
    EXPECT_EQ(g[2], 0x13);          // UNIFORM | FIXED_SIZE | KEY_FIRST
    EXPECT_EQ(g[16], 0x01 | 0x04);  // type P, MASKED
    auto blocks = describe(m)["blocks"];
    std::vector<std::string> types;
    for (const auto& b : blocks)
      if (b["track"] == 1) types.push_back(b["type"].get<std::string>());
    EXPECT_EQ(types, (std::vector<std::string>{"I", "P", "P"}));
  }
  // §12.1: the declared bound is in TRAK.
  auto bc = describe(read_file(kDir + "/bounded_chain.h4mk"));
  EXPECT_EQ(bc["trak"]["tracks"][0]["max_chain_blocks"], 2);
  EXPECT_EQ(bc["blocks"].size(), 5u);
  auto bomb = describe(read_file(kDir + "/compressed_bomb.h4mk"));
  EXPECT_EQ(bomb["blocks"].size(), 60u);
  ASSERT_EQ(bomb["damage"].size(), 1u);
  EXPECT_NE(bomb["damage"][0]["message"].get<std::string>().find("more than 256 times its"),
            std::string::npos);
  // §8.2: the signed tree, checked with OpenSSL alone.
  auto sg = read_file(kDir + "/signed.h4mk");
  std::vector<std::pair<std::string, size_t>> chunks;
  for (size_t p = 16; p + 12 <= sg.size(); p += 12 + load_u32(&sg[p + 4]))
    chunks.push_back({std::string(sg.begin() + long(p), sg.begin() + long(p) + 4), p});
  std::vector<std::string> tags;
  for (const auto& [tag, at] : chunks) tags.push_back(tag);
  const std::vector<std::string> want_tags = {"TRAK", "HINT", "CORE", "CORE", "CORE",
                                              "CORE", "CORE", "HASH", "VERI", "SIGN",
                                              "ROOT", "TSEK", "TAIL"};
  EXPECT_EQ(tags, want_tags);
  auto digest = [](const uint8_t* p, size_t n) {
    std::array<uint8_t, 32> d{};
    unsigned len = 0;
    EXPECT_EQ(EVP_Digest(p, n, d.data(), &len, EVP_sha256(), nullptr), 1);
    return d;
  };
  auto at_of = [&](const char* tag) {
    for (const auto& [t, at] : chunks)
      if (t == tag) return at;
    return size_t(0);
  };
  const size_t first_core = at_of("CORE"), hash = at_of("HASH"), root = at_of("ROOT"),
               sign = at_of("SIGN");
  const uint8_t* rp = &sg[root + 12];
  const uint32_t root_size = load_u32(&sg[root + 4]);
  EXPECT_EQ(std::string(rp, rp + 4), "H4RT");
  EXPECT_EQ(load_u64(rp + 8), sg.size());
  EXPECT_EQ(load_u64(rp + 16), first_core);                     // data offset
  EXPECT_EQ(load_u64(rp + 24), hash);                           // pages offset
  EXPECT_EQ(load_u64(rp + 32), load_u64(&sg[sg.size() - 20]));  // index offset, as TAIL
  const uint32_t heads = load_u32(rp + 48), pages = load_u32(rp + 52), index = load_u32(rp + 56);
  EXPECT_EQ(heads, 3u);  // file header, TRAK, HINT
  EXPECT_EQ(pages, 1u);
  EXPECT_EQ(index, 2u);  // VERI, TSEK
  EXPECT_EQ(root_size, 64 + 44 * (heads + index) + 52 * pages);
  // Head pieces: offset, size, SHA-256 of those bytes.
  for (uint32_t i = 0; i < heads; ++i) {
    const uint8_t* e = rp + 64 + 44 * i;
    const auto d = digest(&sg[load_u64(e)], load_u32(e + 8));
    EXPECT_TRUE(std::equal(d.begin(), d.end(), e + 12)) << "head piece " << i;
  }
  // The page: span start, offset and size of the HASH chunk, its digest.
  const uint8_t* pe = rp + 64 + 44 * heads;
  EXPECT_EQ(load_u64(pe), first_core);
  EXPECT_EQ(load_u64(pe + 8), hash);
  const uint32_t page_size = load_u32(pe + 16);
  const auto pd = digest(&sg[hash], page_size);
  EXPECT_TRUE(std::equal(pd.begin(), pd.end(), pe + 20));
  // Its leaves: the first closes at the first CORE end past 4096 bytes (three
  // 1,630-byte groups), the second takes the rest; each SHA-256 of its bytes.
  EXPECT_EQ(load_u32(&sg[hash + 4]), 8u + 2 * 36);
  EXPECT_EQ(load_u64(&sg[hash + 12]), first_core);
  size_t leaf_at = first_core;
  for (int i = 0; i < 2; ++i) {
    const uint8_t* l = &sg[hash + 12 + 8 + 36 * size_t(i)];
    const auto d = digest(&sg[leaf_at], load_u32(l));
    EXPECT_TRUE(std::equal(d.begin(), d.end(), l + 4)) << "leaf " << i;
    leaf_at += load_u32(l);
  }
  EXPECT_EQ(leaf_at, hash);
  EXPECT_EQ(chunks[5].second, first_core + 3 * (12 + load_u32(&sg[first_core + 4])));
  // SIGN: Ed25519 over "H4MK-SIGN-v2" || ROOT payload, with the published key.
  const std::string sign_json(sg.begin() + long(sign) + 12,
                              sg.begin() + long(sign) + 12 + long(load_u32(&sg[sign + 4])));
  const std::string sig_hex = ordered_json::parse(sign_json)["signature"];
  std::vector<uint8_t> sig;
  for (size_t i = 0; i + 1 < sig_hex.size(); i += 2)
    sig.push_back(uint8_t(std::stoi(sig_hex.substr(i, 2), nullptr, 16)));
  std::string msg = "H4MK-SIGN-v2";
  msg.append(reinterpret_cast<const char*>(rp), root_size);
  const auto pem = read_file(kDir + "/signed.pub.pem");
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  EVP_PKEY* pub = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(pub, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, sig.data(), sig.size(),
                             reinterpret_cast<const uint8_t*>(msg.data()), msg.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pub);
  // The tampered copy: a verifying reader stops at the second leaf.
  auto tampered = describe(read_file(kDir + "/signed_tampered.h4mk"), true);
  EXPECT_EQ(tampered["verified_reading"]["blocks"], 300);
  EXPECT_EQ(tampered["verified_reading"]["error"]["offset"], chunks[5].second);
  EXPECT_EQ(tampered["blocks"].size(), 500u) << "a reader without the key sees nothing wrong";

  auto fut = describe(read_file(kDir + "/future_minor.h4mk"));
  EXPECT_EQ(fut["version_minor"], 1);
  EXPECT_EQ(fut["blocks"].size(), 4u);
  EXPECT_TRUE(fut["damage"].empty());
}

}  // namespace
}  // namespace h4mk::test
