// Packet and buffer descriptors (NDIS_PACKET, NDIS_BUFFER) and the chain operations
// on them. Descriptors come from PacketPool and BufferPool; this header has no locks:
// a packet and its chain belong to one thread at a time (the one that allocated it or
// was handed it), as in NDIS.
#ifndef PKTPOOL_DAEMON_POOL_PACKET_H_
#define PKTPOOL_DAEMON_POOL_PACKET_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/time/time.h"
#include "daemon/pool/status.h"

namespace pktpool::pool {

class BufferPool;
class Packet;
class PacketPool;

// Descriptor state, used to reject a double free without corrupting the free list.
enum class DescriptorState : uint8_t { kInUse = 0, kFree = 1 };

// A buffer descriptor: maps [address, address + mapped_length) of memory its creator
// owns; `length` is the part that holds data (AdjustBufferLength). Not thread-safe.
class Buffer {
 public:
  uint8_t* address() const { return address_; }
  uint32_t length() const { return length_; }
  uint32_t mapped_length() const { return mapped_length_; }
  // The next buffer in a packet's chain, or null (NdisGetNextBuffer).
  Buffer* next() const { return next_; }
  BufferPool* pool() const { return pool_; }

 private:
  friend class BufferPool;
  friend class PacketPool;
  friend Status ChainBufferAtFront(Packet*, Buffer*);
  friend Status ChainBufferAtBack(Packet*, Buffer*);
  friend Buffer* UnchainBufferAtFront(Packet*);
  friend Buffer* UnchainBufferAtBack(Packet*);
  friend Status AdjustBufferLength(Buffer*, uint32_t);
  friend void RestoreBufferLength(Buffer*);
  friend uint32_t UnlinkBuffers(Packet*);

  uint8_t* address_ = nullptr;
  uint32_t length_ = 0;
  uint32_t mapped_length_ = 0;
  Buffer* next_ = nullptr;
  BufferPool* pool_ = nullptr;
  uint8_t* home_ = nullptr;  // this descriptor's own slot of a pool's backing memory
  DescriptorState state_ = DescriptorState::kFree;
  bool chained_ = false;
};

// Out-of-band data of a packet (NDIS_PACKET_OOB_DATA).
struct PacketOob {
  absl::Time timestamp = absl::UnixEpoch();     // when received or sent; epoch: not stamped
  uint32_t original_length = 0;                 // length on the wire (may exceed the data)
  int32_t interface_index = 0;                  // kernel ifindex, 0 if unknown
  Status send_status = Status::kSuccess;        // set on send completion
};

// A packet descriptor: a chain of buffers, a ProtocolReserved area and OOB data.
// Not thread-safe; owned by whoever allocated it until it is freed.
class Packet {
 public:
  // ProtocolReserved: protocol_reserved_length bytes, 16-byte aligned, owned by the
  // allocating protocol (zero on first use, not cleared between uses).
  std::span<uint8_t> protocol_reserved() const { return {reserved_, reserved_length_}; }
  PacketOob& oob() { return oob_; }
  const PacketOob& oob() const { return oob_; }
  // First buffer of the chain, or null.
  Buffer* first_buffer() const { return head_; }
  PacketPool* pool() const { return pool_; }
  // True when this descriptor came from overflow (system memory), not static storage.
  bool is_overflow() const { return overflow_; }

 private:
  friend class PacketPool;
  friend Status ChainBufferAtFront(Packet*, Buffer*);
  friend Status ChainBufferAtBack(Packet*, Buffer*);
  friend Buffer* UnchainBufferAtFront(Packet*);
  friend Buffer* UnchainBufferAtBack(Packet*);
  friend uint32_t UnlinkBuffers(Packet*);

  // A free static descriptor is clean: empty chain and default OOB data, which are
  // all-zero bytes (padding included). Free restores that, so Allocate only sets state_.
  Buffer* head_ = nullptr;
  Buffer* tail_ = nullptr;
  PacketOob oob_;
  DescriptorState state_ = DescriptorState::kFree;
  bool overflow_ = false;  // false (zero) for every static descriptor
  // Always zero: with state_ and overflow_ it makes one 8-byte word that is zero exactly
  // when a static descriptor is in use, so the free path checks it in the same OR of
  // loads as the chain and the OOB data (PacketPool::IsCleanInUse).
  uint8_t zero_[6] = {};
  uint32_t reserved_length_ = 0;
  PacketPool* pool_ = nullptr;
  uint8_t* reserved_ = nullptr;
};

// What QueryPacket reports (NdisQueryPacket).
struct PacketInfo {
  uint32_t buffer_count = 0;
  uint32_t total_length = 0;  // sum of the buffers' current lengths
  Buffer* first_buffer = nullptr;
};

// Links `buffer` as the new head of the chain. kInvalidParameter if either is null or
// the buffer is already in a chain (a buffer belongs to one chain at a time).
Status ChainBufferAtFront(Packet* packet, Buffer* buffer);

// Links `buffer` as the new tail of the chain; same statuses as ChainBufferAtFront.
Status ChainBufferAtBack(Packet* packet, Buffer* buffer);

// Removes and returns the first buffer, or null when the chain is empty (unchanged).
Buffer* UnchainBufferAtFront(Packet* packet);

// Removes and returns the last buffer, or null when the chain is empty (unchanged).
Buffer* UnchainBufferAtBack(Packet* packet);

// Buffer count, total data length and first buffer of the chain.
PacketInfo QueryPacket(const Packet& packet);

// Unlinks every buffer from the chain without freeing them (they keep data and lengths);
// the chain is empty afterwards. Returns how many buffers were unlinked.
uint32_t UnlinkBuffers(Packet* packet);

// Sets the chain head to null without freeing the buffers: they keep their data and
// lengths and are unlinked, so save them first (QueryPacket, Buffer::next). Resets OOB
// data and counts a reuse on the packet's pool. The descriptor stays allocated: this is
// the cheap alternative to free + allocate.
void ReinitializePacket(Packet* packet);

// Sets the data length of `buffer` to `length`. kBufferTooShort when length exceeds the
// mapped length (the buffer is unchanged), kInvalidParameter for a null buffer.
Status AdjustBufferLength(Buffer* buffer, uint32_t length);

// Restores the data length to the full mapped length (for a buffer back for reuse).
void RestoreBufferLength(Buffer* buffer);

// Copies up to `bytes` bytes from `source` at `source_offset` into `destination` at
// `destination_offset`, across buffer boundaries of both chains (NdisCopyFromPacketToPacket).
// Returns the bytes copied: fewer than asked when either chain ends first, 0 when an
// offset is past its chain's data. Lengths of the destination buffers are not changed.
uint32_t CopyFromPacketToPacket(Packet* destination, uint32_t destination_offset,
                                uint32_t bytes, const Packet& source, uint32_t source_offset);

// Copies `data` into the chain's buffers from offset 0, filling each buffer up to its
// mapped length and setting lengths so the chain holds exactly data.size() bytes (the
// last used buffer length-adjusted, later ones set to 0). Returns bytes copied, fewer
// than data.size() when the chain's mapped space is too small.
uint32_t CopyIntoPacket(Packet* packet, std::span<const uint8_t> data);

// Copies the chain's data (current lengths) into `out`; returns bytes copied.
uint32_t CopyOutOfPacket(const Packet& packet, std::span<uint8_t> out);

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_PACKET_H_
