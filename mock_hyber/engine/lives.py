"""A job's lives as numpy columns: every message's script planned and compiled at once.

The contract:

- `draw_legs` draws the random profile's decision for every leg of n messages with one numpy
  Generator per job (`job_rng(seed, client_id, job_number)`): the same distributions as
  `ChannelProfile.leg` (weights picked the same way, log-normal delays clipped to [min, max],
  whole ms), deterministic for the same seed, account and job number. It does not reproduce the
  BLAKE2b stream of `Draws`: a message's outcome now depends on its job and its position in it.
- `compile_lives` is `plan.compile_plan` for all n messages at once: for every message,
  `Lives.script(i)` is byte for byte what `compile_plan(Plan("profile", legs_i), route,
  catalogue)` returns for the same leg decisions (tests/test_lives.py checks it by property).
- A message's life is a pure function of its script and the offset t (ms since the job's
  begin): a moment has happened when its offset is <= t. The evaluators (`steps_at`,
  `states_at`, `updated_at`, `counts_at`) give, for every message at once, what the engine's
  walk of the script would have reached at t; nothing runs per message.
- Messages decided otherwise (magic numbers, scenario rules, forced transitions) are compiled by
  the scalar code and stored with `set_script`; `script(i)` and the evaluators honour them.

The moments are held in one (width, n) table of MOMENT_DTYPE, timeline's packed 10-byte
moment: message i's script is column i's first count[i] entries, so `script(i)` is one
copy of them. Padding after a message's last moment has the offset NEVER, which no evaluation
time reaches. Slot-major because every evaluator and the compiler's walk go one moment
position at a time for all messages. Memory: 10 bytes per table cell plus 15 per message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from mock_hyber.codes import Catalogue
from mock_hyber.engine.plan import OUTCOMES, SEEN_CHANNELS, LegPlan, Route, _outcome_code
from mock_hyber.engine.profile import Delay, Profile
from mock_hyber.engine.timeline import FINAL, MOMENT_SIZE, Kind
from mock_hyber.slicing import at_once

# One moment as timeline packs it: "<IBBI" is offset, kind|FINAL, leg, code, 10 bytes, unaligned.
MOMENT_DTYPE = np.dtype([("offset", "<u4"), ("kind", "u1"), ("leg", "u1"), ("code", "<u4")])
assert MOMENT_DTYPE.itemsize == MOMENT_SIZE

NEVER = 0xFFFFFFFF  # the offset of padding and of "no such moment"; reserved, never a real one
_PADDING = np.array([(NEVER, 0, 0, 0)], MOMENT_DTYPE).tobytes()
_PLAIN = 0x7F  # kind byte without its FINAL bit
_MAX_MOMENTS = 255  # a message's moment count is held in a uint8
_MAX_LEGS = 6  # 5 candidate slots per leg, slot numbers < 32 in the sort key

# Outcomes as small ints: the index in plan.OUTCOMES.
O_DELIVERED, O_FAILED, O_EXPIRED, O_LATE = (OUTCOMES.index(name) for name in OUTCOMES)

# Message states as small ints: the values of store.models.State (REJECTED = 0 is not a life).
PENDING, ACTIVE, DELIVERED, FAILED = 1, 2, 3, 4

_FAR = 1 << 40  # the time of a candidate that does not exist: after any real moment
_KEY_TIME, _KEY_SLOT = 13, 8  # a candidate's sort key: time << 13 | slot << 8 | kind byte
_MISSING = _FAR << _KEY_TIME
# Plain ints for the per-step comparisons: an IntEnum operand costs numpy a conversion each time.
_START, _LATE, _SEEN, _CLICK = int(Kind.START), int(Kind.LATE), int(Kind.SEEN), int(Kind.CLICK)
_DELIVERED, _FAILED, _EXPIRED, _FALLBACK = (
    int(Kind.DELIVERED),
    int(Kind.FAILED),
    int(Kind.EXPIRED),
    int(Kind.FALLBACK),
)
_END_KIND = np.array([Kind.DELIVERED, Kind.FAILED, Kind.EXPIRED, Kind.FALLBACK], np.uint8)

Int64s = npt.NDArray[np.int64]
UInt8s = npt.NDArray[np.uint8]
UInt32s = npt.NDArray[np.uint32]
Rows = npt.NDArray[np.intp] | slice | None


def job_rng(seed: int, client_id: str, job_number: int) -> np.random.Generator:
    """The Generator of one job's draws, stable across runs and processes (no `hash()`)."""
    digest = hashlib.blake2b(f"{seed}/{client_id}/{job_number}".encode(), digest_size=16).digest()
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int.from_bytes(digest))))


