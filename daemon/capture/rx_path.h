// RxPath: the receive side's pools. It keeps packets ready with their buffers chained
// (preallocated at bind time, as NDIS protocols do), fills them per frame and takes
// them back, reinitialized, when the last reference is released.
#ifndef PKTPOOL_DAEMON_CAPTURE_RX_PATH_H_
#define PKTPOOL_DAEMON_CAPTURE_RX_PATH_H_

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/capture/binding_options.h"
#include "daemon/capture/buffer_slab.h"
#include "daemon/capture/rx_frame.h"
#include "daemon/pool/mutex.h"
#include "daemon/pool/packet_pool.h"

namespace pktpool::capture {

class RxPath {
 public:
  // Pools from `sizes`, chains of enough buffers for `frame_room` bytes, and
  // `preallocate` such packets built now. ResourceExhausted when the pools cannot hold
  // the preallocation.
  static absl::StatusOr<std::unique_ptr<RxPath>> Create(pool::TaggedMemory* memory,
                                                       const PoolSizes& sizes,
                                                       uint32_t frame_room,
                                                       uint32_t preallocate,
                                                       uint32_t generation = 0);
  ~RxPath();  // all frames must have been released (WaitForFrames)

  // Receive thread only: a ready packet holding `length` bytes of `data` with OOB
  // stamped, or null when no packet or buffer is free (NDIS_STATUS_RESOURCES).
  pool::Packet* Fill(const uint8_t* data, uint32_t length, absl::Time timestamp,
                     uint32_t wire_length, int32_t interface_index);

  // Any thread, from RxFrame: takes a packet back for reuse, or frees it to the pools
  // when enough are ready.
  void Return(pool::Packet* packet);

  // How many frames of up to the chain's room Fill can take now without a packet coming
  // back: ready packets (they hold their chains) plus the packets the pools can still
  // build, which is limited by free packet descriptors and by free buffers alike.
  // Receive thread.
  uint32_t Available() const {
    const uint32_t packet_room =
        max_packets_ - std::min(max_packets_, built_.load(std::memory_order_relaxed));
    const uint32_t buffers = buffers_->buffer_count();
    const uint32_t buffer_room =
        (buffers - std::min(buffers, buffers_out_.load(std::memory_order_relaxed))) /
        std::max(chain_length_, 1u);
    // ready_count_ counts a returned packet only once Fill can take it (see Return), and
    // may dip below zero while Fill has taken one whose count is not in yet.
    const int32_t ready = std::max(ready_count_.load(std::memory_order_relaxed), 0);
    return static_cast<uint32_t>(ready) + std::min(packet_room, buffer_room);
  }

  // Static plus overflow packet descriptors: the most frames out at once.
  uint32_t max_packets() const { return max_packets_; }

  // Receive thread: a newer generation takes over. Ready packets go back to the pools;
  // packets returned from now on are freed, not kept.
  void Retire();
  // Frees packets that reached the returned stack while Retire ran. Any thread.
  void DrainReturned();
  // True once retired with every packet back in the pools: safe to destroy.
  bool Idle() const { return retired_.load() && built_.load() == 0; }

  // Waits until every filled packet has come back; false after `timeout`.
  bool WaitForFrames(absl::Duration timeout);
  int64_t frames_out() const { return frames_out_.load(std::memory_order_relaxed); }

  pool::PoolStats PacketStats() const { return packets_->Stats(); }
  pool::PoolStats BufferStats() const { return buffers_->Stats(); }

 private:
  RxPath(pool::PacketPool::Handle packets, std::unique_ptr<BufferSlab> buffers,
         uint32_t chain_length, uint32_t keep_ready);
  pool::Packet* Build();             // a new packet with chain_length_ buffers, or null
  void Destroy(pool::Packet* packet);  // frees buffers and packet to the pools
  bool Extend(pool::Packet* packet, uint32_t length);  // chains buffers up to length
  pool::Buffer* AcquireBuffer();              // from the slab, counted in buffers_out_
  void ReleaseBuffer(pool::Buffer* buffer);   // back to the slab, counted

  pool::PacketPool::Handle packets_;
  std::unique_ptr<BufferSlab> buffers_;
  const uint32_t chain_length_;  // buffers a ready packet holds
  const uint32_t keep_ready_;    // ready packets kept for reuse (the preallocation)

  std::vector<pool::Packet*> local_ready_;  // receive thread only
  // Packets back from subscribers: a lock-free stack (push by any thread, the receive
  // thread takes all at once, so there is no ABA), linked through RxContext.
  std::atomic<pool::Packet*> returned_{nullptr};
  std::atomic<int32_t> ready_count_{0};
  std::atomic<uint32_t> built_{0};  // packets that exist: ready, filled or held
  std::atomic<uint32_t> buffers_out_{0};  // buffers chained to those packets
  std::atomic<bool> retired_{false};
  uint32_t max_packets_ = 0;        // static + overflow descriptors
  std::atomic<int64_t> frames_out_{0};
  Mutex wait_mu_;
  std::condition_variable_any all_back_;
};

}  // namespace pktpool::capture

#endif  // PKTPOOL_DAEMON_CAPTURE_RX_PATH_H_
