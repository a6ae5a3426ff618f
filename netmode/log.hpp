// Log: a server's log file, written off the hot path. Callers append lines (timestamped here)
// to a buffer under a mutex; a background thread writes the buffer out about every 100 ms.
// When the file passes its size cap it is renamed to FILE.1 (replacing an older one) and a new
// file is started, so a log never takes more than twice the cap.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace herd::net {

class Log {
  public:
    // An empty path: a log that writes nothing. `timestamped`: prefix lines with UTC time.
    Log(std::string path, std::size_t bytes_max, bool timestamped = true);
    ~Log();
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;

    bool enabled() const { return file_ != nullptr; }
    void write(std::string_view line);  // one line, no newline needed
    // Writes each line of `bytes` as "<prefix><line>", bytes outside printable ASCII escaped.
    void write_lines(std::string_view prefix, std::string_view bytes);
    void flush();

    // Creates the folder (and its parents) if missing.
    static bool make_folder(const std::string& path, std::string* error);

  private:
    void run();
    void write_out(const std::string& chunk);

    std::string path_;
    std::size_t bytes_max_;
    bool timestamped_;
    std::FILE* file_ = nullptr;
    std::size_t file_bytes_ = 0;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::string buffer_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace herd::net