# -- leg decisions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegColumns:
    """The leg decisions of n messages: one row per channel of the route, one column a message.

    outcome: index in plan.OUTCOMES; after_ms: as LegPlan.after_ms; code: the hyber_status of
    the outcome (what plan._outcome_code gives); seen_after_ms: -1 for none; clicks and
    clicks_after_ms as in LegPlan. Times are whole ms >= 0.
    """

    outcome: UInt8s
    after_ms: Int64s
    code: Int64s
    seen_after_ms: Int64s
    clicks: Int64s
    clicks_after_ms: Int64s

    @property
    def n(self) -> int:
        return int(self.outcome.shape[1])

    @property
    def legs(self) -> int:
        return int(self.outcome.shape[0])

    def columns(self, start: int, stop: int) -> LegColumns:
        """The decisions of messages start..stop (views, not copies)."""
        return LegColumns(*(getattr(self, name)[:, start:stop] for name in self.__slots__))

    @classmethod
    def from_plans(
        cls, plans: Sequence[Sequence[LegPlan]], route: Route, catalogue: Catalogue
    ) -> LegColumns:
        """Columns of explicit LegPlans (one sequence per message, one LegPlan per channel)."""
        shape = (len(route.channels), len(plans))
        columns = {name: np.zeros(shape, np.int64) for name in cls.__slots__}
        for i, legs in enumerate(plans):
            for j, channel in enumerate(route.channels):
                leg = legs[j]
                if leg.after_ms < 0 or leg.clicks < 0 or leg.clicks_after_ms < 0:
                    raise ValueError("leg times and clicks are >= 0")
                if leg.seen_after_ms is not None and leg.seen_after_ms < 0:
                    raise ValueError("seen_after_ms is >= 0 or None")
                columns["outcome"][j, i] = OUTCOMES.index(leg.outcome)
                columns["after_ms"][j, i] = leg.after_ms
                columns["code"][j, i] = _outcome_code(catalogue, channel, leg, route)
                seen = leg.seen_after_ms
                columns["seen_after_ms"][j, i] = -1 if seen is None else seen
                columns["clicks"][j, i] = leg.clicks
                columns["clicks_after_ms"][j, i] = leg.clicks_after_ms
        columns["outcome"] = columns["outcome"].astype(np.uint8)
        return cls(**columns)


def draw_legs(
    profile: Profile, route: Route, n: int, rng: np.random.Generator, catalogue: Catalogue
) -> LegColumns:
    """The random profile's decisions for every leg of n messages on `route`."""
    shape = (len(route.channels), n)
    outcome = np.zeros(shape, np.uint8)
    after = np.zeros(shape, np.int64)
    code = np.zeros(shape, np.int64)
    seen = np.full(shape, -1, np.int64)
    clicks = np.zeros(shape, np.int64)
    clicks_after = np.zeros(shape, np.int64)
    for j, channel in enumerate(route.channels):
        chosen = profile.channel(channel)
        picked = np.array([OUTCOMES.index(name) for name in chosen.outcomes], np.uint8)
        leg_outcome = outcome[j]
        leg_outcome[:] = picked[_pick(chosen.outcomes, rng.random(n))]
        # The code of each outcome, then the failure event's for failed legs: the same rules as
        # compile_plan's (_outcome_code), looked up once per leg, not per message.
        by_outcome = [_outcome_code(catalogue, channel, LegPlan(name), route) for name in OUTCOMES]
        code[j] = np.array(by_outcome, np.int64)[leg_outcome]
        failed = np.flatnonzero(leg_outcome == O_FAILED)
        events = chosen.failure_events
        event_codes = np.array(
            [_outcome_code(catalogue, channel, LegPlan("failed", event=e), route) for e in events],
            np.int64,
        )
        code[j, failed] = event_codes[_pick(events, rng.random(failed.size))]
        # Delays: draw the common case (delivery) for all, then redraw the few others; only
        # the messages that have a seen or clicks draw their delay. Fewer exp() calls.
        after[j] = _draw_ms(chosen.delivery_delay, n, rng)
        after[j, failed] = _draw_ms(chosen.failure_delay, failed.size, rng)
        late = np.flatnonzero(leg_outcome == O_LATE)
        after[j, late] = _draw_ms(chosen.late_delay, late.size, rng)
        after[j, leg_outcome == O_EXPIRED] = 0  # as LegPlan("expired")
        delivering = (leg_outcome == O_DELIVERED) | (leg_outcome == O_LATE)
        if chosen.seen is not None and channel in SEEN_CHANNELS:
            has_seen = np.flatnonzero(delivering & (rng.random(n) < chosen.seen.probability))
            seen[j, has_seen] = _draw_ms(chosen.seen.delay, has_seen.size, rng)
        if chosen.clicks is not None:
            has = np.flatnonzero(delivering & (rng.random(n) < chosen.clicks.probability))
            clicks[j, has] = 1 + (rng.random(has.size) * chosen.clicks.max).astype(np.int64)
            clicks_after[j, has] = _draw_ms(chosen.clicks.delay, has.size, rng)
    return LegColumns(outcome, after, code, seen, clicks, clicks_after)


