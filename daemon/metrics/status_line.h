// The one-line summary pktpoold sends to systemd as STATUS= (shown by systemctl status).
#ifndef PKTPOOL_DAEMON_METRICS_STATUS_LINE_H_
#define PKTPOOL_DAEMON_METRICS_STATUS_LINE_H_

#include <string>

#include "pktpool/v1/pktpool.pb.h"

namespace pktpool::metrics {

// E.g. "2 bindings (2 up): veth-a, veth-b; rx 1234 tx 567 frames, pools max 12% in use,
// 0 alloc failures". Bindings not UP carry their state ("veth-c DOWN"); past 8 names,
// "+N more". "max % in use" is over current generations (in use / (descriptors +
// overflow)); alloc failures are summed over every generation. One line. Pure function.
std::string StatusLine(const v1::GetStatsResponse& stats);

}  // namespace pktpool::metrics

#endif  // PKTPOOL_DAEMON_METRICS_STATUS_LINE_H_
