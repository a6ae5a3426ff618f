// LineBuffer: bytes in, lines out, with bounded memory.
//
// Call order: append(bytes) any number of times, draining next() until it returns nothing after
// each append; at end of input call finish() once and drain next() again.
//
// Framing rules (design §3):
// - a line ends at '\n'; one '\r' just before it is dropped;
// - a line longer than `line_bytes_max` (line ending excluded) yields, as soon as that is known,
//   an Overlong event carrying its first `line_bytes_max` bytes; the rest of it, up to and
//   including the next '\n', is discarded, so memory stays bounded whatever the peer sends;
// - at finish(), a final unterminated line is yielded like any other.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace herd {

inline constexpr std::size_t line_bytes_max_default = 65'536;

struct FramedLine {
    enum class Kind { complete, overlong };
    Kind kind = Kind::complete;
    // Valid until the next call on the LineBuffer.
    std::string_view text;
};

class LineBuffer {
  public:
    explicit LineBuffer(std::size_t line_bytes_max = line_bytes_max_default);

    void append(std::string_view bytes);
    // Frees the memory of an empty buffer holding more than `keep_bytes` (an idle connection
    // then costs nothing here; a busy one keeps a small buffer instead of allocating one for
    // every read).
    void release_if_empty(std::size_t keep_bytes = 0);
    void finish();
    std::optional<FramedLine> next();

    // Bytes held and not yet framed.
    std::size_t buffered_bytes() const { return buffer_.size() - start_; }
    // True while a line has started and not ended (bytes held, or the tail of an over-long line
    // being discarded). Meaningful once next() has returned nothing.
    bool in_line() const { return discarding_ || buffered_bytes() > 0; }
    // Memory held; an idle connection's buffer holds none.
    std::size_t capacity_bytes() const { return buffer_.capacity(); }
    bool finished() const { return finished_; }

  private:
    void compact();

    std::size_t line_bytes_max_;
    std::string buffer_;
    std::size_t start_ = 0;    // first byte of the current line
    std::size_t scanned_ = 0;  // bytes from start_ known to hold no '\n'
    bool discarding_ = false;  // inside the tail of an over-long line
    bool finished_ = false;
};

}  // namespace herd