def _pick(weights: dict[str, float], uniforms: npt.NDArray[np.float64]) -> UInt8s:
    """profile._pick for many uniforms: the first name whose running sum passes the point."""
    values = list(weights.values())
    points = uniforms * float(sum(values))
    # _pick subtracts the weights one by one; the running sum can differ from that in the last
    # bit, which moves a point by at most one ulp: no measurable effect on the frequencies.
    chosen = np.zeros(points.shape, np.uint8)
    for bound in np.cumsum(values)[:-1]:  # past the last bound: the last name, as _pick
        chosen += points >= bound
    return chosen


def _draw_ms(delay: Delay, n: int, rng: np.random.Generator) -> Int64s:
    """Delay.draw_ms for n messages: log-normal seconds clipped to [min, max], whole ms."""
    seconds = delay.median * np.exp(delay.sigma * rng.standard_normal(n))
    return (np.clip(seconds, delay.min, delay.max) * 1000).astype(np.int64)


# -- the compiler ----------------------------------------------------------------------------


def compile_lives(legs: LegColumns, route: Route, catalogue: Catalogue) -> Lives:
    """compile_plan for every message of `legs` at once."""
    n, count = legs.n, len(route.channels)
    if legs.legs < count:
        raise ValueError("a plan needs one leg per channel")
    if count > _MAX_LEGS:
        raise ValueError(f"at most {_MAX_LEGS} channels (a slot number has 5 bits)")
    # Every candidate moment of compile_plan as one int64 sort key per (message, slot):
    # time << 13 | slot << 8 | kind byte. Slots are numbered in compile_plan's generation
    # order, so sorting the keys is its (time, order) sort; a missing candidate sorts last.
    # A slot no message uses is left out (e.g. LATE on a channel without late outcomes).
    columns: list[Int64s] = []
    slot_codes: list[Any] = []  # per slot: a constant code, or one per message
    slot_legs: list[int] = []
    present = np.zeros(n, np.int64)  # candidates per message: the depth of the walk

    def put(valid: npt.NDArray[np.bool_], at: Int64s, kind: Any, code: Any, leg: int) -> None:
        if not valid.any():
            return
        if np.max(at, where=valid, initial=0) >= NEVER:
            # compile_plan's struct.pack refuses these too; here they would wrap silently.
            raise ValueError("a moment's offset does not fit the script's uint32 ms")
        slot = len(columns)
        key = at << _KEY_TIME
        key |= slot << _KEY_SLOT | kind
        np.copyto(key, _MISSING, where=~valid)
        columns.append(key)
        slot_codes.append(code)
        slot_legs.append(leg)
        np.add(present, valid, out=present)

    started = np.zeros(n, np.int64)
    alive = np.ones(n, bool)  # no earlier leg delivered (compile_plan's loop has not broken)
    for j, channel in enumerate(route.channels):
        ttl_ms = route.ttls[j] * 1000
        outcome, after, code = legs.outcome[j], legs.after_ms[j], legs.code[j]
        delivered, late = outcome == O_DELIVERED, outcome == O_LATE
        timed = delivered | (outcome == O_FAILED)
        end_at = started + np.where(timed, np.minimum(after, ttl_ms), ttl_ms)
        late_at = started + ttl_ms + np.maximum(1, after)
        delivered_at = np.where(delivered, end_at, late_at)
        delivering = alive & (delivered | late)
        put(alive, started, int(Kind.START), catalogue.event(channel, "sent").code, j)
        end_code = np.where(late, 0, code)  # FALLBACK carries no code
        put(alive, end_at, _END_KIND[outcome].astype(np.int64), end_code, j)
        put(alive & late, late_at, int(Kind.LATE), code, j)
        if channel in SEEN_CHANNELS:
            seen_after = legs.seen_after_ms[j]
            seen = catalogue.event(channel, "seen").code
            put(delivering & (seen_after >= 0), delivered_at + seen_after, int(Kind.SEEN), seen, j)
        if route.ctr[j]:
            clicks = legs.clicks[j]
            click_at = delivered_at + legs.clicks_after_ms[j]
            put(delivering & (clicks != 0), click_at, int(Kind.CLICK), clicks, j)
        started = np.where(delivered, started, end_at)
        alive &= ~delivered

    width = len(columns)
    depth = int(present.max(initial=0))
    # Sorted with a sorting network over slot-major rows: no transposes, contiguous rows
    # for the cascade's walk, which goes one sorted position at a time.
    steps = _sorted_rows(columns)[:depth]
    leg_of_slot = np.zeros(32, np.uint8)
    leg_of_slot[:width] = slot_legs
    kinds = [(row & 0xFF).astype(np.uint8) for row in steps]
    step_legs = [leg_of_slot[(row >> _KEY_SLOT) & 0x1F] for row in steps]
    keep, final = _cascade(kinds, step_legs, count)

    # The kept moments with their FINAL bit; sorting again moves the dropped ones to the end.
    # A dropped key decodes to padding: offset NEVER, kind 0, leg 0 and the zero code of
    # slot `width`.
    dropped = (NEVER << _KEY_TIME) | (width << _KEY_SLOT)
    marked = steps  # updated in place: the walk is done with them
    for key, keep_k, final_k in zip(marked, keep, final, strict=True):
        np.bitwise_or(key, final_k.view(np.uint8) << 7, out=key)  # FINAL = 0x80
        np.copyto(key, dropped, where=~keep_k)
    kept = np.sum(keep, axis=0, dtype=np.uint8) if keep else np.zeros(n, np.uint8)
    size = int(kept.max(initial=0))
    if size > _MAX_MOMENTS:
        raise ValueError("more moments per message than a Lives row holds")
    codes = np.zeros((width + 1, n), np.uint32)  # slot-major: message i's code at slot * n + i
    for index, code in enumerate(slot_codes):
        codes[index] = code
    codes = codes.reshape(-1)
    every = np.arange(n)
    table = np.empty((size, n), MOMENT_DTYPE)
    # The derived columns on the way: the first START, the FINAL moment (at most one).
    first_ms = np.full(n, NEVER, np.int64)
    final_key = np.full(n, dropped, np.int64)
    for k, key in enumerate(_sorted_rows(marked)[:size]):
        slot = (key >> _KEY_SLOT) & 0x1F
        kind = (key & 0xFF).astype(np.uint8)
        offset = key >> _KEY_TIME
        moment = table[k]
        moment["offset"] = offset
        moment["kind"] = kind
        moment["leg"] = leg_of_slot[slot]
        slot *= n
        slot += every
        moment["code"] = codes.take(slot)
        np.copyto(first_ms, offset, where=(kind == _START) & (first_ms == NEVER))
        np.copyto(final_key, key, where=kind >= FINAL)
    has = final_key != dropped
    final_slot = (final_key >> _KEY_SLOT) & 0x1F
    derived = (
        first_ms,
        final_key >> _KEY_TIME,
        np.where(has, final_key & _PLAIN, 0),
        leg_of_slot[final_slot],
        codes.take(final_slot * n + every),
    )
    return Lives(table, kept, derived)


