// The built-in example: writes a small multi-track H4MK file, verifies it,
// seeks, prints a decode chain, then cuts the file and recovers it.
#include <cstdio>
#include <string>
#include <vector>

#include "demo_content.hpp"
#include "h4mk/h4mk.hpp"

using namespace h4mk;

namespace {

void write_demo(const std::string& path) {
  FileSink sink(path);
  demo::DemoStats s = demo::write_demo(sink);
  sink.close();
  std::printf("wrote %s: %llu blocks, %llu bytes\n", path.c_str(), (unsigned long long)s.blocks,
              (unsigned long long)s.bytes);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "demo.h4mk";
  try {
    write_demo(path);

    FileSource src(path);
    VerifyReport v = verify(src);
    std::printf("verify: %s (%llu chunks, %llu blocks, VERI %s, container CRC %s)\n",
                v.ok() ? "OK" : "FAILED", (unsigned long long)v.chunks,
                (unsigned long long)v.blocks, v.veri_ok ? "ok" : "bad",
                v.container_crc_ok ? "ok" : "bad");

    Reader r(src);
    std::printf("opened with %llu bytes read; tracks:\n", (unsigned long long)r.bytes_read());
    for (const Track& t : r.tracks()) {
      auto s = r.summary(t.id);
      std::printf("  #%u %s %s time_base %lld/%lld, %llu blocks, %lld..%lld\n", t.id,
                  track_kind_name(t.kind), t.codec.c_str(), (long long)t.time_base.num,
                  (long long)t.time_base.den, (unsigned long long)s->block_count,
                  (long long)s->start_pts, (long long)s->end_pts);
    }
    SeekPoint p = r.seek(2, 100);
    std::printf("seek video to pts 100: I block pts %lld in the group at offset %llu\n",
                (long long)p.pts, (unsigned long long)p.chunk_offset);
    std::printf("decode chain for video pts 101:");
    for (const ChainLink& l : r.decode_chain(2, 101))
      std::printf(" %s%lld", block_type_name(l.info.type), (long long)l.info.pts);
    std::printf("\n");

    // A crashed writer: the file cut at 60 %. Every complete group comes back.
    auto bytes = std::vector<uint8_t>();
    {
      std::FILE* f = std::fopen(path.c_str(), "rb");
      for (int c; (c = std::fgetc(f)) != EOF;) bytes.push_back(uint8_t(c));
      std::fclose(f);
    }
    bytes.resize(bytes.size() * 6 / 10);
    MemorySource cut(bytes);
    MemorySink fixed;
    RepairReport rep = repair(cut, fixed);
    std::printf("cut at %zu bytes: %llu blocks recovered; %s\n", bytes.size(),
                (unsigned long long)rep.blocks_kept,
                rep.damage.empty() ? "no damage" : rep.damage[0].message.c_str());
    MemorySource repaired(fixed.bytes());
    std::printf("repaired file verifies: %s\n", verify(repaired).ok() ? "OK" : "FAILED");
    return v.ok() ? 0 : 1;
  } catch (const Error& e) {
    std::fprintf(stderr, "h4mk_demo: %s\n", e.what());
    return 1;
  }
}
