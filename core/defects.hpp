// Deliberate defects, for proving that `herd sweep` finds bugs. Compiled in only with the
// HERD_DEFECTS definition (a test build of core and sim, tests/sweep); in every other build
// defect() is a constant false and the compiler removes the code it guards.
#pragma once

namespace herd {

enum class Defect {
    none,
    // A server whose store is empty neither starts nor answers anti-entropy, as if a restarted
    // server skipped it: what it missed while down never comes back.
    sync_skipped_when_empty,
    // A server does not relay a peer's flood to its first neighbour (in herd-file order): the
    // herd relies on the other paths, and a cut on one of them loses updates until a link-up.
    relay_skips_first_neighbour,
    // A server whose clock is behind a client's time counts the difference twice (as if its
    // clock offset were applied twice): a negative skew comes out doubled.
    skew_doubled_when_behind,
    // Servers whose name hashes odd keep the first record of a tie even under `tiebreak
    // convergent`: two servers resolve a tie differently, and the herd stays split.
    tie_rule_ignored_on_some_servers,
    // The Node's bound on its armed timers forgets flood batching's flush timers (a real bug,
    // found by a hostile tester): with batching on, a neighbour that relinks while its redial
    // waits makes the server stop on a failed assertion.
    timer_bound_forgets_flushes,
};

#ifdef HERD_DEFECTS
inline Defect& active_defect() {
    static Defect defect = Defect::none;
    return defect;
}
inline bool defect(Defect d) {
    return active_defect() == d;
}
#else
constexpr bool defect(Defect) {
    return false;
}
#endif

}  // namespace herd
