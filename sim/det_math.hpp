// Deterministic elementary functions for the simulator's distributions, built only from IEEE
// + - * / and sqrt (which IEEE 754 requires to be correctly rounded), so every platform and
// standard library computes the same bits. libm's log/exp/cos are not used: their results
// differ in the last bits between versions. (The build also turns off FP contraction.)
#pragma once

namespace herd::sim {

// Natural logarithm of x > 0, to within a few ulps.
double det_log(double x);

}  // namespace herd::sim
