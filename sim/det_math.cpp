#include "sim/det_math.hpp"

#include "core/assert.hpp"

namespace herd::sim {

double det_log(double x) {
    HERD_ASSERT(x > 0);
    constexpr double ln2 = 0.693147180559945309417232121458176568;
    constexpr double sqrt2 = 1.41421356237309504880168872420969808;
    // x = m * 2^e with m in [sqrt(1/2), sqrt(2)): multiplying by 2 is exact.
    int e = 0;
    while (x >= sqrt2) {
        x *= 0.5;
        ++e;
    }
    while (x < sqrt2 / 2) {
        x *= 2;
        --e;
    }
    // ln(m) = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: the series converges fast.
    const double s = (x - 1) / (x + 1);
    const double s2 = s * s;
    double term = s;
    double sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2 * sum + e * ln2;
}

}  // namespace herd::sim
