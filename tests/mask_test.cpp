// h4mask: masked files round-trip with the key, stay readable (tracks,
// metadata, index) without it, and reject wrong keys, moved blocks and
// altered bytes. The vector is checked against raw OpenSSL EVP, not libh4mk.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "../libh4mk/src/block_group.hpp"
#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

MaskKey key_of(uint8_t seed) {
  MaskKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed + 7 * i);
  return k;
}

// The test stream with track 1 (audio, strictly increasing dts) masked by
// ctr and track 2 (video, I/P/B) by gcm.
std::vector<uint8_t> write_masked(const std::vector<TestBlock>& blocks, const MaskKey& key,
                                  const WriterOptions& o = {}) {
  MemorySink sink;
  Writer w(sink, o);
  for (const auto& t : test_tracks({})) w.add_track(t);
  w.set_safe_json(R"({"policy":"transport_only"})");
  w.set_mask_key(1, key, MaskScheme::kAes256Ctr, "audio-key");
  w.set_mask_key(2, key);
  for (const auto& b : blocks) w.write_block(b.info, b.data, b.side);
  w.finish();
  return sink.take();
}

// Blocks come back grouped in file order; compare track by track.
void expect_same_tracks(const std::vector<TestBlock>& got, const std::vector<TestBlock>& want) {
  for (uint16_t id = 1; id <= 3; ++id)
    EXPECT_EQ(of_track(got, id), of_track(want, id)) << "track " << id;
}

ReadBack read_with_key(std::span<const uint8_t> file, const MaskKey& key) {
  ReadBack r;
  MemorySource src(file);
  Reader reader(src);
  reader.set_mask_key(key);
  Block b;
  for (ReadEvent ev; (ev = reader.next(b)) != ReadEvent::kEnd;)
    if (ev == ReadEvent::kBlock)
      r.blocks.push_back(
          {b.info, {b.data.begin(), b.data.end()}, {b.side_data.begin(), b.side_data.end()}});
  return r;
}

TEST(Mask, RoundTripWithTheKey) {
  StreamSpec spec;
  spec.seconds = 5;
  auto blocks = make_stream(spec);
  auto file = write_masked(blocks, key_of(1));
  expect_same_tracks(read_with_key(file, key_of(1)).blocks, blocks);
  // Runs of fixed-size blocks: one at a time once a key unmasks them (each
  // into a buffer of its own), whole as stored without one.
  MemorySource src(file);
  Reader with_key(src);
  with_key.set_mask_key(key_of(1));
  uint32_t longest = 0;
  expect_same_tracks(read_by_runs(with_key, &longest), blocks);
  EXPECT_EQ(longest, 1u);
  Reader without(src);
  EXPECT_EQ(read_by_runs(without, &longest), read_all(file).blocks);
  EXPECT_GT(longest, 1u);
}

TEST(Mask, WithoutTheKeyTracksMetadataAndIndexStayReadable) {
  StreamSpec spec;
  spec.seconds = 5;
  auto blocks = make_stream(spec);
  auto file = write_masked(blocks, key_of(1));
  MemorySource src(file);
  Reader r(src);
  ASSERT_TRUE(r.track(1)->mask && r.track(2)->mask);
  EXPECT_FALSE(r.track(3)->mask);
  EXPECT_EQ(r.track(1)->mask->scheme, MaskScheme::kAes256Ctr);
  EXPECT_EQ(r.track(1)->mask->kid, "audio-key");
  EXPECT_EQ(r.track(2)->mask->kid, default_key_id(key_of(1)));
  auto safe = nlohmann::json::parse(r.safe_json());
  EXPECT_EQ(safe["policy"], "transport_only");
  ASSERT_EQ(safe["mask"].size(), 2u);
  EXPECT_EQ(safe["mask"][0]["scheme"], "aes-256-ctr");
  EXPECT_EQ(safe["mask"][1]["kid"], default_key_id(key_of(1)));
  // No key material anywhere in the readable chunks.
  const std::string key_hex = to_hex_string(key_of(1));
  EXPECT_EQ(r.tracks_json().find(key_hex), std::string::npos);
  EXPECT_EQ(r.safe_json().find(key_hex), std::string::npos);
  // The index and seeking work without a key.
  ASSERT_TRUE(r.has_index());
  SeekPoint p = r.seek(2, 90000 * 3);
  EXPECT_LE(p.pts, 90000 * 3);

  auto all = read_all(file).blocks;
  ASSERT_EQ(all.size(), blocks.size());
  for (uint16_t id = 1; id <= 3; ++id) {
    auto raw = of_track(all, id), plain = of_track(blocks, id);
    ASSERT_EQ(raw.size(), plain.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      EXPECT_EQ(raw[i].info.masked, id != 3 || plain[i].info.masked) << i;
      if (id == 1) EXPECT_EQ(raw[i].data.size(), plain[i].data.size()) << "ctr adds no byte";
      if (id == 2) EXPECT_EQ(raw[i].data.size(), plain[i].data.size() + kGcmOverhead);
      if (id != 3 && !plain[i].data.empty()) EXPECT_NE(raw[i].data, plain[i].data) << i;
      if (id == 3) EXPECT_EQ(raw[i].data, plain[i].data);
    }
  }
}

