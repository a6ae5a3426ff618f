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

    // The realistic bugs of the mutation score (`make mutation`): each one a mistake a careful
    // programmer could make in the place it names, kept behind its switch.
    // Conflict rule: a fast path compares two client times written with the same number of
    // characters as text, so 9.75 beats 10.5.
    time_text_fast_path,
    // Conflict rule: under `tiebreak convergent`, two records of one time and position from two
    // origins are a tie kept as it is (each server keeps the one it had).
    convergent_tie_ignores_origin,
    // Relay: the neighbour left out of a flood is found by the source's position among the
    // linked neighbours, not among all of them: with a link down, the wrong one is skipped.
    relay_by_linked_position,
    // Anti-entropy paging: a walk through a bucket resumes one record late, so each page after
    // the first skips a record.
    paging_resumes_late,
    // Anti-entropy digests: buckets are compared by their record counts only, so the same
    // clients with other positions on the two sides look alike.
    digest_compares_counts_only,
    // Anti-entropy: a link that replaces an older one to the same neighbour starts no exchange.
    sync_not_started_on_replacement_link,
    // Handshake: a dial refused or closed in the handshake is not retried.
    no_redial_after_refused_handshake,
    // Redial: a dial that failed (nobody answered) is not retried; only the peer's own dial
    // can bring the link back.
    no_redial_after_dial_failed,
    // Redial: the backoff is never reset after a link comes up, so every outage waits longer.
    backoff_never_reset,
    // Timers: flood batching arms the flush timer only when a batch fills, so a lone update
    // waits for the next one.
    flood_batch_timer_not_armed,
    // Timers: the heartbeat goes out only after the silence timeout, so a quiet link closes.
    heartbeat_late,
    // Limits: a peer's lines are capped at 32 KiB (a buffer constant), below the record limit:
    // a long client ID is stored where it arrived and refused by every peer.
    peer_lines_capped_at_32k,
    // Client times: a fraction of fewer than nine digits is not scaled (`.5` read as 5 ns).
    fraction_not_scaled,
    // Skew: a negative skew under one second is written with a `+` (its sign taken from the
    // whole seconds).
    skew_sign_lost_below_one_second,
    // Client times: a time with a leading zero is refused as malformed.
    leading_zero_refused,
    // Conflict rule: times are compared in whole seconds, so two reports within one second are
    // a tie (the first kept).
    time_compared_in_seconds,
    // Anti-entropy: the walk is not resumed when the link's output drains, so only the first
    // page of a transfer goes out.
    sync_not_resumed_on_drain,
    // Reads (issue 29): WHATSAT looks its client up as an ordered index's lower bound without
    // the equality check: for a client this server does not know yet, it answers with the
    // record of the client whose ID sorts next (w1 -> w10). The stores stay right; only a
    // client's history shows it (an impossible read: another client's record).
    whatsat_lookup_lower_bound,
    // Reads (issue 29): WHATSAT answers from a reply cache of the last AT line a peer sent for
    // each client, refreshed before the conflict rule decides: a peer's older record, which
    // the store rightly refuses, still replaces the cached line, and a client's reads at this
    // server go back in time. The stores stay right.
    whatsat_cache_refreshed_before_conflict_rule,
};

#ifdef HERD_DEFECTS
inline Defect& active_defect() {
    thread_local Defect defect = Defect::none;  // per thread: a runner sweeps several at once
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
