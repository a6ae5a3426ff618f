// `herd check`: a client history (history.hpp) checked for what a client of an eventually
// consistent herd may see and what it must not. Per client session (process), like Elle:
//   monotonic-reads   a session reads a client's record older than one it read before;
//   read-your-writes  a session reads a client's record older than one it wrote (and was
//                     acknowledged) before: the herd does not promise it across servers, so
//                     this is a count of windows, not a bug by itself;
//   lost-write        a read at a server, invoked past the settle time after a record of its
//                     client was acknowledged, shows an older record (or none), with no newer
//                     one: the record was missing there (reported once per server and record);
//   impossible-read   a read returns a record no client sent, or another client's, or one that
//                     differs from the AT line its origin acknowledged it with, or it completed
//                     before the record's IAMAT was sent; or an IAMAT is acknowledged with a
//                     record that is not its request's; or a WHATSAT is answered neither with a
//                     record nor with `?`.
// A WHATSAT that is no valid request, or that got no reply, observed nothing: it is not a read.
// Each is reported with its minimal witness (the two operations, their servers and times). And
// a summary of stale reads: reads that returned older than the newest record acknowledged
// before they were invoked, and by how long. Two passes over the history (the first learns
// which records were sent and acknowledged, since a read may complete before the IAMAT of its
// record does), O(n log n), one copy of each operation that a witness may need.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "history/history.hpp"

namespace herd::history {

enum class AnomalyKind { monotonic_reads, read_your_writes, lost_write, impossible_read };
const char* anomaly_name(AnomalyKind kind);
// The kind a name (as anomaly_name spells it) stands for.
std::optional<AnomalyKind> anomaly_kind(std::string_view name);

// An operation as a witness names it: where it is in the file, and the operation.
struct Witness {
    std::size_t line_number = 0;
    std::shared_ptr<const Operation> op;
};

struct Anomaly {
    AnomalyKind kind;
    std::string what;                // one line: what went wrong
    std::vector<Witness> witnesses;  // the earlier operation first
};

struct CheckOptions {
    std::int64_t settle_ns = 1'000'000'000;  // lost-write: reads this long after the ack count
    std::size_t anomalies_shown_max = 20;    // of each kind (all are counted)
};

struct CheckResult {
    std::size_t operations = 0, iamats = 0, whatsats = 0, processes = 0, servers = 0;
    std::size_t reads = 0;  // WHATSATs that observed something (valid, and answered)
    std::map<AnomalyKind, std::size_t> counts;
    std::vector<Anomaly> anomalies;      // the first anomalies_shown_max of each kind
    std::vector<std::int64_t> stale_ns;  // how stale each stale read was, sorted
    std::size_t anomaly_total() const;
};

// The checker, fed as a run goes (the simulator's `expect sessions`): each IAMAT as it is sent
// (a read of its record may complete before the IAMAT does), then every operation as it
// completes, in order of completion.
class HistoryChecker {
  public:
    explicit HistoryChecker(CheckOptions options = {});
    ~HistoryChecker();
    HistoryChecker(const HistoryChecker&) = delete;
    HistoryChecker& operator=(const HistoryChecker&) = delete;

    void sent(const Operation& iamat);
    void add(Operation op, std::size_t line_number);
    const CheckResult& so_far() const;  // counts and witnesses (not yet the sorted summary)
    CheckResult finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads and checks a whole history (twice: `in` must be seekable, a file); an Error (exit 2)
// names `name:line:` of a malformed line (see parse_operation; lines out of completion order, a
// session's operations overlapping), or says the file could not be read.
Result<CheckResult> check_history(std::istream& in, const std::string& name,
                                  const CheckOptions& options = {});
// What `herd check` prints.
std::string format_check(const CheckResult& r, const std::string& name);

}  // namespace herd::history
