// herd sweep's unusual clients (sweep_generator.hpp): client IDs of every alphabet and length,
// client times of every shape, time clients whose outcome the conflict rule predicts, ties and
// bursts.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/time.hpp"
#include "sim/sweep_generator.hpp"

namespace herd::sim::sweep_detail {

// A client time in one of the shapes the protocol allows: 1 to 10 integer digits (leading
// zeros too), and no fraction or 1 to 9 fraction digits.
std::string Generator::client_time() {
    const auto digits = static_cast<std::size_t>(prng_.between(1, 10));
    std::string t;
    for (std::size_t i = 0; i < digits; ++i)
        t += static_cast<char>('0' + prng_.below(10));
    if (prng_.below(3) != 0) {
        t += '.';
        const std::int64_t fraction = prng_.between(1, 9);
        for (std::int64_t i = 0; i < fraction; ++i)
            t += static_cast<char>('0' + prng_.below(10));
    }
    return t;
}

// A client ID of at least `length` bytes from one alphabet: lower case, mixed case, digits, or
// the punctuation and UTF-8 bytes an ID may hold (anything but white space).
std::string Generator::client_id(std::size_t length) {
    static const char* const alphabets[] = {"abcdefghijklmnopqrstuvwxyz", "aAbBcCdDeEfFgGzZ",
                                            "0123456789", "._-:@/+~!?%\xc3\xa9"};
    const std::string alphabet = alphabets[prng_.below(4)];
    std::string id = hostile_prefix + std::to_string(hostile_ += 1) + "-";
    while (id.size() < length)
        id += alphabet[prng_.below(alphabet.size())];
    return id;
}

// A client that reports two or three positions, with times of every shape, to servers up then,
// a little apart: whatever order they arrive in, the herd must end on the newest (the conflict
// rule), which the final check expects of one server.
void Generator::time_client(std::int64_t t, std::vector<Timed>& out) {
    // Up until the base's faults are over too: a base crash after the phase could lose the
    // record before the final check.
    const std::int64_t faults_end =
        std::max(config_.phase_start.ns + config_.phase.ns, base_faults_.last_fault_ns);
    const std::vector<int> up = servers_up(t, faults_end);
    if (up.empty()) return;
    const std::string id = client_id(static_cast<std::size_t>(prng_.between(1, 64)));
    const std::int64_t sends = prng_.between(2, 3);
    std::vector<std::pair<Timestamp, std::string>> sent;  // time, position
    units_ += 1;  // its sends and the expectation of its newest position go together
    for (std::int64_t i = 0; i < sends; ++i) {
        const std::string time = client_time();
        const Timestamp value = *parse_client_time(time);
        if (std::any_of(sent.begin(), sent.end(), [&](const auto& x) { return x.first == value; }))
            continue;  // the same instant twice is a tie: tie_client draws those
        const std::string position =
            "+" + std::to_string(10 + i) + ".000000+" + std::to_string(20 + i) + ".000000";
        sent.push_back({value, position});
        const int to = up[prng_.below(up.size())];
        keep_up_.insert(to);
        out.push_back({t + between_ms(0, 300),
                       SendLine{name(to), "IAMAT " + id + " " + position + " " + time}, units_});
    }
    const auto newest = std::max_element(
        sent.begin(), sent.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    const auto s = static_cast<int>(prng_.below(base_.herd.servers.size()));
    model_.push_back(
        {0, ExpectLine{ExpectLine::Kind::has_at, name(s), id, newest->second}, units_});
}

// Under the convergent rule, a tie the herd must agree on: one client at one time at two
// servers at once, with two positions or with one (then the origins decide).
void Generator::tie_client(std::int64_t t, std::vector<Timed>& out) {
    const std::size_t n = base_.herd.servers.size();
    const auto s = static_cast<int>(prng_.below(n));
    const auto other = static_cast<int>((static_cast<std::size_t>(s) + 1 + prng_.below(n - 1)) % n);
    const std::string id = client_id(static_cast<std::size_t>(prng_.between(1, 32)));
    const std::string second = prng_.below(2) == 0 ? " +1.000000+1.000000" : " -1.000000-1.000000";
    out.push_back({t, SendLine{name(s), "IAMAT " + id + " +1.000000+1.000000 {now}"}});
    out.push_back({t, SendLine{name(other), "IAMAT " + id + second + " {now}"}});
}

// One hostile or unusual client: a 60 000-byte ID (stored: it fits in a record), a 70 000-byte
// one (`? line`), a burst of clients with IDs of one alphabet (up to thousands: stores past an
// anti-entropy page), a client reporting times of every shape, or (only under the convergent
// rule, where the herd must agree on it) a tie.
void Generator::hostile_client(std::int64_t t, std::vector<Timed>& out) {
    const std::size_t n = base_.herd.servers.size();
    const auto s = static_cast<int>(prng_.below(n));
    const bool ties = n >= 2 && convergent_;
    switch (prng_.below(ties ? 6 : 5)) {
        case 0:
            out.push_back(
                {t, SendLine{name(s), "IAMAT " + client_id(60'000) + " +1.000000+1.000000 {now}"}});
            break;
        case 1:
            out.push_back(
                {t, SendLine{name(s), "IAMAT " + client_id(70'000) + " +1.000000+1.000000 {now}"}});
            break;
        case 2: {
            // Its own clients (the workload grammar's IDs): a base workload's w3 at the same
            // instant would be a tie.
            const std::uint64_t clients = prng_.below(2) == 0 ? 5 : 500 + prng_.below(2500);
            const std::uint64_t rate = std::max<std::uint64_t>(clients, 2000);
            const std::string prefix = hostile_prefix + std::to_string(hostile_ += 1) + "-";
            out.push_back(
                {t, WorkloadLine{clients, rate, ms_of(100 + prng_.between(0, 1000)), prefix}});
            break;
        }
        case 3:
        case 4:
            time_client(t, out);
            break;
        default:
            tie_client(t, out);
    }
}

}  // namespace herd::sim::sweep_detail
