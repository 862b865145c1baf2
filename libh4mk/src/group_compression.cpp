#include "group_compression.hpp"

#include <zdict.h>
#include <zstd.h>

#include <map>
#include <string>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/compression.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

namespace {

[[noreturn]] void corrupt(const char* tag, uint64_t chunk_offset, const std::string& what) {
  throw Error(ErrorCode::kCorrupt,
              std::string(tag) + " chunk at offset " + std::to_string(chunk_offset) + ": " + what,
              chunk_offset);
}

}  // namespace

DictChunk decode_dict_chunk(std::span<const uint8_t> payload, uint64_t chunk_offset) {
  if (payload.size() <= kDictHeaderSize)
    corrupt("DICT", chunk_offset,
            "payload of " + std::to_string(payload.size()) +
                " bytes holds no dictionary after its 4-byte header");
  const uint16_t track = load_u16(payload.data());
  if (track == 0) corrupt("DICT", chunk_offset, "track_id 0 is invalid");
  const auto dictionary = payload.subspan(kDictHeaderSize);
  if (dictionary.size() > kMaxDictionaryBytes)
    throw Error(ErrorCode::kLimitExceeded,
                "DICT chunk at offset " + std::to_string(chunk_offset) + ": a dictionary of " +
                    std::to_string(dictionary.size()) + " bytes exceeds the limit of " +
                    std::to_string(kMaxDictionaryBytes),
                chunk_offset);
  return {track, dictionary};
}

std::vector<uint8_t> encode_dict_chunk(uint16_t track_id, std::span<const uint8_t> dictionary) {
  std::vector<uint8_t> p(kDictHeaderSize + dictionary.size());
  store_u16(p.data(), track_id);
  std::copy(dictionary.begin(), dictionary.end(), p.begin() + kDictHeaderSize);
  return p;
}

// --- expanding ---

struct GroupExpander::Impl {
  // Made at the first compressed group: creating one is a quarter of
  // opening a file without compression.
  ZSTD_DCtx* dctx = nullptr;
  std::map<uint16_t, ZSTD_DDict*> ddicts;
  std::vector<uint8_t> buf;
  ~Impl() {
    ZSTD_freeDCtx(dctx);
    for (auto& [id, d] : ddicts) ZSTD_freeDDict(d);
  }
};

GroupExpander::GroupExpander(const ReaderLimits& limits)
    : impl_(std::make_unique<Impl>()), limits_(limits) {}
GroupExpander::~GroupExpander() = default;

void GroupExpander::set_dictionary(uint16_t track_id, std::span<const uint8_t> dictionary) {
  ZSTD_DDict* d = ZSTD_createDDict(dictionary.data(), dictionary.size());
  if (!d) throw std::bad_alloc();
  auto [it, fresh] = impl_->ddicts.emplace(track_id, d);
  if (!fresh) {
    ZSTD_freeDDict(it->second);
    it->second = d;
  }
}

bool GroupExpander::has_dictionary(uint16_t track_id) const {
  return impl_->ddicts.count(track_id) != 0;
}

std::span<const uint8_t> GroupExpander::expand(std::span<const uint8_t> payload,
                                               const GroupHeader& header, bool compressed_track,
                                               uint64_t chunk_offset) {
  if (!(header.flags & kGroupCompressed)) return payload;
  auto bad = [&](const std::string& what) { corrupt("CORE", chunk_offset, what); };
  const std::string track = "track " + std::to_string(header.track_id);
  if (!compressed_track)
    bad("the group is compressed, but " + track + " does not declare compression in TRAK");
  if (payload.size() <= kCompressedPrefix)
    bad("a compressed group of " + std::to_string(payload.size()) +
        " bytes holds no zstd frame after its header");
  const auto frame = payload.subspan(kCompressedPrefix);
  // The frame's header gives the records' size; both bounds are checked on
  // it before anything is allocated or decompressed.
  if (ZSTD_findFrameCompressedSize(frame.data(), frame.size()) != frame.size())
    bad("the bytes after the group header are not exactly one zstd frame");
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN || declared == ZSTD_CONTENTSIZE_ERROR)
    bad("the zstd frame does not declare its content size");
  if (declared == 0) bad("the zstd frame declares 0 bytes of records");
  if (declared > kMaxExpansion * frame.size())
    bad("the zstd frame declares " + std::to_string(declared) + " bytes of records, more than " +
        std::to_string(kMaxExpansion) + " times its " + std::to_string(frame.size()) +
        " bytes (FORMAT.md §5.7)");
  if (declared + kGroupHeaderSize > limits_.max_core_chunk)
    throw Error(ErrorCode::kLimitExceeded,
                "CORE chunk at offset " + std::to_string(chunk_offset) + ": " +
                    std::to_string(declared) + " bytes of records exceed the reader limit of " +
                    std::to_string(limits_.max_core_chunk) + " bytes per group",
                chunk_offset);
  const size_t records = size_t(declared);
  ZSTD_DDict* dict = nullptr;
  if (header.flags & kGroupDictionary) {
    auto it = impl_->ddicts.find(header.track_id);
    if (it == impl_->ddicts.end())
      bad("the group was compressed with " + track +
          "'s dictionary, and the file has no DICT chunk for it");
    dict = it->second;
  }
  if (!impl_->dctx && !(impl_->dctx = ZSTD_createDCtx())) throw std::bad_alloc();
  std::vector<uint8_t>& buf = impl_->buf;
  buf.resize(kGroupHeaderSize + size_t(records));
  std::copy_n(payload.data(), kGroupHeaderSize, buf.data());
  buf[2] = uint8_t(header.flags & ~(kGroupCompressed | kGroupDictionary));
  const size_t got = dict ? ZSTD_decompress_usingDDict(impl_->dctx, buf.data() + kGroupHeaderSize,
                                                       records, frame.data(), frame.size(), dict)
                          : ZSTD_decompressDCtx(impl_->dctx, buf.data() + kGroupHeaderSize, records,
                                                frame.data(), frame.size());
  if (ZSTD_isError(got))
    bad(std::string("the zstd frame does not decompress: ") + ZSTD_getErrorName(got));
  if (got != records)
    bad("the zstd frame holds " + std::to_string(got) + " bytes, not " + std::to_string(records));
  return buf;
}

