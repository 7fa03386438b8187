#!/usr/bin/python3
"""Writes the generated seeds of tests/fuzz/corpus (run from anywhere; idempotent).

pool_ops_fuzzer/: operation sequences in the fuzzer's encoding (pool_ops_fuzzer.cc: one
opcode byte, then its arguments, little-endian). rpc_request_fuzzer/: valid requests of
each type, serialized by protoc --encode from text format, after 8 bytes of limits
(max_frames_per_batch 4096, snaplen 65535). config_fuzzer's seeds are config files,
written by hand.
"""
import pathlib
import struct
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
PROTO = ROOT / "proto"


def u8(*values):
    return bytes(v & 0xFF for v in values)


def u16(value):
    return struct.pack("<H", value)


def u32(value):
    return struct.pack("<I", value)


def pcap_records(sizes):
    """Classic pcap records (little-endian headers) of frames of these sizes."""
    out = b""
    for i, size in enumerate(sizes):
        out += u32(1 + i) + u32(2) + u32(size) + u32(size) + bytes([0x41 + i]) * size
    return out


# Opcodes (op % 27 in pool_ops_fuzzer.cc).
CREATE_PACKETS, CREATE_BUFFERS, ALLOC, BULK, FREE, FREE_BULK, DOUBLE_FREE = 0, 1, 2, 4, 5, 6, 7
FOREIGN_FREE, ALLOC_BUFFER, ALLOC_SLOT, COPY_BUFFER, FREE_BUFFER, BAD_FREE_BUFFER = 8, 9, 11, 12, 13, 14
CHAIN_FRONT, CHAIN_BACK, UNCHAIN_FRONT, UNCHAIN_BACK = 15, 16, 17, 18
ADJUST, RESTORE, REINIT, COPY_P2P, COPY_INTO, DROP, EXHAUST = 19, 20, 21, 22, 23, 24, 25


def packet_pool(slot, descriptors, overflow, reserved=None):
    """A small packet pool (1..300 descriptors) with an overflow of 0..63."""
    out = u8(CREATE_PACKETS, slot, 1) + u16(descriptors - 1) + u8(1) + u16(overflow)
    return out + (u8(1) + u16(reserved) if reserved is not None else u8(0))


def buffer_pool(slot, descriptors, slot_size=None):
    out = u8(CREATE_BUFFERS, slot, 1) + u16(descriptors - 1)
    return out + (u8(1, slot_size - 1) if slot_size else u8(0))


def alloc_buffer(slot, offset, length):
    return u8(ALLOC_BUFFER, slot) + u16(offset) + u16(length) + u8(1)


POOL_SEEDS = {
    # 4 static + 2 overflow, RESOURCES, frees, a double free, the handle dropped while
    # packets are out, then the rest freed (the pool drains).
    "overflow-and-drain": packet_pool(0, 4, 2) + u8(ALLOC, 0) * 7 + u8(FREE, 0, 0)
    + u8(DOUBLE_FREE, 0, 0, 1) + u8(DOUBLE_FREE, 0, 0, 0) + u8(ALLOC, 0) + u8(DROP, 1, 0)
    + u8(FREE, 0, 1) * 6,
    # Chains: buffers mapped, chained at both ends, unchained, adjusted, copied into and
    # between packets, a chained buffer's free refused, reinitialize, frees.
    "chains": packet_pool(0, 8, 0) + buffer_pool(0, 8) + u8(ALLOC, 0) * 2
    + alloc_buffer(0, 0, 100) + alloc_buffer(0, 100, 200) + alloc_buffer(0, 300, 50)
    + alloc_buffer(0, 1000, 300) + u8(CHAIN_BACK, 0, 0) + u8(CHAIN_FRONT, 0, 1)
    + u8(CHAIN_BACK, 0, 2) + u8(CHAIN_BACK, 1, 3) + u8(CHAIN_BACK, 1, 0)
    + u8(COPY_INTO, 0) + u16(320) + u8(7) + u8(COPY_P2P, 1, 0, 0) + u16(10) + u8(0) + u16(200)
    + u8(0) + u16(5) + u8(ADJUST, 1, 0) + u16(20) + u8(ADJUST, 1, 0) + u16(4000)
    + u8(FREE_BUFFER, 0, 0) + u8(UNCHAIN_BACK, 0) + u8(UNCHAIN_FRONT, 0) + u8(RESTORE, 1)
    + u8(REINIT, 0, 9) + u8(FREE, 1, 0) + u8(FREE_BUFFER, 0, 1) * 4 + u8(FREE, 0, 0),
    # A pool just under 0xFFFF asking for 0xFFFF overflow: clamped, then exhausted.
    "near-max-clamp-exhaust": u8(CREATE_PACKETS, 0, 5) + u16(40) + u8(3) + u8(0)
    + u8(EXHAUST, 0),
    # Refusals: 0 descriptors, over 0xFFFF, ProtocolReserved over 4096; buffer pools of 0
    # and over the limit.
    "create-refusals": u8(CREATE_PACKETS, 0, 0, 0, 0) + u8(CREATE_PACKETS, 1, 6) + u16(0)
    + u8(0, 0) + packet_pool(2, 10, 0, reserved=4100) + u8(CREATE_BUFFERS, 0, 0, 0)
    + u8(CREATE_BUFFERS, 1, 6) + u16(1) + u8(0),
    # Slot buffers, CopyBuffer (in range and not), foreign and double buffer frees, a
    # buffer pool dropped with buffers out.
    "buffers": buffer_pool(0, 3, slot_size=32) + buffer_pool(1, 2) + u8(ALLOC_SLOT, 0) * 4
    + u8(COPY_BUFFER, 1, 0, 0, 4, 0, 8) + u8(COPY_BUFFER, 1, 0, 0, 30, 0, 8)
    + u8(BAD_FREE_BUFFER, 0, 0, 1) + u8(FREE_BUFFER, 0, 0) + u8(BAD_FREE_BUFFER, 1, 0, 0)
    + u8(DROP, 0, 0) + u8(FREE_BUFFER, 0, 0) * 3,
    # Bulk allocate into overflow, FreeBulk with a packet listed twice and a stale one.
    "bulk": packet_pool(0, 16, 8) + packet_pool(1, 4, 0) + u8(BULK, 0, 20) + u8(BULK, 0, 5)
    + u8(ALLOC, 1) + u8(FOREIGN_FREE, 0, 1) + u8(FREE_BULK, 0, 4, 0, 1, 1, 20)
    + u8(FREE_BULK, 0, 3, 0x80, 2, 3),
}