def _sorted_rows(rows: list[Int64s]) -> list[Int64s]:
    """Sort across rows, message by message (column-wise), with Batcher's odd-even merge
    network: elementwise minimum/maximum of whole rows, a few dozen for up to 20 rows.
    The rows are reused as the outputs (they must be owned by the caller)."""
    rows = list(rows)
    if not rows:
        return rows
    spare = np.empty_like(rows[0])  # one buffer cycles through: no allocation per comparator
    for a, b in _network(len(rows)):
        low, high = rows[a], rows[b]
        np.minimum(low, high, out=spare)
        np.maximum(low, high, out=high)
        rows[a], spare = spare, low
    return rows


@cache
def _network(size: int) -> tuple[tuple[int, int], ...]:
    """The comparators of Batcher's odd-even merge sort for `size` inputs (padded to a power
    of two, the comparators reaching padding left out: padding would hold the largest keys)."""
    padded = 1
    while padded < size:
        padded *= 2
    pairs = []
    p = 1
    while p < padded:
        k = p
        while k >= 1:
            for j in range(k % p, padded - k, 2 * k):
                for i in range(min(k, padded - j - k)):
                    if (i + j) // (p * 2) == (i + j + k) // (p * 2) and i + j + k < size:
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple(pairs)


def _cascade(
    kinds: list[UInt8s], legs: list[UInt8s], leg_count: int
) -> tuple[list[npt.NDArray[np.bool_]], list[npt.NDArray[np.bool_]]]:
    """plan._apply_cascade over the time-sorted moments, one sorted position at a time for
    all messages: which moments are kept, which are final.

    The sets of compile_plan (late_pending, delivered_legs) are bit masks, one bit per leg.
    """
    n = kinds[0].shape[0] if kinds else 0
    keep: list[npt.NDArray[np.bool_]] = []
    final: list[npt.NDArray[np.bool_]] = []
    settled = np.zeros(n, bool)
    late_pending = np.zeros(n, np.uint8)
    delivered_legs = np.zeros(n, np.uint8)
    for kind, leg in zip(kinds, legs, strict=True):
        bit = np.left_shift(1, leg, dtype=np.uint8)
        walking = (kind != 0) & ~settled
        is_late = kind == _LATE
        # Once settled, only a pending leg's late delivery, and seen/clicks of delivered legs.
        late_after = settled & is_late & ((late_pending & bit) != 0)
        follow_up = (kind == _SEEN) | (kind == _CLICK)
        follow_up &= settled & ((delivered_legs & bit) != 0)
        delivery = walking & ((kind == _DELIVERED) | is_late)
        gave_up = walking & ((kind == _FAILED) | (kind == _EXPIRED))
        gave_up &= (leg == leg_count - 1) & (late_pending == 0)
        keep.append(walking | late_after | follow_up)
        final.append(delivery | gave_up)
        delivered_bits = bit * (late_after | delivery)
        late_pending |= bit * (walking & (kind == _FALLBACK))
        late_pending &= ~delivered_bits
        delivered_legs |= delivered_bits
        settled |= final[-1]
    return keep, final


