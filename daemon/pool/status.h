// NDIS-style status codes returned by the pool library.
#ifndef PKTPOOL_DAEMON_POOL_STATUS_H_
#define PKTPOOL_DAEMON_POOL_STATUS_H_

#include <cstdint>
#include <string_view>

namespace pktpool::pool {

// The outcome of a pool call. Cheap to return on the per-frame path (no allocation);
// the rpc layer maps it to a canonical gRPC code in one function.
enum class Status : uint8_t {
  kSuccess,           // NDIS_STATUS_SUCCESS
  kPending,           // NDIS_STATUS_PENDING: a send not completed yet
  kResources,         // NDIS_STATUS_RESOURCES: exhausted or over a limit
  kInvalidParameter,  // NDIS_STATUS_INVALID_PARAMETER: a bad count, length or offset
  kInvalidPacket,     // NDIS_STATUS_INVALID_PACKET: a descriptor not owned here, or already free
  kBufferTooShort,    // NDIS_STATUS_BUFFER_TOO_SHORT: a length beyond what a buffer maps
  kFailure,           // NDIS_STATUS_FAILURE: anything else (send errors carry this)
};

// The NDIS name of a status, e.g. "NDIS_STATUS_RESOURCES". Never null.
std::string_view StatusName(Status status);

}  // namespace pktpool::pool

#endif  // PKTPOOL_DAEMON_POOL_STATUS_H_
