#include "daemon/rpc/pool_tuning.h"

#include "daemon/rpc/proto_convert.h"
#include "daemon/rpc/request_validation.h"

namespace pktpool::rpc {

absl::StatusOr<v1::TunePoolResponse> TuneBindingPool(BindingTable& bindings,
                                                     const v1::TunePoolRequest& request) {
  // The one check of a TunePool request, for the RPC and the SIGHUP reload alike.
  if (absl::Status valid = ValidateTunePool(request); !valid.ok()) return valid;
  capture::PoolId pool = capture::PoolId::kRxPackets;
  switch (request.pool()) {
    case v1::POOL_NAME_RX_PACKETS: pool = capture::PoolId::kRxPackets; break;
    case v1::POOL_NAME_RX_BUFFERS: pool = capture::PoolId::kRxBuffers; break;
    case v1::POOL_NAME_TX_PACKETS: pool = capture::PoolId::kTxPackets; break;
    case v1::POOL_NAME_TX_BUFFERS: pool = capture::PoolId::kTxBuffers; break;
    default: break;  // refused by ValidateTunePool
  }
  auto binding = bindings.Get(request.interface());
  if (!binding.ok()) return binding.status();
  auto tuned = bindings.TunePool(request.interface(), pool,
                                 {.descriptors = request.descriptors(),
                                  .overflow = request.overflow(),
                                  .buffer_size = request.buffer_size()});
  if (!tuned.ok()) return tuned.status();
  const capture::BindingOptions options = (*binding)->options();
  const uint32_t buffer_size = pool == capture::PoolId::kRxBuffers   ? options.rx.buffer_size
                               : pool == capture::PoolId::kTxBuffers ? options.tx.buffer_size
                                                                     : 0;
  v1::TunePoolResponse response;
  *response.mutable_applied() = ToPoolStatsMessage(tuned->applied, request.pool(), buffer_size);
  response.set_overflow_clamped(tuned->overflow_clamped);
  return response;
}

}  // namespace pktpool::rpc
