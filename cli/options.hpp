// Command-line parsing shared by every `herd` command: the options, the usage on a bad
// argument (exit 2) and the help text (exit 0), the same way everywhere.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
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

// The Error (exit 2) of a bad or missing argument: `what`, then the usage on the lines below.
inline Error usage_error(std::string_view usage, std::string what) {
    if (usage.ends_with('\n')) usage.remove_suffix(1);  // report() ends the message's last line
    return Error{std::move(what) + "\n" + std::string(usage), 2};
}
inline Error usage_error(const CommandLine& c, std::string what) {
    return usage_error(c.usage, std::move(what));
}

// Prints the error that stops `command` on stderr, after its name ("herd sim: --seed takes
// ..."), or as it is when it names its own place (`FILE:LINE: what`, a grammar's error): the one
// place a command prints its error. Returns the error's exit status.
inline int report(std::string_view command, const Error& e) {
    const bool named = !command.empty() && !e.names_its_place;
    std::cerr << (named ? command : "") << (named ? ": " : "") << e.message << "\n";
    return e.exit_status;
}
inline int report(const CommandLine& c, const Error& e) {
    return report(c.command, e);
}

// Parses argv into `vm`. Returns an exit status when the command should stop here: 0 after
// --help, or report()'s after a bad argument (what was wrong and the usage, exit 2).
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
        Error error = usage_error(c, e.what());
        error.message += "\n(`" + std::string(c.command) + " --help` lists every option)";
        return report(c, error);
    }
    if (vm.count("help")) {
        std::cout << c.usage << "\n" << c.description << "\n\n" << c.visible;
        return 0;
    }
    return std::nullopt;
}

// Every numeric flag of every command is given as text (po::value<std::string>) and read here, by
// core's one decimal reader: a decimal `digits[.digits]` from `min` to `max`, with at most
// `decimals` significant digits after the point (0: a whole number; seconds take 9, the
// nanosecond, so that 0.0000000001 is refused rather than read as 0). "-1", "1e9", "0x10" or an
// overflow are refused instead of wrapping around. Returns the number, or a usage_error saying
// what the flag takes.
inline Result<Decimal> number_flag(const CommandLine& c, const po::variables_map& vm,
                                   const char* name, std::uint64_t max, int decimals,
                                   std::uint64_t min = 0) {
    const std::string& text = vm[name].as<std::string>();
    const auto d = split_decimal(text);
    const auto whole = d ? parse_whole(d->whole, max) : std::nullopt;
    const bool ok = whole && !(decimals == 0 && d->has_point) &&
                    fraction_exact(d->fraction, decimals) &&
                    (*whole < max || fraction_exact(d->fraction, 0)) && (*whole >= min || min == 0);
    if (!ok) {
        return usage_error(c, "--" + std::string(name) + " takes " +
                                  (decimals == 0 ? std::string("a whole number")
                                                 : "a number with at most " +
                                                       std::to_string(decimals) + " decimals") +
                                  " from " + std::to_string(min) + " to " + std::to_string(max) +
                                  ", not '" + text + "'");
    }
    return *d;
}

// A whole-number flag from `min` to `max` (number_flag with no decimals), or number_flag's error.
inline Result<std::uint64_t> whole_flag(const CommandLine& c, const po::variables_map& vm,
                                        const char* name, std::uint64_t min, std::uint64_t max) {
    const auto d = number_flag(c, vm, name, max, 0, min);
    if (const Error* e = error_of(d)) return *e;
    return *parse_whole(std::get<Decimal>(d).whole, max);
}

// Moves the value of `r` into `out`, for reading flags in turn; returns the Error instead when `r`
// holds one (and leaves `out` as it was).
template <typename T>
std::optional<Error> take(Result<T> r, T& out) {
    if (const Error* e = error_of(r)) return *e;
    out = std::get<T>(std::move(r));
    return std::nullopt;
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
