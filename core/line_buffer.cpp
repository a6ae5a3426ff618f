#include "core/line_buffer.hpp"

#include <cstring>

#include "core/assert.hpp"

namespace herd {

LineBuffer::LineBuffer(std::size_t line_bytes_max) : line_bytes_max_(line_bytes_max) {
    HERD_ASSERT(line_bytes_max_ > 0);
}

void LineBuffer::compact() {
    if (start_ == 0) return;
    buffer_.erase(0, start_);
    start_ = 0;
}

void LineBuffer::append(std::string_view bytes) {
    HERD_ASSERT(!finished_);
    // Lines already handed out are dropped here, not in next(), so the views next() returned
    // stay valid until this call. The buffer holds at most one partial line (bounded by the
    // cap) plus the bytes of one append, as long as the caller drains next() after each append.
    compact();
    buffer_.append(bytes);
}

void LineBuffer::release_if_empty(std::size_t keep_bytes) {
    if (buffered_bytes() != 0) return;
    if (buffer_.capacity() <= keep_bytes) {
        buffer_.clear();
        start_ = 0;
        scanned_ = 0;
        return;
    }
    std::string().swap(buffer_);
    start_ = 0;
    scanned_ = 0;
}

void LineBuffer::finish() {
    finished_ = true;
}

std::optional<FramedLine> LineBuffer::next() {
    while (true) {
        const std::size_t available = buffer_.size() - start_;
        const char* base = buffer_.data() + start_;
        if (discarding_) {
            // Inside the tail of an over-long line: drop everything up to its '\n'.
            const void* end = std::memchr(base, '\n', available);
            if (end == nullptr) {
                start_ = buffer_.size();
                return std::nullopt;
            }
            start_ += static_cast<std::size_t>(static_cast<const char*>(end) - base) + 1;
            discarding_ = false;
            continue;
        }
        const void* found = available > scanned_
                                ? std::memchr(base + scanned_, '\n', available - scanned_)
                                : nullptr;
        if (found != nullptr) {
            const std::size_t length =
                static_cast<std::size_t>(static_cast<const char*>(found) - base);
            std::size_t text_length = length;
            if (text_length > 0 && base[text_length - 1] == '\r') --text_length;
            start_ += length + 1;
            scanned_ = 0;
            if (text_length > line_bytes_max_) {
                return FramedLine{FramedLine::Kind::overlong,
                                  std::string_view(base, line_bytes_max_)};
            }
            return FramedLine{FramedLine::Kind::complete, std::string_view(base, text_length)};
        }
        scanned_ = available;
        // No complete line yet. Is it over the cap already? One byte more than the cap is
        // allowed while it is a '\r', which may still turn out to be part of the line ending.
        const bool over = available > line_bytes_max_ + 1 ||
                          (available == line_bytes_max_ + 1 && base[line_bytes_max_] != '\r');
        if (over) {
            start_ += available;
            scanned_ = 0;
            discarding_ = true;
            return FramedLine{FramedLine::Kind::overlong, std::string_view(base, line_bytes_max_)};
        }
        if (finished_ && available > 0) {
            start_ += available;
            scanned_ = 0;
            return FramedLine{FramedLine::Kind::complete, std::string_view(base, available)};
        }
        return std::nullopt;
    }
}

}  // namespace herd
