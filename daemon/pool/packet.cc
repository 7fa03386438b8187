#include "daemon/pool/packet.h"

#include <algorithm>
#include <cstring>

namespace pktpool::pool {

Status ChainBufferAtFront(Packet* packet, Buffer* buffer) {
  if (packet == nullptr || buffer == nullptr || buffer->chained_) {
    return Status::kInvalidParameter;
  }
  buffer->next_ = packet->head_;
  packet->head_ = buffer;
  if (packet->tail_ == nullptr) packet->tail_ = buffer;
  buffer->chained_ = true;
  return Status::kSuccess;
}

Status ChainBufferAtBack(Packet* packet, Buffer* buffer) {
  if (packet == nullptr || buffer == nullptr || buffer->chained_) {
    return Status::kInvalidParameter;
  }
  buffer->next_ = nullptr;
  if (packet->tail_ == nullptr) {
    packet->head_ = buffer;
  } else {
    packet->tail_->next_ = buffer;
  }
  packet->tail_ = buffer;
  buffer->chained_ = true;
  return Status::kSuccess;
}

Buffer* UnchainBufferAtFront(Packet* packet) {
  if (packet == nullptr || packet->head_ == nullptr) return nullptr;
  Buffer* buffer = packet->head_;
  packet->head_ = buffer->next_;
  if (packet->head_ == nullptr) packet->tail_ = nullptr;
  buffer->next_ = nullptr;
  buffer->chained_ = false;
  return buffer;
}

Buffer* UnchainBufferAtBack(Packet* packet) {
  if (packet == nullptr || packet->tail_ == nullptr) return nullptr;
  Buffer* buffer = packet->tail_;
  if (packet->head_ == buffer) {
    packet->head_ = nullptr;
    packet->tail_ = nullptr;
  } else {
    // Singly linked, as NDIS_BUFFER chains are: walk to the one before the tail.
    Buffer* before = packet->head_;
    while (before->next_ != buffer) before = before->next_;
    before->next_ = nullptr;
    packet->tail_ = before;
  }
  buffer->chained_ = false;
  return buffer;
}

uint32_t UnlinkBuffers(Packet* packet) {
  if (packet == nullptr) return 0;
  uint32_t count = 0;
  for (Buffer* b = packet->head_; b != nullptr; ++count) {
    Buffer* next = b->next_;
    b->next_ = nullptr;
    b->chained_ = false;
    b = next;
  }
  packet->head_ = nullptr;
  packet->tail_ = nullptr;
  return count;
}

PacketInfo QueryPacket(const Packet& packet) {
  PacketInfo info;
  info.first_buffer = packet.first_buffer();
  for (const Buffer* b = info.first_buffer; b != nullptr; b = b->next()) {
    info.buffer_count += 1;
    info.total_length += b->length();
  }
  return info;
}

Status AdjustBufferLength(Buffer* buffer, uint32_t length) {
  if (buffer == nullptr) return Status::kInvalidParameter;
  if (length > buffer->mapped_length_) return Status::kBufferTooShort;
  buffer->length_ = length;
  return Status::kSuccess;
}

void RestoreBufferLength(Buffer* buffer) {
  if (buffer != nullptr) buffer->length_ = buffer->mapped_length_;
}

namespace {

// Finds the buffer holding byte `offset` of a chain (by current lengths) and the offset
// inside it; null when the chain has no such byte.
const Buffer* Seek(const Buffer* buffer, uint32_t offset, uint32_t* inside) {
  while (buffer != nullptr && offset >= buffer->length()) {
    offset -= buffer->length();
    buffer = buffer->next();
  }
  *inside = offset;
  return buffer;
}

}  // namespace

uint32_t CopyFromPacketToPacket(Packet* destination, uint32_t destination_offset,
                                uint32_t bytes, const Packet& source, uint32_t source_offset) {
  if (destination == nullptr) return 0;
  uint32_t from_inside = 0;
  uint32_t to_inside = 0;
  const Buffer* from = Seek(source.first_buffer(), source_offset, &from_inside);
  const Buffer* to = Seek(destination->first_buffer(), destination_offset, &to_inside);
  uint32_t copied = 0;
  while (copied < bytes && from != nullptr && to != nullptr) {
    const uint32_t chunk = std::min({bytes - copied, from->length() - from_inside,
                                     to->length() - to_inside});
    // A zero-length buffer may map no memory at all (null): memmove must not see it.
    if (chunk > 0) std::memmove(to->address() + to_inside, from->address() + from_inside, chunk);
    copied += chunk;
    from_inside += chunk;
    to_inside += chunk;
    if (from_inside == from->length()) {
      from = from->next();
      from_inside = 0;
    }
    if (to_inside == to->length()) {
      to = to->next();
      to_inside = 0;
    }
  }
  return copied;
}

uint32_t CopyIntoPacket(Packet* packet, std::span<const uint8_t> data) {
  if (packet == nullptr) return 0;
  size_t copied = 0;
  for (Buffer* b = packet->first_buffer(); b != nullptr; b = b->next()) {
    const uint32_t chunk =
        static_cast<uint32_t>(std::min<size_t>(b->mapped_length(), data.size() - copied));
    if (chunk > 0) std::memcpy(b->address(), data.data() + copied, chunk);
    AdjustBufferLength(b, chunk);
    copied += chunk;
  }
  return static_cast<uint32_t>(copied);
}

uint32_t CopyOutOfPacket(const Packet& packet, std::span<uint8_t> out) {
  size_t copied = 0;
  for (const Buffer* b = packet.first_buffer(); b != nullptr && copied < out.size();
       b = b->next()) {
    const size_t chunk = std::min<size_t>(b->length(), out.size() - copied);
    if (chunk > 0) std::memcpy(out.data() + copied, b->address(), chunk);
    copied += chunk;
  }
  return static_cast<uint32_t>(copied);
}

}  // namespace pktpool::pool
