// Verified reading (docs/FORMAT.md §8.2) of hostile variations of the signed
// test vector, with the vector's public key: nothing may crash, and every
// block a verifying reader hands out, after any seek, must be the signed
// file's own block at that place. verify() with the key must fail unless
// the blocks are the signed file's.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "../tests/vector_signing_key.hpp"
#include "h4mk/h4mk.hpp"

namespace {

using Blocks = std::map<std::pair<uint64_t, uint32_t>, std::vector<uint8_t>>;

// The signed vector's blocks by (chunk offset, index in group), with their
// track and timing folded into the bytes compared.
std::vector<uint8_t> key_of(const h4mk::Block& b) {
  std::vector<uint8_t> v(b.data.begin(), b.data.end());
  const int64_t f[] = {b.info.track_id, b.info.pts, b.info.dts, b.info.duration,
                       int64_t(b.info.type)};
  const auto* p = reinterpret_cast<const uint8_t*>(f);
  v.insert(v.end(), p, p + sizeof f);
  return v;
}

const Blocks& signed_blocks() {
  static const Blocks blocks = [] {
    std::ifstream in(H4MK_SIGNED_VECTOR, std::ios::binary);
    std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), {});
    h4mk::MemorySource src(file);
    h4mk::Reader r(src);
    Blocks out;
    h4mk::Block b;
    for (h4mk::ReadEvent ev; (ev = r.next(b)) != h4mk::ReadEvent::kEnd;)
      if (ev == h4mk::ReadEvent::kBlock) out[{b.chunk_offset, b.index_in_group}] = key_of(b);
    if (out.empty()) std::abort();
    return out;
  }();
  return blocks;
}

void check(const h4mk::Block& b) {
  auto it = signed_blocks().find({b.chunk_offset, b.index_in_group});
  if (it == signed_blocks().end() || it->second != key_of(b)) {
    std::fprintf(stderr, "a verified block is not the signed file's (chunk %llu, block %u)\n",
                 (unsigned long long)b.chunk_offset, b.index_in_group);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  static const std::string pem = h4mk::test::vector_signing_pem(false);
  (void)signed_blocks();
  ReaderOptions o;
  o.public_key_pem = pem;
  try {
    MemorySource src({data, size});
    Reader r(src, o);
    Block b;
    for (int pass = 0; pass < 3; ++pass) {
      try {
        if (pass == 1) r.seek_all(1, 5000);
        if (pass == 2) r.seek_all(1, 1000);
        for (size_t n = 0; n < 2000; ++n) {
          const ReadEvent ev = r.next(b);
          if (ev == ReadEvent::kEnd) break;
          if (ev == ReadEvent::kBlock) check(b);
        }
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kInternal) std::abort();
      }
    }
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInternal) std::abort();
  }
  // The whole file: a report that the signature holds means the blocks are
  // the signed file's, every one.
  MemorySource vsrc({data, size});
  VerifyOptions vo;
  vo.public_key_pem = pem;
  const VerifyReport rep = verify(vsrc, vo);
  if (rep.signature_ok) {
    MemorySource src({data, size});
    Reader r(src);
    Block b;
    size_t n = 0;
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;)
      if (ev == ReadEvent::kBlock) check(b), ++n;
    if (n != signed_blocks().size()) std::abort();
  }
  return 0;
}
