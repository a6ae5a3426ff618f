// `herd fmt [--check | --write] FILE...`: scenario files in their canonical text
// (sim/scenario_doc.hpp), like gofmt: fields one space apart, timeline statements lined up,
// comments and blank lines kept, so every line keeps its number. Only the grammar is checked
// (a file naming an unknown server still formats); `herd sim` checks the rest.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <iostream>
#include <sstream>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "netmode/files.hpp"
#include "sim/scenario.hpp"
#include "sim/scenario_doc.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage = "usage: herd fmt [--check | --write] FILE.scn... (or - for stdin)\n";

// Writes `text` over `path` atomically: a temporary file beside the file it names (a symlink is
// followed, and stays), with its mode and (where allowed) owner, flushed, then renamed over it.
// A full disk, or a kill, leaves the original as it was. Only a regular file the user may
// write is replaced.
std::optional<Error> replace_file(const std::string& path, const std::string& text) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr)
        return Error{"cannot write " + path + ": " + std::strerror(errno)};
    const std::string target = resolved;
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return Error{"cannot write " + path + ": not a regular file"};
    if (::access(target.c_str(), W_OK) != 0)
        return Error{"cannot write " + path + ": " + std::strerror(errno)};
    std::string temporary = target + ".herd-fmt-XXXXXX";
    const int fd = ::mkstemp(temporary.data());
    if (fd < 0) return Error{"cannot create a file beside " + path + ": " + std::strerror(errno)};
    bool ok = ::fchmod(fd, st.st_mode & 07777) == 0;
    (void)::fchown(fd, st.st_uid, st.st_gid);  // kept where allowed (root, or the same owner)
    std::size_t done = 0;
    while (ok && done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    ok = ok && ::fsync(fd) == 0;
    const int saved = errno;
    ok = ::close(fd) == 0 && ok;
    if (ok && ::rename(temporary.c_str(), target.c_str()) == 0) return std::nullopt;
    const std::string why = std::strerror(errno != 0 ? errno : saved);
    ::unlink(temporary.c_str());
    return Error{"cannot write " + path + ": " + why};
}

// A file or stdin, one byte past a scenario's bound at most: the parser refuses what is larger,
// and a stream without end is never read whole.
Result<std::string> read_input(const std::string& path) {
    if (path != "-") return net::read_text_file(path, sim::scenario_bytes_max + 1);
    return net::read_bounded(std::cin, sim::scenario_bytes_max + 1);
}

enum class Mode { print, check, write };

// One file: 0 formatted (or printed), 1 not formatted (--check); the Error (exit 2) when it
// cannot be read, is malformed (the parser's `file:line: what`) or cannot be written.
Result<int> format_one(const std::string& path, Mode mode) {
    const auto text = read_input(path);
    if (const Error* e = error_of(text)) return with_status(*e, 2);
    const auto doc =
        sim::parse_document(std::get<std::string>(text), path == "-" ? "<stdin>" : path);
    if (const Error* e = error_of(doc)) return with_status(*e, 2);
    const std::string formatted = sim::format_document(std::get<sim::ScenarioDoc>(doc));
    if (formatted.size() > sim::scenario_bytes_max) {  // the aligned text of a file near the bound
        return Error{path + ": formatted, it would have " + std::to_string(formatted.size()) +
                         " bytes, over the 16 MiB a scenario file may have; left as it is",
                     2};
    }
    const bool same = formatted == std::get<std::string>(text);
    if (mode == Mode::print) {
        std::cout << formatted;
        return 0;
    }
    if (mode == Mode::check) {
        if (!same) std::cout << path << "\n";
        return same ? 0 : 1;
    }
    if (same || path == "-") {
        if (path == "-") std::cout << formatted;
        return 0;
    }
    if (auto e = replace_file(path, formatted)) return with_status(*e, 2);
    return 0;
}

}  // namespace

int run_fmt(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")(
        "check", po::bool_switch(),
        "print the files that are not in canonical form; exit 1 if any")(
        "write", po::bool_switch(), "rewrite the files that are not in canonical form, in place");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("file", -1);
    po::variables_map vm;
    const CommandLine line{
        "herd fmt",
        usage,
        "Prints scenario files in their canonical text: fields one space apart, `at TIME` in six\n"
        "columns so statements line up, a comment two spaces after its statement. Comments,\n"
        "blank lines and the spelling of every value stay, so line numbers and traces do too.\n"
        "Only the grammar is checked: a file that names an unknown server still formats (herd\n"
        "sim checks the rest). Counts are written in plain decimal. --write follows a symlink\n"
        "and replaces only a regular file you may write.\n"
        "Exit status: 0 done (--check: all formatted), 1 --check found one that is not,\n"
        "2 a file that cannot be read, is malformed, or cannot be written.",
        visible,
        &hidden,
        &positional};
    if (auto status = parse_command_line(line, argc, argv, vm)) return *status;
    // A file size limit (ulimit -f) is a write error like a full disk, not a kill mid-write.
    ::signal(SIGXFSZ, SIG_IGN);
    if (vm["check"].as<bool>() && vm["write"].as<bool>())
        return report(line, usage_error(line, "--check and --write exclude each other"));
    if (!vm.count("file")) return report(line, usage_error(line, "a scenario file is required"));
    const Mode mode = vm["check"].as<bool>()   ? Mode::check
                      : vm["write"].as<bool>() ? Mode::write
                                               : Mode::print;
    // Every file is done, each one's error said: the status is the worst of them.
    int status = 0;
    for (const std::string& path : vm["file"].as<std::vector<std::string>>()) {
        const auto done = format_one(path, mode);
        const Error* e = error_of(done);
        status = std::max(status, e ? report(line, *e) : std::get<int>(done));
    }
    std::cout.flush();
    if (!std::cout) return report(line, Error{"cannot write to standard output", 2});
    return status;
}

}  // namespace herd::cli
