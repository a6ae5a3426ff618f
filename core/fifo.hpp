// Fifo: a first-in, first-out queue that holds no memory while it has never been used, and little
// once emptied. It replaces std::deque for the many small queues a herd keeps per connection
// (replies held for a client, buckets of an anti-entropy exchange, the simulator's bytes waiting
// for room on a link): libstdc++'s deque allocates 576 bytes as soon as it is constructed, which
// was half of what an idle simulated server occupied. A vector and the index of its front; the
// taken prefix is dropped once it is half the vector.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "core/assert.hpp"

namespace herd {

template <typename T>
class Fifo {
  public:
    // What an emptied queue keeps for its next items (more is given back).
    static constexpr std::size_t kept_capacity_max = 16;

    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }
    T& front() {
        HERD_ASSERT(!empty());
        return items_[head_];
    }
    const T& front() const {
        HERD_ASSERT(!empty());
        return items_[head_];
    }
    void push_back(T item) { items_.push_back(std::move(item)); }
    void pop_front() {
        HERD_ASSERT(!empty());
        items_[head_] = T();  // what it holds goes now, not at the next compaction
        head_ += 1;
        if (empty()) {
            clear();
        } else if (head_ >= kept_capacity_max && 2 * head_ >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }
    void clear() {
        if (items_.capacity() > kept_capacity_max) {
            std::vector<T>().swap(items_);
        } else {
            items_.clear();
        }
        head_ = 0;
    }

    auto begin() { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() { return items_.end(); }
    auto begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
    auto end() const { return items_.end(); }

  private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace herd