// --- compressing ---

struct GroupCompressor::Impl {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CDict* cdict = nullptr;
  ~Impl() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeCDict(cdict);
  }
};

GroupCompressor::GroupCompressor(const TrackCompression& c) : impl_(std::make_unique<Impl>()) {
  ZSTD_CCtx* cctx = impl_->cctx;
  if (!cctx) throw std::bad_alloc();
  // The frame names its content size (readers require it), and neither a
  // checksum (the chunk's CRC covers it) nor a dictionary id (the track's
  // DICT chunk is the dictionary): a group of tokens is a few hundred bytes.
  auto set = [&](ZSTD_cParameter p, int v) {
    const size_t r = ZSTD_CCtx_setParameter(cctx, p, v);
    if (ZSTD_isError(r))
      throw Error(ErrorCode::kInvalidArgument, std::string("zstd: ") + ZSTD_getErrorName(r));
  };
  set(ZSTD_c_compressionLevel, c.level);
  set(ZSTD_c_contentSizeFlag, 1);
  set(ZSTD_c_checksumFlag, 0);
  set(ZSTD_c_dictIDFlag, 0);
  if (!c.dictionary.empty()) {
    impl_->cdict = ZSTD_createCDict(c.dictionary.data(), c.dictionary.size(), c.level);
    if (!impl_->cdict) throw std::bad_alloc();
    ZSTD_CCtx_refCDict(cctx, impl_->cdict);
  }
}
GroupCompressor::~GroupCompressor() = default;

bool GroupCompressor::compress(std::span<const uint8_t> chunk, std::vector<uint8_t>& out) {
  const auto group = chunk.subspan(kChunkHeaderSize);
  const auto records = group.subspan(kGroupHeaderSize);
  // Worth trying only if the frame can come out smaller than the records.
  if (records.size() <= 9) return false;
  const size_t bound = ZSTD_compressBound(records.size());
  out.resize(kChunkHeaderSize + kCompressedPrefix + bound);
  uint8_t* frame = out.data() + kChunkHeaderSize + kCompressedPrefix;
  const size_t n = ZSTD_compress2(impl_->cctx, frame, bound, records.data(), records.size());
  if (ZSTD_isError(n))
    throw Error(ErrorCode::kIo, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  if (n >= records.size() || records.size() > kMaxExpansion * n) return false;
  out.resize(kChunkHeaderSize + kCompressedPrefix + n);
  std::copy_n(group.data(), kGroupHeaderSize, out.data() + kChunkHeaderSize);
  out[kChunkHeaderSize + 2] |= uint8_t(kGroupCompressed | (impl_->cdict ? kGroupDictionary : 0));
  return true;
}

}  // namespace h4mk::detail

namespace h4mk {

std::vector<uint8_t> train_dictionary(const std::vector<std::vector<uint8_t>>& samples,
                                      size_t capacity) {
  if (capacity < 256 || capacity > kMaxDictionaryBytes)
    throw Error(ErrorCode::kInvalidArgument,
                "dictionary size " + std::to_string(capacity) + " is not 256 B..1 MiB");
  std::vector<uint8_t> joined;
  std::vector<size_t> sizes;
  for (const auto& s : samples) {
    if (s.empty()) continue;
    joined.insert(joined.end(), s.begin(), s.end());
    sizes.push_back(s.size());
  }
  std::vector<uint8_t> dict(capacity);
  const size_t n = sizes.empty() ? 0
                                 : ZDICT_trainFromBuffer(dict.data(), dict.size(), joined.data(),
                                                         sizes.data(), unsigned(sizes.size()));
  if (sizes.empty() || ZDICT_isError(n)) return {};
  dict.resize(n);
  // Kept only when it saves more on the samples (as groups compressed
  // alone, at level 3) than the DICT chunk costs.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CDict* cdict = ZSTD_createCDict(dict.data(), dict.size(), 3);
  if (!cctx || !cdict) {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeCDict(cdict);
    throw std::bad_alloc();
  }
  uint64_t plain = 0, with = 0;
  std::vector<uint8_t> out;
  for (const auto& s : samples) {
    if (s.empty()) continue;
    out.resize(ZSTD_compressBound(s.size()));
    const size_t a = ZSTD_compressCCtx(cctx, out.data(), out.size(), s.data(), s.size(), 3);
    const size_t b =
        ZSTD_compress_usingCDict(cctx, out.data(), out.size(), s.data(), s.size(), cdict);
    plain += ZSTD_isError(a) ? s.size() : std::min(a, s.size());
    with += ZSTD_isError(b) ? s.size() : std::min(b, s.size());
  }
  ZSTD_freeCCtx(cctx);
  ZSTD_freeCDict(cdict);
  if (with + detail::kDictHeaderSize + 12 + dict.size() >= plain) return {};
  return dict;
}

}  // namespace h4mk
