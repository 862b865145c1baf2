// Times from one time base to another in 128-bit arithmetic, rounded as the
// caller needs and saturated to int64: the one place each rounding is
// written. Time bases have positive terms of at most 2^32, so a timestamp
// below 2^63 times two of them fits in 127 bits.
#pragma once

#include <cstdint>

#include "h4mk/track.hpp"

namespace h4mk::detail {

__extension__ using Int128 = __int128;

enum class Round {
  kDown,        // toward -infinity
  kUp,          // toward +infinity
  kTowardZero,  // as C's division
  kNearest,     // halves up
};

inline int64_t saturate(Int128 v) {
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : int64_t(v);
}

// num / den for den > 0, rounded as asked.
inline Int128 divide(Int128 num, Int128 den, Round r) {
  Int128 q = num / den;
  if (r == Round::kTowardZero) return q;
  const Int128 rem = num - q * den;  // the sign of num (a second division costs more)
  if (rem == 0) return q;
  if (rem < 0) --q;  // now q = floor(num / den)
  if (r == Round::kDown) return q;
  if (r == Round::kUp) return q + 1;
  const Int128 above = rem < 0 ? rem + den : rem;  // num - q · den, in [0, den)
  return 2 * above >= den ? q + 1 : q;
}

// t ticks of `from` in ticks of `to`.
inline int64_t rescale(Int128 t, Rational from, Rational to, Round r) {
  return saturate(divide(t * from.num * to.den, Int128(from.den) * to.num, r));
}

constexpr Rational kMicroseconds{1, 1'000'000};

}  // namespace h4mk::detail
