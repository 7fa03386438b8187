#include "daemon/pool/status.h"

namespace pktpool::pool {

std::string_view StatusName(Status status) {
  switch (status) {
    case Status::kSuccess: return "NDIS_STATUS_SUCCESS";
    case Status::kPending: return "NDIS_STATUS_PENDING";
    case Status::kResources: return "NDIS_STATUS_RESOURCES";
    case Status::kInvalidParameter: return "NDIS_STATUS_INVALID_PARAMETER";
    case Status::kInvalidPacket: return "NDIS_STATUS_INVALID_PACKET";
    case Status::kBufferTooShort: return "NDIS_STATUS_BUFFER_TOO_SHORT";
    case Status::kFailure: return "NDIS_STATUS_FAILURE";
  }
  return "NDIS_STATUS_UNKNOWN";
}

}  // namespace pktpool::pool
