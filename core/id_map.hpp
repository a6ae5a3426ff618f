// IdMap: objects owned under 64-bit ids, for the tables looked up on every message (a Node's
// connections, the simulator's network connections).
//
// Open addressing with linear probing over a power-of-two table of {id, owner} slots, at most
// half full, with backward-shift deletion (no tombstones). A lookup reads one short run of a
// small contiguous table and then the object, where a node-based hash map reads a bucket, a
// list node and the entry. Each object has an allocation of its own, so its address stays put
// while it is in the map, whatever is inserted or erased meanwhile. The table halves when it is
// an eighth full. Iteration order is the table's: callers sort what they iterate when the order
// can reach any output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/assert.hpp"
#include "core/hash.hpp"

namespace herd {

template <typename T>
class IdMap {
  public:
    IdMap() : slots_(slots_min) {}

    T* find(std::uint64_t id) const {
        for (std::size_t i = home(id);; i = next(i)) {
            const Slot& s = slots_[i];
            if (!s.value) return nullptr;
            if (s.id == id) return s.value.get();
        }
    }

    // Adds an object under an id that is not in the map.
    template <typename... Args>
    T& emplace(std::uint64_t id, Args&&... args) {
        if ((size_ + 1) * 2 > slots_.size()) resize(slots_.size() * 2);
        std::size_t i = home(id);
        for (; slots_[i].value; i = next(i))
            HERD_ASSERT(slots_[i].id != id);
        slots_[i] = Slot{id, std::make_unique<T>(std::forward<Args>(args)...)};
        size_ += 1;
        return *slots_[i].value;
    }

    // Destroys the object under `id`; false when there is none.
    bool erase(std::uint64_t id) {
        std::size_t i = home(id);
        for (; slots_[i].value && slots_[i].id != id; i = next(i)) {
        }
        if (!slots_[i].value) return false;
        slots_[i] = Slot{};
        size_ -= 1;
        // Backward shift: a later slot of the run moves into the hole unless its home lies
        // cyclically within (hole, slot], where it would no longer be found.
        for (std::size_t j = next(i); slots_[j].value; j = next(j)) {
            const std::size_t h = home(slots_[j].id);
            const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
            if (stays) continue;
            slots_[i] = std::move(slots_[j]);
            i = j;
        }
        if (slots_.size() > slots_min && size_ * 8 < slots_.size()) resize(slots_.size() / 2);
        return true;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }

    // Every {id, object}, in table order.
    template <typename Visit>
    void for_each(Visit&& visit) const {
        for (const Slot& s : slots_) {
            if (s.value) visit(s.id, static_cast<const T&>(*s.value));
        }
    }

  private:
    static constexpr std::size_t slots_min = 8;

    struct Slot {
        std::uint64_t id = 0;
        std::unique_ptr<T> value;  // null: empty
    };

    std::size_t home(std::uint64_t id) const { return mix64(id) & (slots_.size() - 1); }
    std::size_t next(std::size_t i) const { return (i + 1) & (slots_.size() - 1); }

    void resize(std::size_t slots) {
        HERD_ASSERT(slots >= slots_min && (slots & (slots - 1)) == 0 && size_ * 2 <= slots);
        std::vector<Slot> old(slots);
        old.swap(slots_);
        for (Slot& s : old) {
            if (!s.value) continue;
            std::size_t i = home(s.id);
            while (slots_[i].value)
                i = next(i);
            slots_[i] = std::move(s);
        }
    }

    std::vector<Slot> slots_;
    std::size_t size_ = 0;
};

}  // namespace herd
