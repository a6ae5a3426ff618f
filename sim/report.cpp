#include "sim/report.hpp"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>

#include "core/peer_protocol.hpp"
#include "core/text.hpp"
#include "sim/checker.hpp"
#include "sim/visibility.hpp"

namespace herd::sim {

Percentiles percentiles(const std::vector<std::int64_t>& sorted) {
    Percentiles p;
    p.count = sorted.size();
    if (sorted.empty()) return p;
    auto rank = [&](std::uint64_t per_100k) {
        return sorted[nearest_rank_of(p.count, per_100k) - 1];
    };
    p.p50 = rank(50'000);
    p.p90 = rank(90'000);
    p.p99 = rank(99'000);
    p.max = sorted.back();
    return p;
}

Percentiles percentiles(const Samples& samples) {
    Percentiles p;
    p.count = samples.size();
    if (samples.empty()) return p;
    p.p50 = samples.nearest_rank(50'000);
    p.p90 = samples.nearest_rank(90'000);
    p.p99 = samples.nearest_rank(99'000);
    p.max = samples.never_count() > 0 ? Samples::never : samples.max_finite();
    return p;
}

std::string format_latency(std::int64_t ns) {
    std::string out;
    auto fixed = [&out](std::int64_t value, std::int64_t unit, const char* suffix) {
        append_decimal(out, static_cast<std::uint64_t>(value / unit));
        out += '.';
        append_padded(out, static_cast<std::uint64_t>((value % unit) * 1000 / unit), 3);
        out += suffix;
    };
    if (ns < 0) {
        out += '-';
        ns = -ns;
    }
    if (ns < 1'000) {
        append_decimal(out, static_cast<std::uint64_t>(ns));
        out += "ns";
    } else if (ns < 1'000'000) {
        fixed(ns, 1'000, "us");
    } else if (ns < 1'000'000'000) {
        fixed(ns, 1'000'000, "ms");
    } else {
        fixed(ns, 1'000'000'000, "s");
    }
    return out;
}

namespace {

// Right-aligned in `width` columns; a cell after the first is always apart from the one before.
std::string cell(std::string text, std::size_t width, bool first = false) {
    if (text.size() < width)
        text.insert(0, width - text.size(), ' ');
    else if (!first)
        text.insert(0, 1, ' ');
    return text;
}

}  // namespace

std::string ratio(std::uint64_t a, std::uint64_t b) {
    if (b == 0) return "n/a";
    // Two decimals, rounded, integer arithmetic only.
    const std::uint64_t hundredths = (a * 100 + b / 2) / b;
    std::string out;
    append_decimal(out, hundredths / 100);
    out += '.';
    append_padded(out, hundredths % 100, 2);
    return out;
}

void print_hop_table(std::ostream& out, const std::map<int, Samples>& by_hops) {
    std::size_t samples = 0;
    for (const auto& [hops, v] : by_hops)
        samples += v.size();
    if (samples == 0) {
        out << "  (no update reached another server without meeting a fault)\n";
        return;
    }
    out << "  hops        n        p50        p90        p99        max\n";
    auto row = [&](const std::string& label, const Samples& samples) {
        const Percentiles p = percentiles(samples);
        out << cell(label, 6, true) << cell(std::to_string(p.count), 9)
            << cell(format_latency(p.p50), 11) << cell(format_latency(p.p90), 11)
            << cell(format_latency(p.p99), 11) << cell(format_latency(p.max), 11) << "\n";
    };
    for (const auto& [hops, samples] : by_hops)
        row(hops < 0 ? "?" : std::to_string(hops), samples);
    row("all", merged(by_hops));
}

std::string hop_table_json(const std::map<int, Samples>& by_hops) {
    std::string out = "[";
    for (const auto& [hops, samples] : by_hops) {
        const Percentiles p = percentiles(samples);
        if (out.size() > 1) out += ", ";
        out += "{\"hops\": " + std::to_string(hops) + ", \"count\": " + std::to_string(p.count) +
               ", \"p50_ns\": " + std::to_string(p.p50) + ", \"p90_ns\": " + std::to_string(p.p90) +
               ", \"p99_ns\": " + std::to_string(p.p99) + ", \"max_ns\": " + std::to_string(p.max) +
               "}";
    }
    return out + "]";
}

std::string format_window(std::int64_t ns) {
    return ns == INT64_MAX ? "never" : format_latency(ns);
}

Samples merged(const std::map<int, Samples>& by_hops) {
    Samples all;
    for (const auto& [hops, samples] : by_hops)
        all.add(samples);
    all.seal();
    return all;
}

void print_visibility(std::ostream& out, const std::map<int, Samples>& by_hops,
                      const Samples& across_faults) {
    auto row = [&](const std::string& label, const Samples& windows) {
        out << cell(label, 6, true) << cell(std::to_string(windows.size()), 9)
            << cell(format_window(windows.nearest_rank(50'000)), 11)
            << cell(format_window(windows.nearest_rank(99'000)), 11)
            << cell(format_window(windows.nearest_rank(99'900)), 11)
            << cell(std::to_string(windows.never_count()), 7) << "\n";
    };
    const Samples all = merged(by_hops);
    out << "t-visibility (write -> a read at another server returns it or newer): ";
    if (all.empty() && across_faults.empty()) {
        out << "no pairs\n";
        return;
    }
    const std::uint64_t pairs = all.size() + across_faults.size();
    out << pairs << (pairs == 1 ? " pair\n" : " pairs\n");
    out << "  hops    pairs        50%        99%      99.9%  never\n";
    for (const auto& [hops, windows] : by_hops)
        row(hops < 0 ? "?" : std::to_string(hops), windows);
    if (!all.empty()) row("all", all);
    if (!across_faults.empty()) row("faults", across_faults);
}

void print_report(std::ostream& out, const Scenario& sc, const SimResult& r,
                  const std::string& command, const std::string& tool) {
    out << tool << " " << sc.file << ": herd " << sc.herd_description << " ("
        << sc.herd.servers.size() << " servers, " << sc.herd.links.size() << " links), seed "
        << sc.seed << ", until " << format_duration(Duration{r.end.ns}) << "\n";
    std::size_t passed = 0;
    for (const ExpectationResult& e : r.expectations) {
        out << (e.pass ? "PASS " : "FAIL ") << sc.file << ":" << e.line << " at "
            << format_duration(Duration{e.at.ns}) << "  " << e.text;
        if (!e.pass) out << "\n     found: " << e.found;
        if (e.pass && e.late.ns > 0) out << "  (held " << format_latency(e.late.ns) << " late)";
        out << "\n";
        passed += e.pass;
    }
    for (const Violation& v : r.violations) {
        out << "FAIL invariant at " << format_duration(Duration{v.at.ns}) << ": " << v.what << "\n";
    }
    const Percentiles p = percentiles(r.propagation_ns);
    out << "propagation (origin accept -> applied at each other server): ";
    if (p.count == 0) {
        out << "no samples\n";
    } else {
        out << "n=" << p.count << " p50=" << format_latency(p.p50)
            << " p90=" << format_latency(p.p90) << " p99=" << format_latency(p.p99)
            << " max=" << format_latency(p.max) << "\n";
        print_hop_table(out, r.propagation_by_hops);
    }
    // Updates that met a fault on the way: how long recovery took, apart from normal flooding.
    if (const Percentiles f = percentiles(r.propagation_fault_ns); f.count > 0)
        out << "  and across a fault (one in force between accept and apply): n=" << f.count
            << " p50=" << format_latency(f.p50) << " p90=" << format_latency(f.p90)
            << " p99=" << format_latency(f.p99) << " max=" << format_latency(f.max) << "\n";
    if (r.stats.stale_unchecked > 0)
        out << "  and " << r.stats.stale_unchecked
            << (r.stats.stale_unchecked == 1 ? " record" : " records") << " applied more than "
            << format_duration(origin_forget_grace)
            << " after every server had let it go (at a restarted server): not checked, not "
               "counted\n";
    print_visibility(out, r.visibility_by_hops, r.visibility_fault_ns);
    const SimStats& s = r.stats;
    out << "messages per update: " << ratio(s.peer_at_lines, s.updates)
        << " record lines between servers, " << ratio(s.peer_messages, s.updates)
        << " peer writes of every kind (" << s.peer_at_lines << " record lines for " << s.updates
        << " updates; " << s.peer_messages
        << " writes: floods, anti-entropy, handshakes, heartbeats; " << s.peer_lines
        << " peer lines, " << s.peer_bytes << " bytes on established links)\n";
    out << "sends: " << s.sends << " (" << s.sends_refused
        << " refused: server down); workload IAMATs: " << s.workload_iamats;
    if (s.workload_refused > 0) out << " (" << s.workload_refused << " with no live server)";
    if (s.workload_reads > 0) out << "; workload WHATSATs: " << s.workload_reads;
    if (s.workload_skipped > 0)
        out << " (" << s.workload_skipped << " skipped: their session was waiting for a reply)";
    out << "; places queries: " << s.places_queries << " (" << s.places_failures
        << " failed by injection";
    if (s.places_hung > 0) out << ", " << s.places_hung << " never answered";
    out << ")\n";
    if (s.events > 0)
        out << "events: " << s.events << ", peer deliveries: " << s.deliveries
            << ", dials: " << s.dials << " (" << s.dials_failed
            << " failed), links up/down: " << s.links_up << "/" << s.links_down << "\n";
    else
        out << "links up/down: " << s.links_up << "/" << s.links_down << "\n";
    if (r.traced) out << "trace hash: " << hex64(r.trace_hash) << "\n";
    const bool ok = r.passed();
    out << "verdict: " << (ok ? "PASS" : "FAIL") << " (" << passed << " of "
        << r.expectations.size() << " expectations hold, " << r.violations.size()
        << " invariant violations)\n";
    if (!ok) out << "seed " << sc.seed << "; reproduce with: " << command << "\n";
}

namespace {

using JsonWriter = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

void write_string(JsonWriter& w, const std::string& s) {
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_results(JsonWriter& w, const SimResult& r) {
    w.Key("expectations");
    w.StartArray();
    for (const ExpectationResult& e : r.expectations) {
        w.StartObject();
        w.Key("line");
        w.Int(e.line);
        w.Key("at_ns");
        w.Int64(e.at.ns);
        w.Key("statement");
        write_string(w, e.text);
        w.Key("pass");
        w.Bool(e.pass);
        if (!e.pass) {
            w.Key("found");
            write_string(w, e.found);
        }
        if (e.late.ns > 0) {
            w.Key("late_ns");
            w.Int64(e.late.ns);
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("violations");
    w.StartArray();
    for (const Violation& v : r.violations) {
        w.StartObject();
        w.Key("at_ns");
        w.Int64(v.at.ns);
        w.Key("what");
        write_string(w, v.what);
        w.EndObject();
    }
    w.EndArray();
}

// One t-visibility distribution: its pairs, those that never closed, the windows for 50, 99 and
// 99.9 %, and the curve: the window for each whole percent from 1 to 100 (null: never).
void write_windows(JsonWriter& w, const Samples& sorted) {
    auto window = [&w](std::int64_t ns) {
        if (ns == INT64_MAX)
            w.Null();
        else
            w.Int64(ns);
    };
    w.StartObject();
    w.Key("pairs");
    w.Uint64(sorted.size());
    w.Key("never");
    w.Uint64(sorted.never_count());
    if (!sorted.empty()) {
        const std::pair<const char*, std::uint64_t> marks[] = {
            {"t50_ns", 50'000}, {"t99_ns", 99'000}, {"t99_9_ns", 99'900}};
        for (const auto& [key, per_100k] : marks) {
            w.Key(key);
            window(sorted.nearest_rank(per_100k));
        }
        w.Key("curve_ns");
        w.StartArray();
        for (std::uint64_t percent = 1; percent <= 100; ++percent)
            window(sorted.nearest_rank(percent * 1000));
        w.EndArray();
    }
    w.EndObject();
}

void write_visibility(JsonWriter& w, const SimResult& r) {
    w.Key("visibility");
    w.StartObject();
    w.Key("by_hops");
    w.StartArray();
    for (const auto& [hops, windows] : r.visibility_by_hops) {
        w.StartObject();
        w.Key("hops");
        w.Int(hops);
        w.Key("windows");
        write_windows(w, windows);
        w.EndObject();
    }
    w.EndArray();
    w.Key("all");
    write_windows(w, merged(r.visibility_by_hops));
    w.Key("across_faults");
    write_windows(w, r.visibility_fault_ns);
    w.EndObject();
}

void write_percentiles(JsonWriter& w, const char* key, const Samples& samples) {
    const Percentiles p = percentiles(samples);
    w.Key(key);
    w.StartObject();
    const std::pair<const char*, std::int64_t> values[] = {
        {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
    w.Key("count");
    w.Uint64(p.count);
    for (const auto& [name, value] : values) {
        w.Key(name);
        w.Int64(value);
    }
    w.EndObject();
}

void write_stats(JsonWriter& w, const SimStats& s) {
    w.Key("stats");
    w.StartObject();
    const std::pair<const char*, std::uint64_t> counters[] = {
        {"events", s.events},
        {"deliveries", s.deliveries},
        {"peer_messages", s.peer_messages},
        {"peer_lines", s.peer_lines},
        {"peer_record_lines", s.peer_at_lines},
        {"peer_bytes", s.peer_bytes},
        {"updates", s.updates},
        {"applies", s.applies},
        {"sends", s.sends},
        {"sends_refused", s.sends_refused},
        {"workload_iamats", s.workload_iamats},
        {"workload_refused", s.workload_refused},
        {"places_queries", s.places_queries},
        {"places_failures", s.places_failures},
        {"places_hung", s.places_hung},
        {"stale_unchecked", s.stale_unchecked},
        {"updates_tracked_max", s.updates_tracked_max},
        {"dials", s.dials},
        {"dials_failed", s.dials_failed},
        {"links_up", s.links_up},
        {"links_down", s.links_down}};
    for (const auto& [key, value] : counters) {
        w.Key(key);
        w.Uint64(value);
    }
    w.EndObject();
}

}  // namespace

std::string json_report(const Scenario& sc, const SimResult& r) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.SetIndent(' ', 2);
    w.StartObject();
    w.Key("scenario");
    write_string(w, sc.file);
    w.Key("herd");
    write_string(w, sc.herd_description);
    w.Key("servers");
    w.Uint64(sc.herd.servers.size());
    w.Key("links");
    w.Uint64(sc.herd.links.size());
    w.Key("seed");
    w.Uint64(sc.seed);
    w.Key("end_ns");
    w.Int64(r.end.ns);
    w.Key("verdict");
    w.String(r.passed() ? "PASS" : "FAIL");
    write_results(w, r);
    write_percentiles(w, "propagation_ns", r.propagation_ns);
    write_percentiles(w, "propagation_across_faults_ns", r.propagation_fault_ns);
    write_stats(w, r.stats);
    w.Key("propagation_by_hops");
    const std::string hops = hop_table_json(r.propagation_by_hops);
    w.RawValue(hops.c_str(), hops.size(), rapidjson::kArrayType);
    write_visibility(w, r);
    if (r.traced) {
        w.Key("trace_hash");
        write_string(w, hex64(r.trace_hash));
    }
    w.EndObject();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace herd::sim
