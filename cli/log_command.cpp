// `herd log [--heartbeats] [--follow] FILE...`: prints a server's log (netmode/log_format.hpp)
// as text, one line per event and per line read or written, in order. Several files are one
// log's files, oldest first (NAME.log.2 NAME.log.1 NAME.log); --follow goes on at the last.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cli/net_commands.hpp"
#include "cli/options.hpp"
#include "netmode/log_format.hpp"

namespace herd::cli {

namespace {

constexpr const char* usage = "usage: herd log [--heartbeats] [--follow] FILE...\n";

constexpr std::size_t read_chunk_bytes = 1 << 20;

// One open file of the log, and how far it has been read.
struct Source {
    int fd = -1;
    ino_t inode = 0;
    dev_t device = 0;
    ~Source() {
        if (fd >= 0) ::close(fd);
    }
    bool open(const std::string& path) {
        if (fd >= 0) ::close(fd);
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) return false;
        inode = st.st_ino;
        device = st.st_dev;
        return true;
    }
    // The path names another file now (rotated, moved), or this one was cut (copytruncate).
    bool replaced(const std::string& path) const {
        struct stat now {
        }, mine{};
        if (::stat(path.c_str(), &now) != 0) return false;  // none yet: keep reading this one
        if (now.st_ino != inode || now.st_dev != device) return true;
        return ::fstat(fd, &mine) == 0 && ::lseek(fd, 0, SEEK_CUR) > mine.st_size;
    }
};

// The files a rotation made of `path` since `source` was its current file, oldest first:
// `source` is now PATH.K (found by its inode), and PATH.K-1 .. PATH.1 came after it.
std::vector<std::string> rotated_after(const std::string& path, const Source& source) {
    constexpr int rotated_files_max = 1000;
    std::vector<std::string> newer;
    for (int k = 1; k <= rotated_files_max; ++k) {
        struct stat st {};
        const std::string name = path + "." + std::to_string(k);
        if (::stat(name.c_str(), &st) != 0) return {};  // moved away, not rotated: none
        if (st.st_ino == source.inode && st.st_dev == source.device) return newer;
        newer.insert(newer.begin(), name);
    }
    return {};
}

// Feeds what `source` holds from where it was to its end; false on a read error.
bool drain(Source& source, net::logfmt::LogPrinter& printer, std::string& pending, bool at_end) {
    std::vector<char> chunk(read_chunk_bytes);
    std::string text;
    while (true) {
        const ssize_t n = ::read(source.fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        pending.append(chunk.data(), static_cast<std::size_t>(n));
        text.clear();
        pending.erase(0, printer.feed(pending, text, n == 0 && at_end));
        std::cout << text;
        if (n == 0) return true;
    }
}

// Prints the files of one log, oldest first, as one log; with `follow`, then waits for more
// at the last one's end, through rotations, until interrupted.
std::optional<Error> print_log(const std::vector<std::string>& paths, bool heartbeats,
                               bool follow) {
    net::logfmt::LogPrinter printer(heartbeats);
    std::string pending;  // bytes read but not yet decoded (an entry still being written)
    for (std::size_t i = 0; i < paths.size(); ++i) {
        Source source;
        if (!source.open(paths[i])) return Error{"cannot read " + paths[i], 2};
        const bool last = i + 1 == paths.size();
        if (!drain(source, printer, pending, !(last && follow)))
            return Error{"cannot read " + paths[i], 2};
        while (last && follow) {
            std::cout.flush();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const bool replaced = source.replaced(paths[i]);
            // What the old file got before it was replaced, then the files rotated after it,
            // then the new one from its start.
            if (!drain(source, printer, pending, false)) return Error{"cannot read " + paths[i], 2};
            if (!replaced) continue;
            pending.clear();
            for (const std::string& newer : rotated_after(paths[i], source)) {
                Source next;
                if (next.open(newer)) drain(next, printer, pending, false);
                pending.clear();
            }
            source.open(paths[i]);
        }
    }
    std::string text;
    printer.finish(text);
    std::cout << text;
    return std::nullopt;
}

}  // namespace

int run_log(int argc, char** argv) {
    po::options_description visible("options");
    visible.add_options()("help,h", "show this help")("heartbeats", po::bool_switch(),
                                                      "also print heartbeat lines (PING)")(
        "follow,f", po::bool_switch(),
        "keep printing what the server adds to the last FILE, through its rotations");
    po::options_description hidden;
    hidden.add_options()("file", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("file", -1);
    const CommandLine c{"herd log",
                        usage,
                        "Prints server logs (herd serve --log-dir) as text: each event, and each "
                        "line read\n(<) or written (>) with its connection, in order, with its "
                        "time. Files of one log go oldest first (NAME.log.2 NAME.log.1 NAME.log); "
                        "a log\nfrom an older herd (already text) is printed as it is.",
                        visible,
                        &hidden,
                        &positional};
    po::variables_map vm;
    if (auto status = parse_command_line(c, argc, argv, vm)) return *status;
    if (!vm.count("file")) return report(c, usage_error(c, "expected a log FILE"));
    const auto files = vm["file"].as<std::vector<std::string>>();
    if (auto e = print_log(files, vm["heartbeats"].as<bool>(), vm["follow"].as<bool>()))
        return report(c, *e);
    return 0;
}

}  // namespace herd::cli