TEST(Mask, CtrAddsZeroBytesToEveryGroup) {
  StreamSpec spec;
  spec.seconds = 5;
  spec.data_track = false;
  auto blocks = of_track(make_stream(spec), 1);
  auto plain = write_stream(test_tracks(spec), blocks);
  MemorySink sink;
  Writer w(sink);
  for (const auto& t : test_tracks(spec)) w.add_track(t);
  w.set_metadata("title", "test stream");
  w.set_safe_json(R"({"policy":"transport_only"})");
  w.set_note("written by the libh4mk tests");
  w.set_mask_key(1, key_of(2), MaskScheme::kAes256Ctr);
  for (const auto& b : blocks) w.write_block(b.info, b.data, b.side);
  w.finish();
  auto masked = sink.take();
  auto core_bytes = [](std::span<const uint8_t> f) {
    uint64_t n = 0;
    for (const auto& c : chunk_layout(f))
      if (c.tag == "CORE") n += c.end - c.offset;
    return n;
  };
  EXPECT_EQ(core_bytes(masked), core_bytes(plain));
}

TEST(Mask, WrongKeyIsRefusedNamingTheTrack) {
  auto file = write_masked(make_stream({}), key_of(1));
  MemorySource src(file);
  Reader r(src);
  try {
    r.set_mask_key(key_of(9), 2);
    FAIL() << "a wrong key was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kKeyMismatch);
    EXPECT_NE(std::string(e.what()).find("track 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.set_mask_key(key_of(9)), Error);  // matches no track
  try {
    r.set_mask_key(key_of(1), 3);
    FAIL() << "track 3 is not masked";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

TEST(Mask, AKeyForEveryTrackOpensThoseItFitsAndSaysWhich) {
  const auto blocks = make_stream({});
  MemorySink sink;
  Writer w(sink);
  for (const auto& t : test_tracks({})) w.add_track(t);
  w.set_mask_key(1, key_of(1));
  w.set_mask_key(2, key_of(2));
  for (const auto& b : blocks) w.write_block(b.info, b.data, b.side);
  w.finish();
  const auto file = sink.take();

  MemorySource src(file);
  Reader r(src);
  EXPECT_FALSE(r.unmasks(1));
  r.set_mask_key(key_of(2));  // track 0: every masked track it fits
  EXPECT_FALSE(r.unmasks(1));
  EXPECT_TRUE(r.unmasks(2));
  EXPECT_FALSE(r.unmasks(3));  // not masked
  try {
    r.set_mask_key(key_of(9));
    FAIL() << "a key that fits no track was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kKeyMismatch);
    EXPECT_NE(std::string(e.what()).find("opens none of the 2 masked tracks"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(r.unmasks(2)) << "a refused key takes back no other";

  // The C API says the same; a file without masked tracks takes any key.
  h4mk_reader* c = nullptr;
  CMemoryFile mem;
  mem.bytes = file;
  h4mk_io io = mem.reading();
  ASSERT_EQ(h4mk_reader_open(&c, &io), H4MK_OK);
  const MaskKey one = key_of(1), nine = key_of(9);
  EXPECT_EQ(h4mk_reader_set_mask_key(c, 0, nine.data()), H4MK_ERR_KEY);
  EXPECT_EQ(h4mk_reader_set_mask_key(c, 0, nullptr), H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(h4mk_reader_set_mask_key(c, 0, one.data()), H4MK_OK);
  EXPECT_EQ(h4mk_reader_track_unmasked(c, 1), 1);
  EXPECT_EQ(h4mk_reader_track_unmasked(c, 2), 0);
  EXPECT_EQ(h4mk_reader_track_unmasked(nullptr, 1), 0);
  h4mk_reader_free(c);
  const auto plain = write_stream(test_tracks({}), blocks);
  MemorySource plain_src(plain);
  Reader p(plain_src);
  EXPECT_NO_THROW(p.set_mask_key(key_of(1)));
  EXPECT_FALSE(p.unmasks(1));
}

// Track 1: data, 1/1000.
Track data_track() {
  Track t;
  t.id = 1;
  t.time_base = {1, 1000};
  return t;
}

// Masks a payload with one block's place and unmasks it claiming another.
bool unmasks_as(const BlockInfo& from, const BlockInfo& to, bool other_salt = false) {
  const MaskKey key = key_of(3);
  std::array<uint8_t, kMaskSaltSize> s1{}, s2{};
  s2[0] = 1;
  TrackMask m1 = make_track_mask(key, MaskScheme::kAes256Gcm, "k", &s1);
  TrackMask m2 = make_track_mask(key, MaskScheme::kAes256Gcm, "k", other_salt ? &s2 : &s1);
  BlockMasker a(m1, key, from.track_id), b(m2, key, to.track_id);
  std::vector<uint8_t> plain(40, 0x5A), env(40 + kGcmOverhead), out(40);
  a.mask(from, plain, env);
  try {
    b.unmask(to, env, out);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
    EXPECT_NE(std::string(e.what()).find("pts " + std::to_string(to.pts)), std::string::npos);
    EXPECT_EQ(out, std::vector<uint8_t>(40, 0)) << "no unauthenticated byte handed out";
    return false;
  }
  return out == plain;
}

TEST(Mask, GcmBindsTheBlockToTrackTimeTypeAndFile) {
  const BlockInfo at{2, BlockType::kP, 1000, 900, 10};
  EXPECT_TRUE(unmasks_as(at, at));
  BlockInfo other = at;
  other.pts = 1001;
  EXPECT_FALSE(unmasks_as(at, other));
  other = at;
  other.dts = 901;
  EXPECT_FALSE(unmasks_as(at, other));
  other = at;
  other.type = BlockType::kI;
  EXPECT_FALSE(unmasks_as(at, other));
  // Another track or another file: another salt, so another key.
  other = at;
  other.track_id = 3;
  EXPECT_FALSE(unmasks_as(at, other, true));
  EXPECT_FALSE(unmasks_as(at, at, true));
}

TEST(Mask, EveryFlippedBitOfNonceCiphertextOrTagIsRejected) {
  const MaskKey key = key_of(4);
  TrackMask m = make_track_mask(key, MaskScheme::kAes256Gcm);
  BlockMasker masker(m, key, 1);
  const BlockInfo info{1, BlockType::kI, 0, 0, 20};
  std::vector<uint8_t> plain(24, 0x33), env(24 + kGcmOverhead), out(24);
  masker.mask(info, plain, env);
  for (size_t bit = 0; bit < env.size() * 8; ++bit) {
    auto bad = env;
    bad[bit / 8] ^= uint8_t(1u << (bit % 8));
    EXPECT_THROW(masker.unmask(info, bad, out), Error) << "bit " << bit;
  }
  masker.unmask(info, env, out);
  EXPECT_EQ(out, plain);
}

TEST(Mask, BlockMovedFromAnotherFileIsRejected) {
  // Two files of the same stream under the same key differ only in their
  // salts; a CORE chunk spliced from one into the other (CRC intact) fails.
  StreamSpec spec;
  spec.seconds = 2;
  auto blocks = make_stream(spec);
  auto a = write_masked(blocks, key_of(1)), b = write_masked(blocks, key_of(1));
  ASSERT_EQ(a.size(), b.size());
  ASSERT_NE(a, b);
  ChunkExtent video{};
  for (const auto& c : chunk_layout(a))
    if (c.tag == "CORE" && detail::load_u16(&a[c.offset + 12]) == 2) {
      video = c;
      break;
    }
  ASSERT_GT(video.end, 0u);
  std::copy(b.begin() + long(video.offset), b.begin() + long(video.end),
            a.begin() + long(video.offset));
  MemorySource src(a);
  Reader r(src);
  r.set_mask_key(key_of(1));
  Block blk;
  int rejected = 0, ok = 0;
  for (;;) {
    try {
      ReadEvent ev = r.next(blk);
      if (ev == ReadEvent::kEnd) break;
      if (ev == ReadEvent::kBlock) ++ok;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
      EXPECT_NE(std::string(e.what()).find("track 2"), std::string::npos);
      EXPECT_NE(e.offset(), kNoOffset);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(size_t(ok + rejected), blocks.size());
}

TEST(Mask, AMillionMaskedBlocksNeverRepeatANonce) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(data_track());
  w.set_mask_key(1, key_of(5));
  const uint8_t payload[4] = {1, 2, 3, 4};
  constexpr int kBlocks = 1'000'000;
  for (int i = 0; i < kBlocks; ++i)
    w.write_block({1, i % 50 ? BlockType::kP : BlockType::kI, i / 4, i / 4, 0}, payload);
  w.finish();
  auto file = sink.take();
  MemorySource src(file);
  Reader r(src);
  std::unordered_set<std::string> nonces;
  nonces.reserve(kBlocks);
  Block b;
  while (r.next(b) == ReadEvent::kBlock)
    nonces.emplace(reinterpret_cast<const char*>(b.data.data()), kGcmNonceSize);
  EXPECT_EQ(nonces.size(), size_t(kBlocks));
}

TEST(Mask, CtrRefusesARepeatedDts) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(data_track());
  w.set_mask_key(1, key_of(6), MaskScheme::kAes256Ctr);
  const uint8_t payload[4] = {1, 2, 3, 4};
  w.write_block({1, BlockType::kI, 0, 0, 0}, payload);
  try {
    w.write_block({1, BlockType::kP, 5, 0, 0}, payload);
    FAIL() << "a ctr block with a repeated dts was masked";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("strictly increasing"), std::string::npos);
  }
  w.write_block({1, BlockType::kP, 5, 1, 0}, payload);  // the writer stays usable
  w.finish();
}

TEST(Mask, RemuxWithoutTheKeyKeepsBlocksMaskedAndReadable) {
  StreamSpec spec;
  spec.seconds = 3;
  auto blocks = make_stream(spec);
  auto file = write_masked(blocks, key_of(1));
  MemorySource src(file);
  MemorySink out;
  RepairReport rep = repair(src, out);
  EXPECT_EQ(rep.blocks_kept, blocks.size());
  expect_same_tracks(read_with_key(out.bytes(), key_of(1)).blocks, blocks);
}

TEST(Mask, AMaskedTrackKeepsItsParameters) {
  MemorySink sink;
  Writer w(sink);
  Track t = data_track();
  t.mask = make_track_mask(key_of(1), MaskScheme::kAes256Gcm);
  w.add_track(t);
  try {
    w.set_mask_key(1, key_of(1));
    FAIL() << "new parameters replaced the track's";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("masked already"), std::string::npos);
  }
}

TEST(Mask, DecodeChainComesOutUnmasked) {
  auto blocks = make_stream({});
  auto file = write_masked(blocks, key_of(1));
  MemorySource src(file);
  Reader r(src);
  r.set_mask_key(key_of(1));
  auto chain = r.decode_chain(2, 90000 * 4);
  ASSERT_FALSE(chain.empty());
  auto video = of_track(blocks, 2);
  for (const ChainLink& l : chain) {
    EXPECT_FALSE(l.info.masked);
    auto it = std::find_if(video.begin(), video.end(),
                           [&](const TestBlock& b) { return b.info.pts == l.info.pts; });
    ASSERT_NE(it, video.end());
    EXPECT_EQ(l.payload, it->data);
  }
}

// --- the checked-in vector against raw OpenSSL (docs/FORMAT.md §13) ---

// Every block of a masked track is masked (FORMAT.md §13): a plain block
// injected by someone without the key (a well-formed group with a good CRC)
// is damage to the reader, with or without the key, a problem to verify, and
// never handed out; the writer refuses to make one.
TEST(Mask, APlainBlockInjectedIntoAMaskedTrackIsRefused) {
  const auto blocks = make_stream({});
  const MaskKey key = key_of(1);
  const auto good = write_masked(blocks, key);
  const auto layout = chunk_layout(good);
  uint64_t veri_at = 0;
  for (const auto& c : layout)
    if (c.tag == "VERI") veri_at = c.offset;
  ASSERT_GT(veri_at, 0u);
  // A plain I block on track 2 (gcm) after its last block.
  const std::vector<uint8_t> plain = {'f', 'o', 'r', 'g', 'e', 'd'};
  const detail::PendingBlock forged{
      {2, BlockType::kI, int64_t(1) << 40, int64_t(1) << 40, 1}, uint32_t(plain.size()), 0};
  std::vector<uint8_t> group;
  detail::encode_group(2, 0, {&forged, 1}, plain, group);
  const auto head = detail::make_chunk_header(detail::kTagCore, group);
  std::vector<uint8_t> f(good.begin(), good.begin() + long(veri_at));
  f.insert(f.end(), head.begin(), head.end());
  f.insert(f.end(), group.begin(), group.end());
  f.insert(f.end(), good.begin() + long(veri_at), good.end());

  for (bool with_key : {false, true}) {
    ReadBack r = with_key ? read_with_key(f, key) : read_all(f);
    for (const auto& b : r.blocks) EXPECT_NE(b.info.pts, int64_t(1) << 40) << "handed out";
    if (!with_key) {
      ASSERT_FALSE(r.damage.empty());
      EXPECT_EQ(r.damage[0].offset, veri_at);
      EXPECT_NE(r.damage[0].message.find("holds a plain block"), std::string::npos);
    }
  }
  MemorySource src(f);
  VerifyReport v = verify(src);
  EXPECT_TRUE(std::any_of(v.problems.begin(), v.problems.end(), [&](const Problem& p) {
    return p.offset == veri_at && p.message.find("holds a plain block") != std::string::npos;
  }));

  // The writer: a track declared with mask parameters takes no plain block.
  {
    MemorySource s2(good);
    Reader reader(s2);
    MemorySink sink;
    Writer w(sink);
    for (const auto& t : reader.tracks()) w.add_track(t);
    EXPECT_THROW(w.write_block({2, BlockType::kI, 0, 0, 1}, plain), Error);
  }
}

std::vector<uint8_t> raw_hkdf(std::span<const uint8_t> key, std::span<const uint8_t> salt,
                              const std::string& info, size_t n) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  std::vector<uint8_t> out(n);
  EXPECT_EQ(EVP_PKEY_derive_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt.data(), int(salt.size())), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, key.data(), int(key.size())), 1);
  EXPECT_EQ(EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const uint8_t*>(info.data()),
                                        int(info.size())),
            1);
  EXPECT_EQ(EVP_PKEY_derive(ctx, out.data(), &n), 1);
  EVP_PKEY_CTX_free(ctx);
  return out;
}

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    v.push_back(uint8_t(std::stoi(s.substr(i, 2), nullptr, 16)));
  return v;
}

// A block marked masked on a track without mask parameters (the multitrack
// vector's P block at pts 5) is an opaque payload: masking its track would
// pass its bytes off as an envelope of the new key, so that is refused,
// naming it; the file's other tracks mask and unmask back to its blocks.
TEST(Mask, ATrackHoldingAnOpaqueMaskedBlockIsNotMasked) {
  const std::vector<uint8_t> file = read_file(std::string(H4MK_VECTORS_DIR) + "/multitrack.h4mk");
  const MaskKey key = key_of(4);
  MemorySource src(file);
  Reader r(src);
  MemorySink out;
  try {
    mask_file(r, out, key, MaskScheme::kAes256Ctr);
    ADD_FAILURE() << "track 1 was masked around a block no key opens";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("track 1: the block at pts 5 (group at offset 587) is "
                                         "marked masked"),
              std::string::npos)
        << e.what();
  }
  const uint16_t control[] = {7};
  Reader again(src);
  MemorySink masked;
  EXPECT_EQ(mask_file(again, masked, key, MaskScheme::kAes256Gcm, {}, control).tracks,
            std::vector<uint16_t>{7});
  MemorySource masked_src(masked.bytes());
  Reader m(masked_src);
  MemorySink opened;
  unmask_file(m, opened, key);
  const auto got = read_all(opened.bytes()).blocks, want = read_all(file).blocks;
  for (uint16_t id : {1, 7}) EXPECT_EQ(of_track(got, id), of_track(want, id)) << "track " << id;
  EXPECT_EQ(got.size(), 9u);
}

TEST(MaskVector, EnvelopesAreWhatTheSpecSaysInRawOpenSSL) {
  auto file = read_file(std::string(H4MK_VECTORS_DIR) + "/masked.h4mk");
  std::vector<uint8_t> key(32);
  for (size_t i = 0; i < 32; ++i) key[i] = uint8_t(i);
  MemorySource src(file);
  Reader r(src);
  auto trak = nlohmann::json::parse(r.tracks_json());
  std::map<uint16_t, std::pair<std::string, std::vector<uint8_t>>> track_keys;
  for (const auto& t : trak["tracks"]) {
    const auto& m = t["mask"];
    const std::string scheme = m["scheme"];
    auto okm = raw_hkdf(key, unhex(m["salt"]), "h4mask-v1 " + scheme, 40);
    EXPECT_EQ(to_hex_string({okm.data() + 32, 8}), m["check"].get<std::string>());
    track_keys[t["id"].get<uint16_t>()] = {scheme, {okm.begin(), okm.begin() + 32}};
  }
  std::vector<std::string> plains;
  Block b;
  while (r.next(b) == ReadEvent::kBlock) {
    if (!b.info.masked) continue;
    auto& [scheme, k] = track_keys.at(b.info.track_id);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    std::vector<uint8_t> out(b.data.size());
    int len = 0, fin = 0;
    if (scheme == "aes-256-gcm") {
      uint8_t aad[17];
      aad[0] = uint8_t(b.info.type);
      detail::store_u64(aad + 1, uint64_t(b.info.pts));
      detail::store_u64(aad + 9, uint64_t(b.info.dts));
      const size_t n = b.data.size() - 28;
      ASSERT_EQ(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, k.data(), b.data.data()), 1);
      ASSERT_EQ(EVP_DecryptUpdate(ctx, nullptr, &len, aad, 17), 1);
      ASSERT_EQ(EVP_DecryptUpdate(ctx, out.data(), &len, b.data.data() + 12, int(n)), 1);
      ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
                                    const_cast<uint8_t*>(b.data.data() + 12 + n)),
                1);
      ASSERT_EQ(EVP_DecryptFinal_ex(ctx, out.data() + len, &fin), 1);
      out.resize(n);
    } else {
      uint8_t iv[16] = {};
      for (int i = 0; i < 8; ++i) iv[i] = uint8_t(uint64_t(b.info.dts) >> (56 - 8 * i));
      ASSERT_EQ(EVP_DecryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, k.data(), iv), 1);
      ASSERT_EQ(EVP_DecryptUpdate(ctx, out.data(), &len, b.data.data(), int(b.data.size())), 1);
    }
    EVP_CIPHER_CTX_free(ctx);
    plains.emplace_back(out.begin(), out.end());
  }
  EXPECT_EQ(plains, (std::vector<std::string>{"pan:+3", "zoom:1.5", "token block 0",
                                              "token block 1", "token block 2"}));
}

}  // namespace
}  // namespace h4mk::test
