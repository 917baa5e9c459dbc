"""RepairBuffer: packets back in order, holes NACKed and waited for, frames whole or not at all."""

from __future__ import annotations

import random

from pexbot.rtc.repair_buffer import RepairBuffer

FPS_TICKS = 6000  # RTP ticks between frames (90 kHz, 15 fps)


def video_packets(
    frames: int, per_frame: int, first_seq: int = 100
) -> list[tuple[int, int, bool, bytes, bool]]:
    """(seq, timestamp, marker, data, starts) of ``frames`` frames of ``per_frame`` packets."""
    out = []
    seq = first_seq
    for f in range(frames):
        for p in range(per_frame):
            data = bytes([f % 256, p])
            out.append((seq & 0xFFFF, 1000 + f * FPS_TICKS, p == per_frame - 1, data, p == 0))
            seq += 1
    return out


def feed(
    buffer: RepairBuffer, packets: list[tuple[int, int, bool, bytes, bool]], now: float = 0.0
) -> list[int]:
    """Frame numbers handed over (from the timestamp)."""
    out = []
    for seq, ts, marker, data, starts in packets:
        out += [
            (f.timestamp - 1000) // FPS_TICKS
            for f in buffer.add(seq, ts, marker, data, starts, now)
        ]
    return out


def test_in_order_packets_make_each_frame_at_its_marker() -> None:
    buffer = RepairBuffer(audio=False)
    packets = video_packets(4, 3)
    got = []
    for i, (seq, ts, marker, data, starts) in enumerate(packets):
        frames = buffer.add(seq, ts, marker, data, starts, 0.0)
        assert bool(frames) == marker, i  # no frame before its marked packet, one with it
        got += frames
    assert [f.data for f in got] == [bytes([f, 0, f, 1, f, 2]) for f in range(4)]
    assert buffer.missing == 0 and buffer.frames == 4


def test_a_lost_packet_is_nacked_waited_for_and_the_frames_behind_it_leave_with_the_repair() -> (
    None
):
    buffer = RepairBuffer(audio=False, nack_every=0.2, nack_tries=3)
    packets = video_packets(5, 2)
    lost = packets.pop(3)  # frame 1's marked packet
    assert feed(buffer, packets[:3], 0.0) == [0]
    assert feed(buffer, packets[3:], 0.05) == []  # frames 2-4 are whole but wait behind the hole
    assert buffer.due_nacks(0.05) == [lost[0]]
    assert buffer.due_nacks(0.1) == []  # asked already
    assert buffer.due_nacks(0.3) == [lost[0]]  # asked again
    assert feed(buffer, [lost], 0.4) == [1, 2, 3, 4]
    assert buffer.repaired == 1 and buffer.missing == 0 and buffer.dropped_frames == 0
    assert not buffer.need_keyframe


def test_nacks_stop_after_their_tries() -> None:
    buffer = RepairBuffer(audio=False, nack_every=0.1, nack_tries=2, max_wait=10)
    packets = video_packets(3, 1)
    feed(buffer, [packets[0], packets[2]], 0.0)
    asked = [t for t in (0.0, 0.1, 0.2, 0.3, 0.4) if buffer.due_nacks(t)]
    assert asked == [0.0, 0.1]


def test_a_hole_not_repaired_in_time_drops_only_its_frame_and_asks_for_a_keyframe() -> None:
    buffer = RepairBuffer(audio=False, max_wait=0.5)
    packets = video_packets(4, 3)
    del packets[4]  # the middle packet of frame 1
    assert feed(buffer, packets[:6], 0.0) == [0]
    assert feed(buffer, packets[6:9], 0.3) == []  # still waiting
    assert not buffer.need_keyframe
    assert feed(buffer, packets[9:], 0.6) == [2, 3]  # given up: frame 1 dropped, never half
    assert buffer.need_keyframe and buffer.dropped_frames == 1 and buffer.given_up == 1
    assert buffer.missing == 0


def test_a_lost_first_packet_drops_the_frame_the_rest_of_it_is_skipped() -> None:
    buffer = RepairBuffer(audio=False, max_wait=0.0)
    packets = video_packets(3, 3)
    del packets[3]  # frame 1's first packet
    assert feed(buffer, packets, 0.0) == [0, 2]
    assert buffer.dropped_frames == 1


def test_a_stream_joined_mid_frame_starts_at_the_next_frame() -> None:
    buffer = RepairBuffer(audio=False)
    packets = video_packets(3, 3)[1:]
    assert feed(buffer, packets) == [1, 2]
    assert buffer.need_keyframe and buffer.dropped_frames == 1


def test_reordered_packets_are_put_back_in_order_nothing_lost() -> None:
    buffer = RepairBuffer(audio=False)
    packets = video_packets(30, 2)
    rng = random.Random(7)
    shuffled = packets[:]
    shuffled[0], shuffled[2] = shuffled[2], shuffled[0]  # frame 1's head first, then frame 0
    shuffled[1], shuffled[2] = shuffled[2], shuffled[1]  # (its head before its tail)
    for i in range(3, len(shuffled) - 3, 3):  # swaps within a few packets, as a jittery path
        j = i + rng.randrange(1, 4)
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    assert feed(buffer, shuffled) == list(range(30))
    assert buffer.dropped_frames == 0 and buffer.missing == 0


def test_sequence_numbers_wrap_around() -> None:
    buffer = RepairBuffer(audio=False)
    packets = video_packets(10, 3, first_seq=0xFFF0)
    assert feed(buffer, packets) == list(range(10))


def test_duplicates_and_late_packets_are_dropped_and_counted() -> None:
    buffer = RepairBuffer(audio=False)
    packets = video_packets(3, 1)
    assert feed(buffer, [*packets, packets[0], packets[1]]) == [0, 1, 2]
    assert buffer.late == 2


def test_a_jump_past_the_capacity_starts_afresh() -> None:
    buffer = RepairBuffer(audio=False, capacity=100)
    assert feed(buffer, video_packets(2, 1, first_seq=10)) == [0, 1]
    assert feed(buffer, video_packets(2, 1, first_seq=5000)) == [0, 1]
    assert buffer.resets == 1 and buffer.missing == 0


def audio_packets(n: int) -> list[tuple[int, int, bool, bytes, bool]]:
    return [(i, 1000 + i * 960, False, bytes([i]), True) for i in range(n)]


def test_audio_is_reordered_a_loss_is_given_up_after_two_later_packets_and_never_nacked() -> None:
    buffer = RepairBuffer(audio=True)
    packets = audio_packets(8)
    order = [packets[i] for i in (0, 2, 1, 3, 5, 6, 7)]  # 1 and 2 swapped, 4 lost
    frames = [f.data[0] for p in order for f in buffer.add(*p, now=0.0)]
    assert frames == [0, 1, 2, 3, 5, 6, 7]
    assert buffer.due_nacks(1.0) == [] and buffer.given_up == 1 and buffer.dropped_frames == 0
    assert not buffer.need_keyframe
