// Command-line parsing shared by every `herd` command: the options, the usage on a bad
// argument (exit 2) and the help text (exit 0), the same way everywhere.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "core/text.hpp"
#include "core/time.hpp"

namespace herd::cli {

namespace po = boost::program_options;

struct CommandLine {
    const char* command;      // "herd serve"
    const char* usage;        // "usage: herd serve NAME [...]\n"
    const char* description;  // shown by --help
    const po::options_description& visible;
    const po::options_description* hidden = nullptr;  // positionals
    const po::positional_options_description* positional = nullptr;
};

// Parses argv into `vm`. Returns an exit status when the command should stop here: 0 after
// --help, 2 after printing what was wrong and the usage.
inline std::optional<int> parse_command_line(const CommandLine& c, int argc, char** argv,
                                             po::variables_map& vm) {
    po::options_description all;
    all.add(c.visible);
    if (c.hidden != nullptr) all.add(*c.hidden);
    try {
        auto parser = po::command_line_parser(argc, argv).options(all);
        if (c.positional != nullptr) parser.positional(*c.positional);
        po::store(parser.run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        // The error and the short usage: the whole option list is one `--help` away.
        std::cerr << c.command << ": " << e.what() << "\n"
                  << c.usage << "(`" << c.command << " --help` lists every option)\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << c.usage << "\n" << c.description << "\n\n" << c.visible;
        return 0;
    }
    return std::nullopt;
}

// A numeric flag given as text: a decimal `digits[.digits]` (`integer`: digits only) from 0 to
// `max`, read by core's one decimal reader, so that "-1", "1e9" or "0x10" are refused instead of
// wrapping around. Prints the problem and the usage and returns nothing when it is not one.
inline std::optional<Decimal> number_flag(const CommandLine& c, const po::variables_map& vm,
                                          const char* name, std::uint64_t max, bool integer) {
    const std::string& text = vm[name].as<std::string>();
    const auto d = split_decimal(text);
    const auto whole = d ? parse_whole(d->whole, max) : std::nullopt;
    const bool ok =
        whole && !(integer && d->has_point) && (*whole < max || fraction_exact(d->fraction, 0));
    if (!ok) {
        std::cerr << c.command << ": --" << name << " takes " << (integer ? "a whole" : "a")
                  << " number from 0 to " << max << ", not '" << text << "'\n"
                  << c.usage;
        return std::nullopt;
    }
    return d;
}

// A decimal number of seconds as an exact Duration (nanoseconds past the ninth digit dropped).
inline Duration decimal_seconds(const Decimal& d) {
    return Duration{static_cast<std::int64_t>(*parse_whole(d.whole, UINT64_MAX) * 1'000'000'000 +
                                              fraction_scaled(d.fraction, 9))};
}

// A decimal number of MiB as bytes.
inline std::size_t decimal_mebibytes(const Decimal& d) {
    const std::uint64_t micro =
        *parse_whole(d.whole, UINT64_MAX) * 1'000'000 + fraction_scaled(d.fraction, 6);
    return static_cast<std::size_t>(micro * (1u << 20) / 1'000'000);  // micro <= 10^12: no overflow
}

}  // namespace herd::cli
