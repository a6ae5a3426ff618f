#include "sim/workload.hpp"

#include "core/text.hpp"

namespace herd::sim {

std::string send_line(const std::string& line, Timestamp now) {
    std::string out = line;
    const std::string now_text = format_timestamp(now);
    for (std::size_t p = out.find("{now}"); p != std::string::npos;
         p = out.find("{now}", p + now_text.size())) {
        out.replace(p, 5, now_text);
    }
    out += '\n';
    return out;
}

WorkloadDraw draw_workload(Prng& prng, std::uint64_t clients) {
    WorkloadDraw d;
    d.client = prng.below(clients);
    d.lat_microdeg = prng.between(-90'000'000, 90'000'000);
    d.lon_microdeg = prng.between(-180'000'000, 180'000'000);
    return d;
}

std::string workload_line(const WorkloadDraw& d, Timestamp now, std::string_view prefix) {
    std::string line = "IAMAT ";
    line += prefix;
    append_decimal(line, d.client);
    line += ' ';
    for (std::int64_t v : {d.lat_microdeg, d.lon_microdeg}) {
        line += v < 0 ? '-' : '+';
        const std::uint64_t m = static_cast<std::uint64_t>(v < 0 ? -v : v);
        append_decimal(line, m / 1'000'000);
        line += '.';
        append_padded(line, m % 1'000'000, 6);
    }
    line += ' ';
    line += format_timestamp(now);
    line += '\n';
    return line;
}

}  // namespace herd::sim