RPC_SEEDS = {
    "bind": ("BindRequest", 'interface: "veth0" options { snaplen: 2048 filter: "udp" '
             'pcap_timeout { nanos: 2000000 } rx { packet_descriptors: 64 } rx_preallocate: 16 }'),
    "unbind": ("UnbindRequest", 'interface: "veth1"'),
    "get-stats": ("GetStatsRequest", 'interface: "veth0"'),
    "list-pools": ("ListPoolsRequest", ''),
    "watch-stats": ("WatchStatsRequest", 'interval { nanos: 100000000 }'),
    "tune-pool": ("TunePoolRequest", 'interface: "veth0" pool: POOL_NAME_TX_PACKETS '
                  'descriptors: 65000 overflow: 1000'),
    "send-frames": ("SendFramesRequest", 'interface: "veth0" frames: "' + "\\377" * 6
                    + "\\002" * 6 + '\\210\\265' + "x" * 46 + '" frames: "y" '
                    'wait_for_resources { seconds: 1 } frames_per_second: 1000 repeat: 2'),
    "send-frames-recorded": ("SendFramesRequest", 'interface: "veth0" frames: "' + "\\377" * 6
                             + "\\002" * 6 + '\\210\\265' + "x" * 46 + '" frames: "y" '
                             'offsets_ns: 0 offsets_ns: 100000 multiplier: 2 max_burst: 16 '
                             'limit: 3 duration { seconds: 5 } repeat: 2'),
    "send-frames-mbps": ("SendFramesRequest", 'interface: "veth0" frames: "z" '
                         'megabits_per_second: 100 duration { nanos: 500000000 }'),
    "send-pcap-records": ("SendFramesRequest", 'interface: "veth0" pcap_records: "'
                          + "".join("\\%03o" % b for b in pcap_records([60, 1]))
                          + '" offsets_ns: 0 offsets_ns: 2000 repeat: 2'),
    "capture": ("CaptureRequest", 'interface: "veth1" filter: "udp and dst port 9" '
                'snaplen: 128 count: 10 queue_frames: 64 max_batch_frames: 8'),
}


def encode(message, text):
    return subprocess.run(
        ["protoc", f"--encode=pktpool.v1.{message}", f"-I{PROTO}",
         str(PROTO / "pktpool/v1/pktpool.proto")],
        input=text.encode(), capture_output=True, check=True).stdout


def main():
    pool_dir = HERE / "pool_ops_fuzzer"
    pool_dir.mkdir(exist_ok=True)
    for name, data in POOL_SEEDS.items():
        (pool_dir / name).write_bytes(data)
    rpc_dir = HERE / "rpc_request_fuzzer"
    rpc_dir.mkdir(exist_ok=True)
    limits = u32(4096) + u32(65535)
    for name, (message, text) in RPC_SEEDS.items():
        (rpc_dir / name).write_bytes(limits + encode(message, text))


if __name__ == "__main__":
    main()
