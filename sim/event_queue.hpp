// EventQueue: the simulator's agenda. Events come out in order of (time, insertion sequence), so
// events at one instant run in the order they were scheduled; that order is exact whatever the
// layout below, which only decides what an event costs.
//
// Layout, for integer time: a wheel of `wheel_buckets` buckets, each `bucket_ns` of simulated time
// wide, covers the next wheel_buckets * bucket_ns from the current bucket. An event due in that
// window is appended to its bucket: its payload, by value, to the bucket's payload array, and a
// 24-byte key (time, sequence, payload index) to the bucket's key array. Nothing is sorted until
// the wheel reaches a bucket; then its keys are sorted once and its events are taken in order,
// reading both arrays front to back. An event due before the current bucket (a statement pushed
// after a look at the next time) or past the window (timers, late statements) goes to a 4-ary
// heap of keys whose payloads wait in a slab; every pop takes the earlier of the wheel's next
// event and the heap's.
//
// What a delivery costs here: an append to two arrays on push; on pop, the next key and payload
// of the current bucket, which were written together and are read in order (no sift through a
// heap, no payload slab at a random slot). A bucket's arrays keep their capacity, so the steady
// state allocates nothing; the window is short (16.8 ms) so that what they keep is about what
// is pending.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/assert.hpp"
#include "core/time.hpp"

namespace herd::sim {

template <typename Payload>
class EventQueue {
  public:
    // 16.4 us per bucket, 1 024 buckets: a window of 16.8 ms, the latencies of a herd on one
    // site (longer ones wait in the heap, as they all did before the wheel).
    static constexpr int bucket_bits = 14;
    static constexpr std::int64_t bucket_ns = std::int64_t{1} << bucket_bits;
    static constexpr std::size_t wheel_buckets = 1024;

    EventQueue() : buckets_(wheel_buckets) {}

    void push(Instant at, Payload payload) {
        const std::uint64_t sequence = sequence_++;
        size_ += 1;
        const std::int64_t bucket = bucket_of(at);
        if (bucket < base_ || bucket >= base_ + static_cast<std::int64_t>(wheel_buckets)) {
            heap_push(Key{at, sequence, 0}, std::move(payload));
            return;
        }
        Bucket& b = buckets_[slot_of(bucket)];
        const auto index = static_cast<std::uint32_t>(b.payloads.size());
        b.payloads.push_back(std::move(payload));
        const Key key{at, sequence, index};
        wheel_size_ += 1;
        if (bucket == base_ && sorted_) {
            // Into the current bucket, which is being taken in order: after every key before it.
            const auto from = b.keys.begin() + static_cast<std::ptrdiff_t>(cursor_);
            b.keys.insert(std::upper_bound(from, b.keys.end(), key, before), key);
            return;
        }
        b.keys.push_back(key);
        occupied_[slot_of(bucket) / 64] |= std::uint64_t{1} << (slot_of(bucket) % 64);
    }

    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }

    Instant next_time() {
        HERD_ASSERT(size_ > 0);
        const Key* wheel = wheel_front();
        if (heap_.empty()) return wheel->at;
        if (wheel == nullptr || before(heap_.front(), *wheel)) return heap_.front().at;
        return wheel->at;
    }

    // Removes the earliest event; returns its time and payload.
    std::pair<Instant, Payload> pop() {
        HERD_ASSERT(size_ > 0);
        size_ -= 1;
        const Key* wheel = wheel_front();
        if (!heap_.empty() && (wheel == nullptr || before(heap_.front(), *wheel)))
            return heap_pop();
        Bucket& b = buckets_[slot_of(base_)];
        cursor_ += 1;
        wheel_size_ -= 1;
        return {wheel->at, std::move(b.payloads[wheel->index])};
    }

  private:
    struct Key {
        Instant at;
        std::uint64_t sequence;
        std::uint32_t index;  // into the bucket's payloads (unused in the heap)
    };
    static bool before(const Key& a, const Key& b) {
        return a.at != b.at ? a.at < b.at : a.sequence < b.sequence;
    }
    struct Bucket {
        std::vector<Key> keys;
        std::vector<Payload> payloads;
    };

