// EventQueue: the simulator's agenda. Events come out in order of (time, insertion sequence), so
// events at one instant run in the order they were scheduled; that order is exact whatever the
// layout below, which only decides what an event costs.
//
// Layout, for integer time: a wheel of `wheel_buckets` buckets, each `bucket_ns` of simulated time
// wide, covers the next wheel_buckets * bucket_ns from the current bucket. An event due in that
// window appends a 24-byte key (time, sequence, payload slot) to its bucket; nothing is sorted
// until the wheel reaches a bucket, whose keys are then sorted once and taken in order. An event
// due before the current bucket (a statement pushed after a look at the next time) or past the
// window (timers, late statements) goes to a 4-ary heap of keys; every pop takes the earlier of
// the wheel's next event and the heap's. Payloads, by value, wait in one slab whose free slots
// are reused last-freed first, so the slots in use stay few, dense and recently touched.
//
// What a delivery costs here: an append of a key and a payload on push; on pop, the next key of
// the current bucket (read in order) and its payload. Neither the wheel nor the slab allocates
// in the steady state, and what they hold is about what is pending.
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
    // 8.2 us per bucket, 2 048 buckets: a window of 16.8 ms, the latencies of a herd on one
    // site (longer ones wait in the heap, as they all did before the wheel).
    static constexpr int bucket_bits = 13;
    static constexpr std::int64_t bucket_ns = std::int64_t{1} << bucket_bits;
    static constexpr std::size_t wheel_buckets = 2048;
    // A bucket keeps room for this many keys between laps; one that a burst grew past it gives
    // its memory back (the wheel keeps at most 2 048 x 64 keys' room between bursts, 3 MB).
    static constexpr std::size_t bucket_kept_max = 64;

    EventQueue() : buckets_(wheel_buckets) {}

    void push(Instant at, Payload payload) {
        const std::uint64_t sequence = sequence_++;
        size_ += 1;
        const std::int64_t bucket = bucket_of(at);
        if (bucket < base_ || bucket >= base_ + static_cast<std::int64_t>(wheel_buckets)) {
            heap_push(Key{at, sequence, store(std::move(payload))});
            return;
        }
        std::vector<Key>& b = buckets_[slot_of(bucket)];
        const Key key{at, sequence, store(std::move(payload))};
        wheel_size_ += 1;
        if (bucket == base_ && sorted_) {
            // Into the current bucket, which is being taken in order: after every key before it.
            const auto from = b.begin() + static_cast<std::ptrdiff_t>(cursor_);
            b.insert(std::upper_bound(from, b.end(), key, before), key);
            return;
        }
        b.push_back(key);
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
        cursor_ += 1;
        wheel_size_ -= 1;
        return {wheel->at, take(wheel->index)};
    }

  private:
    struct Key {
        Instant at;
        std::uint64_t sequence;
        std::uint32_t index;  // the payload's slot
    };
    static bool before(const Key& a, const Key& b) {
        return a.at != b.at ? a.at < b.at : a.sequence < b.sequence;
    }

    static std::int64_t bucket_of(Instant at) { return at.ns >> bucket_bits; }
    static std::size_t slot_of(std::int64_t bucket) {
        return static_cast<std::size_t>(bucket) & (wheel_buckets - 1);
    }

    // The wheel's earliest key (null when the wheel is empty): moves on to the next occupied
    // bucket when the current one is used up, and sorts it.
    const Key* wheel_front() {
        std::vector<Key>* b = &buckets_[slot_of(base_)];
        if (sorted_ && cursor_ < b->size()) return &(*b)[cursor_];
        if (sorted_) {  // used up: empty it, keeping its capacity unless a burst grew it
            if (b->capacity() > bucket_kept_max) std::vector<Key>().swap(*b);
            b->clear();
            sorted_ = false;
        }
        if (wheel_size_ == 0) return nullptr;
        base_ = next_occupied();
        b = &buckets_[slot_of(base_)];
        occupied_[slot_of(base_) / 64] &= ~(std::uint64_t{1} << (slot_of(base_) % 64));
        std::sort(b->begin(), b->end(), before);
        sorted_ = true;
        cursor_ = 0;
        HERD_ASSERT(!b->empty());
        return &(*b)[0];
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

    std::uint32_t store(Payload payload) {
        if (!free_.empty()) {
            const std::uint32_t slot = free_.back();
            free_.pop_back();
            slab_[slot] = std::move(payload);
            return slot;
        }
        HERD_ASSERT(slab_.size() < UINT32_MAX);
        slab_.push_back(std::move(payload));
        return static_cast<std::uint32_t>(slab_.size() - 1);
    }
    Payload take(std::uint32_t slot) {
        free_.push_back(slot);
        return std::move(slab_[slot]);
    }

    void heap_push(Key key) {
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
        return {top.at, take(top.index)};
    }

    static constexpr std::size_t arity = 4;
    static constexpr std::size_t words = wheel_buckets / 64;

    std::vector<std::vector<Key>> buckets_;
    std::array<std::uint64_t, words> occupied_{};  // buckets holding unsorted keys
    std::int64_t base_ = 0;                        // the current bucket (absolute number)
    bool sorted_ = false;                          // the current bucket is being taken in order
    std::size_t cursor_ = 0;                       // its next key
    std::size_t wheel_size_ = 0;                   // events in the wheel
    std::size_t size_ = 0;
    std::vector<Key> heap_;      // events outside the window
    std::vector<Payload> slab_;  // every pending event's payload, by its key's slot
    std::vector<std::uint32_t> free_;
    std::uint64_t sequence_ = 0;
};

}  // namespace herd::sim
