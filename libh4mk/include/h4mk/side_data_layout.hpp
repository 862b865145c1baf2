// The registered side data of docs/FORMAT.md §6.1: every id's layout, its
// check, and its conversion between bytes and typed values. FFmpeg's glue,
// the command line and Python all read the layouts through here, so the
// format's rules are written once.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

enum class SideDataFieldType : uint8_t {
  kU8,
  kU16,
  kU32,
  kU64,  // a u64 value is carried as the int64_t of the same bits
  kI16,
  kI32,
  kI64,
  kRational,      // i32 num, i32 den: two values
  kBits,          // `count` bits of a big-endian bit field run
  kReserved,      // `count` bytes written 0, ignored: no value
  kReservedBits,  // `count` bits of a bit field run written 0, ignored: no value
};

struct SideDataField {
  std::string_view name;
  SideDataFieldType type;
  uint16_t count = 1;                              // array length; kBits, kReserved*: the width
  bool big_endian = false;                         // kU16/kU32: as the ISO BMFF box has it
  std::span<const std::string_view> symbols = {};  // an enumeration: the value indexes it
  uint32_t scale = 0;                              // the value is in units of 1/scale (mdcv)
  int64_t fixed = -1;                              // ≥ 0: the only value that fits
};

enum class SideDataKind : uint8_t {
  kBytes,        // opaque to the format: checked by size only (or not at all)
  kFields,       // `fields`, then any number of `entry` records
  kParamChange,  // u32 flags naming the fields that follow
  kT35,          // an ITU-T T.35 payload: the program that knows the standard parses it
};

struct SideDataLayout {
  std::string_view id;
  SideDataKind kind;
  std::span<const SideDataField> fields = {};
  std::span<const SideDataField> entry = {};
  int count_field = -1;   // the value of `fields` that gives the entries, -1: from the size
  uint32_t size = 0;      // kBytes: the exact size (0: any)
  uint32_t multiple = 0;  // kBytes: a multiple of this
  uint32_t min = 0;       // kBytes: at least this
};

// Every registered id, in §6.1's order.
std::span<const SideDataLayout> side_data_layouts() noexcept;

// The layout of a registered id, or nullptr.
const SideDataLayout* find_side_data_layout(std::string_view id) noexcept;

// Values one field takes among a layout's values (a rational two, a
// reserved field none), and the bytes of an integer of a type (kU8 .. kI64).
size_t side_data_field_values(const SideDataField& field) noexcept;
size_t side_data_unit_bytes(SideDataFieldType type) noexcept;

// Values a kFields layout has before its entries, and per entry.
size_t side_data_header_values(const SideDataLayout& layout) noexcept;
size_t side_data_entry_values(const SideDataLayout& layout) noexcept;

// Throws Error(kCorrupt) naming the id, what does not fit and at which byte,
// unless the bytes fit the id's layout.
void check_side_data(const SideDataLayout& layout, std::span<const uint8_t> bytes);

// A kFields layout's values, header first, then each entry's (a rational
// is two values, a reserved field none). Throws as check_side_data does.
std::vector<int64_t> read_side_data_values(const SideDataLayout& layout,
                                           std::span<const uint8_t> bytes);

// The bytes of a kFields layout's values. Throws Error(kInvalidArgument)
// naming the field whose value its type, enumeration or count cannot hold.
std::vector<uint8_t> write_side_data_values(const SideDataLayout& layout,
                                            std::span<const int64_t> values);

// A kFields layout's bytes as a JSON object by field name, for people and
// scripts: arrays as lists, rationals as [num, den], enumerations by their
// symbol, entries under "entries". Throws as check_side_data does.
std::string side_data_values_json(const SideDataLayout& layout, std::span<const uint8_t> bytes);

}  // namespace h4mk
H4MK_CXX_API_END