    static std::int64_t bucket_of(Instant at) { return at.ns >> bucket_bits; }
    static std::size_t slot_of(std::int64_t bucket) {
        return static_cast<std::size_t>(bucket) & (wheel_buckets - 1);
    }

    // The wheel's earliest key (null when the wheel is empty): moves on to the next occupied
    // bucket when the current one is used up, and sorts it.
    const Key* wheel_front() {
        Bucket* b = &buckets_[slot_of(base_)];
        if (sorted_ && cursor_ < b->keys.size()) return &b->keys[cursor_];
        if (sorted_) {  // used up: empty it, keeping its capacity
            b->keys.clear();
            b->payloads.clear();
            sorted_ = false;
        }
        if (wheel_size_ == 0) return nullptr;
        base_ = next_occupied();
        b = &buckets_[slot_of(base_)];
        occupied_[slot_of(base_) / 64] &= ~(std::uint64_t{1} << (slot_of(base_) % 64));
        std::sort(b->keys.begin(), b->keys.end(), before);
        sorted_ = true;
        cursor_ = 0;
        HERD_ASSERT(!b->keys.empty());
        return &b->keys[0];
    }

    // The first occupied bucket from base_ on (one exists: the wheel is not empty).
    std::int64_t next_occupied() const {
        const std::size_t start = slot_of(base_);
        for (std::size_t step = 0; step <= words; ++step) {
            const std::size_t word = (start / 64 + step) % words;
            std::uint64_t bits = occupied_[word];
            if (step == 0) bits &= ~std::uint64_t{0} << (start % 64);
            if (step == words) bits &= (std::uint64_t{1} << (start % 64)) - 1;
            if (bits == 0) continue;
            const std::size_t slot = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
            return base_ + static_cast<std::int64_t>((slot - start) & (wheel_buckets - 1));
        }
        HERD_ASSERT(false && "the wheel holds events but no bucket is marked");
        return base_;
    }

    void heap_push(Key key, Payload payload) {
        if (!free_.empty()) {
            key.index = free_.back();
            free_.pop_back();
            slab_[key.index] = std::move(payload);
        } else {
            key.index = static_cast<std::uint32_t>(slab_.size());
            slab_.push_back(std::move(payload));
        }
        heap_.push_back(key);
        std::size_t i = heap_.size() - 1;
        while (i > 0) {
            const std::size_t parent = (i - 1) / arity;
            if (!before(heap_[i], heap_[parent])) break;
            std::swap(heap_[i], heap_[parent]);
            i = parent;
        }
    }

    std::pair<Instant, Payload> heap_pop() {
        const Key top = heap_.front();
        heap_.front() = heap_.back();
        heap_.pop_back();
        const std::size_t n = heap_.size();
        std::size_t i = 0;
        while (true) {
            const std::size_t first = arity * i + 1;
            if (first >= n) break;
            std::size_t best = first;
            for (std::size_t c = first + 1; c < std::min(first + arity, n); ++c) {
                if (before(heap_[c], heap_[best])) best = c;
            }
            if (!before(heap_[best], heap_[i])) break;
            std::swap(heap_[i], heap_[best]);
            i = best;
        }
        // The wheel's window follows time when it holds nothing (after a quiet stretch).
        if (wheel_size_ == 0 && !sorted_) base_ = bucket_of(top.at);
        free_.push_back(top.index);
        return {top.at, std::move(slab_[top.index])};
    }

    static constexpr std::size_t arity = 4;
    static constexpr std::size_t words = wheel_buckets / 64;

    std::vector<Bucket> buckets_;
    std::array<std::uint64_t, words> occupied_{};  // buckets holding unsorted keys
    std::int64_t base_ = 0;                        // the current bucket (absolute number)
    bool sorted_ = false;                          // the current bucket is being taken in order
    std::size_t cursor_ = 0;                       // its next key
    std::size_t wheel_size_ = 0;                   // events in the wheel
    std::size_t size_ = 0;
    std::vector<Key> heap_;  // events outside the window: keys, index into slab_
    std::vector<Payload> slab_;
    std::vector<std::uint32_t> free_;
    std::uint64_t sequence_ = 0;
};

}  // namespace herd::sim