# -- the lives -------------------------------------------------------------------------------


class Lives:
    """The scripts of a job's n messages, and what has happened to them at an offset t.

    `table` is (width, n): moment k of message i at [k, i], in timeline's packed layout, its
    first `count[i]` entries real, then padding (offset NEVER). Derived columns for fast reads:
    first_ms (offset of the first START, when the message becomes active), final_ms /
    final_kind (a plain Kind, 0 for none) / final_leg (the moment's leg, i.e. the channel
    index) / final_code (the FINAL moment's own code; timeline.view reports the delivering
    leg's latest code, e.g. seen, once that has happened). NEVER marks "none".
    Offsets t are ms since the job's begin; rows select messages (an index array or a slice).
    """

    __slots__ = (
        "count",
        "final_code",
        "final_kind",
        "final_leg",
        "final_ms",
        "first_ms",
        "table",
    )

    def __init__(
        self,
        table: npt.NDArray[Any],
        count: UInt8s,
        derived: tuple[npt.NDArray[Any], ...] | None = None,
    ) -> None:
        if table.dtype != MOMENT_DTYPE or table.ndim != 2 or count.shape != table.shape[1:]:
            raise ValueError("a Lives table is (width, n) of MOMENT_DTYPE with n counts")
        self.table = table
        self.count = count.astype(np.uint8)
        n = table.shape[1]
        self.first_ms = np.full(n, NEVER, np.uint32)
        self.final_ms = np.full(n, NEVER, np.uint32)
        self.final_kind = np.zeros(n, np.uint8)
        self.final_leg = np.zeros(n, np.uint8)
        self.final_code = np.zeros(n, np.uint32)
        if derived is None:
            self._derive(slice(None))
        else:  # compile_lives computed them on the way
            columns = (self.first_ms, self.final_ms, self.final_kind)
            columns += (self.final_leg, self.final_code)
            for column, values in zip(columns, derived, strict=True):
                column[:] = values

    @classmethod
    def from_scripts(cls, scripts: Sequence[bytes]) -> Lives:
        """The lives of messages compiled one by one (small jobs: numpy's per-call cost
        would outweigh the work). The scripts are compile_plan's, so trusted as they are."""
        counts = [len(script) // MOMENT_SIZE for script in scripts]
        width = max(max(counts, default=0), 1)  # one padding row at least: evaluators need it
        blob = b"".join(
            script + _PADDING * (width - count)
            for script, count in zip(scripts, counts, strict=True)
        )
        rows = np.frombuffer(blob, MOMENT_DTYPE).reshape(len(scripts), width)
        return cls(rows.T.copy(), np.array(counts, np.uint8))  # a writable table (overrides)

    @classmethod
    def concatenate(cls, parts: Sequence[Lives]) -> Lives:
        """The lives of consecutive groups of messages as one (the widest sets the width)."""
        return at_once(cls.joining(parts))

    @classmethod
    def joining(cls, parts: Sequence[Lives]) -> Generator[None, None, Lives]:
        """`concatenate`, yielding after each part is copied (a 50,000-message table is a few
        MB: copied at once, it holds the event loop for milliseconds)."""
        if len(parts) == 1:
            return parts[0]
        width = max(part.width for part in parts)
        table = np.zeros((width, sum(part.n for part in parts)), MOMENT_DTYPE)
        table["offset"] = NEVER  # padding, where a part is narrower
        yield
        start = 0
        for part in parts:
            table[: part.width, start : start + part.n] = part.table
            start += part.n
            yield
        derived = tuple(
            np.concatenate([getattr(part, name) for part in parts])
            for name in ("first_ms", "final_ms", "final_kind", "final_leg", "final_code")
        )
        counts = np.concatenate([part.count for part in parts])
        return cls(table, counts, derived)

    @property
    def n(self) -> int:
        return int(self.table.shape[1])

    @property
    def width(self) -> int:
        return int(self.table.shape[0])

    @property
    def offsets(self) -> npt.NDArray[np.uint32]:
        return self.table["offset"]

    @property
    def kinds(self) -> UInt8s:
        return self.table["kind"]

    @property
    def legs(self) -> UInt8s:
        return self.table["leg"]

    @property
    def codes(self) -> UInt32s:
        return self.table["code"]

    @property
    def nbytes(self) -> int:
        columns = (self.table, self.count, self.first_ms, self.final_ms)
        columns += (self.final_kind, self.final_leg, self.final_code)
        return sum(column.nbytes for column in columns)

    # -- scripts -------------------------------------------------------------------------------

    def script(self, i: int) -> bytes:
        """Message i's script in timeline.pack_script's format (its override if it has one)."""
        return self.table[: self.count[i], i].tobytes()

    def set_script(self, i: int, script: bytes) -> None:
        """Replace message i's script: magic numbers, scenario rules, forced transitions."""
        self.set_scripts([i], [script])

    def set_scripts(self, indices: Sequence[int], scripts: Sequence[bytes]) -> None:
        """set_script for many messages, with one widening of the table at most."""
        if len(indices) != len(scripts):
            raise ValueError("one script per index")
        parsed = [_parse(script) for script in scripts]
        longest = max((len(moments) for moments in parsed), default=0)
        if longest > self.width:
            # Rare (a forced moment, a long scenario): every message gets the padding.
            extra = np.zeros((longest - self.width, self.n), MOMENT_DTYPE)
            extra["offset"] = NEVER
            self.table = np.concatenate([self.table, extra], axis=0)
        for i, moments in zip(indices, parsed, strict=True):
            column = self.table[:, i]
            column[: len(moments)] = moments
            column[len(moments) :] = (NEVER, 0, 0, 0)
            self.count[i] = len(moments)
        self._derive(np.asarray(indices, np.intp))

    def recode(self, rows: npt.NDArray[np.intp], leg: int, old: int, new: int) -> None:
        """Code `old` becomes `new` on leg `leg` of these messages (a Viber delivery of a text
        that matched no template is an ordinary one)."""
        cells = self.table[:, rows]
        hit = (cells["leg"] == leg) & (cells["code"] == old)
        if hit.any():
            codes = cells["code"]
            codes[hit] = new
            cells["code"] = codes
            self.table[:, rows] = cells
            self._derive(rows)

    def _derive(self, rows: npt.NDArray[np.intp] | slice) -> None:
        table = self.table[:, rows]
        width, m = table.shape
        if m == 0 or width == 0:
            return
        flat = table.reshape(-1)
        every = np.arange(m)
        kinds = table["kind"]
        first = flat[((kinds & _PLAIN) == Kind.START).argmax(axis=0) * m + every]
        started = (first["kind"] & _PLAIN) == Kind.START
        self.first_ms[rows] = np.where(started, first["offset"], NEVER)
        last = flat[(kinds >= FINAL).argmax(axis=0) * m + every]
        has = last["kind"] >= FINAL
        self.final_ms[rows] = np.where(has, last["offset"], NEVER)
        self.final_kind[rows] = np.where(has, last["kind"] & _PLAIN, 0)
        self.final_leg[rows] = np.where(has, last["leg"], 0)
        self.final_code[rows] = np.where(has, last["code"], 0)

    # -- evaluators ----------------------------------------------------------------------------

    def steps_at(self, t: int, rows: Rows = None) -> npt.NDArray[np.intp]:
        """How many moments of each message have happened at t (the engine's Message.step)."""
        offsets = self.table["offset"] if rows is None else self.table["offset"][:, rows]
        if t < 0:
            return np.zeros(offsets.shape[1], np.intp)
        return np.count_nonzero(offsets <= _reachable(t), axis=0)

    def updated_at(self, t: int, rows: Rows = None) -> Int64s:
        """The offset of the moment that last changed each message's reported status at t, or
        -1: its last moment happened, but once final only a seen/read of the final leg counts
        (timeline._moves_time)."""
        table = self.table if rows is None else self.table[:, rows]
        offsets = table["offset"]
        if t < 0:
            return np.full(offsets.shape[1], -1, np.int64)
        happened = offsets <= _reachable(t)
        kinds = table["kind"]
        final = kinds >= FINAL
        after_final = np.cumsum(final, axis=0) - final > 0  # rows after the FINAL moment
        final_leg = self.final_leg if rows is None else self.final_leg[rows]
        seen_final = ((kinds & _PLAIN) == _SEEN) & (table["leg"] == final_leg[None, :])
        counts = happened & ~(after_final & ~seen_final)
        # Offsets are in time order: the last counting row has the largest offset.
        return np.where(counts, offsets.astype(np.int64), -1).max(axis=0)

    def states_at(self, t: int, rows: Rows = None) -> UInt8s:
        """PENDING before the first START, FINAL's DELIVERED or FAILED once it happened, else
        ACTIVE: the state the engine's walk gives (a blocked message goes pending -> failed)."""
        pick = slice(None) if rows is None else rows
        first_ms, final_ms, final_kind = (
            self.first_ms[pick],
            self.final_ms[pick],
            self.final_kind[pick],
        )
        reach = _reachable(t) if t >= 0 else -1
        states = np.where(first_ms <= reach, ACTIVE, PENDING).astype(np.uint8)
        delivered = (final_kind == Kind.DELIVERED) | (final_kind == Kind.LATE)
        ended = np.where(delivered, DELIVERED, FAILED).astype(np.uint8)
        return np.where(final_ms <= reach, ended, states)

    def counts_at(self, t: int, rows: Rows = None) -> dict[int, int]:
        """How many messages are in each state at t: {PENDING: .., ACTIVE: .., ...}."""
        counts = np.bincount(self.states_at(t, rows), minlength=FAILED + 1)
        return {state: int(counts[state]) for state in (PENDING, ACTIVE, DELIVERED, FAILED)}


def _reachable(t: int) -> int:
    # Padding sits at NEVER; an evaluation time beyond the uint32 range must not reach it.
    return min(t, NEVER - 1)


def _parse(script: bytes) -> npt.NDArray[Any]:
    if len(script) % MOMENT_SIZE:
        raise ValueError("a script is a whole number of moments")
    moments = np.frombuffer(script, MOMENT_DTYPE)
    if len(moments) > _MAX_MOMENTS:
        raise ValueError("more moments per message than a Lives row holds")
    offsets = moments["offset"]
    if (offsets == NEVER).any():
        raise ValueError("offset 0xFFFFFFFF is reserved")
    if (np.diff(offsets.astype(np.int64)) < 0).any():
        raise ValueError("a script's moments are in time order")
    return moments
