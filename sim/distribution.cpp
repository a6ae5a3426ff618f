#include "sim/distribution.hpp"

#include <cmath>

#include "core/text.hpp"
#include "sim/det_math.hpp"

namespace herd::sim {

namespace {

std::int64_t to_ns(double x) {
    if (!(x > 0)) return 0;
    if (x > 9.0e18) return INT64_C(9000000000000000000);
    return static_cast<std::int64_t>(x + 0.5);
}

// A standard normal deviate by Marsaglia's polar method (det_log and sqrt only).
double standard_normal(Prng& prng) {
    while (true) {
        const double u = prng.unit() * 2 - 1;
        const double v = prng.unit() * 2 - 1;
        const double s = u * u + v * v;
        if (s > 0 && s < 1) return u * std::sqrt(-2 * det_log(s) / s);
    }
}

}  // namespace

Duration Distribution::sample(Prng& prng) const {
    switch (kind_) {
        case Kind::constant:
            return a_;
        case Kind::uniform:
            return Duration{prng.between(a_.ns, b_.ns)};
        case Kind::normal:
            return Duration{to_ns(static_cast<double>(a_.ns) +
                                  static_cast<double>(b_.ns) * standard_normal(prng))};
        case Kind::exponential: {
            // 1 - unit() lies in (0, 1], so the log is defined.
            const double u = 1 - prng.unit();
            return Duration{to_ns(-static_cast<double>(a_.ns) * det_log(u))};
        }
    }
    return a_;
}

std::string format_duration(Duration d) {
    std::string out;
    std::int64_t ns = d.ns;
    if (ns < 0) {
        out += '-';
        ns = -ns;
    }
    struct Unit {
        std::int64_t size;
        const char* suffix;
    };
    for (Unit u : {Unit{1'000'000'000, "s"}, Unit{1'000'000, "ms"}, Unit{1'000, "us"}}) {
        if (ns != 0 && ns % u.size == 0) {
            append_decimal(out, static_cast<std::uint64_t>(ns / u.size));
            return out + u.suffix;
        }
    }
    append_decimal(out, static_cast<std::uint64_t>(ns));
    return out + "ns";
}

std::string Distribution::describe() const {
    switch (kind_) {
        case Kind::constant:
            return format_duration(a_);
        case Kind::uniform:
            return "uniform(" + format_duration(a_) + "," + format_duration(b_) + ")";
        case Kind::normal:
            return "normal(" + format_duration(a_) + "," + format_duration(b_) + ")";
        case Kind::exponential:
            return "exp(" + format_duration(a_) + ")";
    }
    return {};
}

namespace {

std::optional<Distribution> parse_distribution_unbounded(std::string_view text);

}  // namespace

std::optional<Distribution> parse_distribution(std::string_view text) {
    // Every duration of a distribution is within [0, distribution_duration_max].
    auto d = parse_distribution_unbounded(text);
    if (!d || d->largest_parameter().ns > distribution_duration_max.ns) return std::nullopt;
    return d;
}

namespace {

// The text inside `NAME(...)`, when `text` has that form.
std::optional<std::string_view> args_of(std::string_view text, std::string_view name) {
    if (!text.starts_with(name) || text.size() < name.size() + 2) return std::nullopt;
    if (text[name.size()] != '(' || text.back() != ')') return std::nullopt;
    return text.substr(name.size() + 1, text.size() - name.size() - 2);
}

// `A,B`: two durations.
std::optional<std::pair<Duration, Duration>> duration_pair(std::string_view a) {
    const std::size_t comma = a.find(',');
    if (comma == std::string_view::npos) return std::nullopt;
    auto x = parse_duration(a.substr(0, comma));
    auto y = parse_duration(a.substr(comma + 1));
    if (!x || !y) return std::nullopt;
    return std::make_pair(*x, *y);
}

// `uniform(A,B)`'s two bounds, when the text has that form with two durations.
std::optional<std::pair<Duration, Duration>> uniform_bounds(std::string_view text) {
    const auto a = args_of(text, "uniform");
    return a ? duration_pair(*a) : std::nullopt;
}

std::optional<Distribution> parse_distribution_unbounded(std::string_view text) {
    auto args = [&](std::string_view name) { return args_of(text, name); };
    auto pair = duration_pair;
    if (text.starts_with("uniform(")) {
        const auto p = uniform_bounds(text);
        if (!p || p->first > p->second) return std::nullopt;
        return Distribution::uniform(p->first, p->second);
    }
    if (auto a = args("normal")) {
        auto p = pair(*a);
        if (!p) return std::nullopt;
        return Distribution::normal(p->first, p->second);
    }
    if (auto a = args("exp")) {
        auto d = parse_duration(*a);
        if (!d) return std::nullopt;
        return Distribution::exponential(*d);
    }
    auto d = parse_duration(text);
    if (!d) return std::nullopt;
    return Distribution::constant(*d);
}

}  // namespace

bool uniform_reversed(std::string_view text) {
    const auto bounds = uniform_bounds(text);
    return bounds && bounds->first > bounds->second;
}

}  // namespace herd::sim
