"""How one account's callbacks are delivered: per-account options over the server defaults."""

from __future__ import annotations

from dataclasses import dataclass

from mock_hyber.config import Account, Settings


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    mode: str  # single | batched
    batch_size: int
    batch_period_ms: int
    report_seen: bool
    report_late: bool
    number_as_string: bool
    hmac_secret: str | None
    inbound_url: str | None
    max_attempts: int
    backoff_ms: int
    backoff_factor: float
    backoff_max_ms: int
    jitter: float

    @classmethod
    def of(cls, settings: Settings, account: Account) -> CallbackPolicy:
        def pick(name: str) -> object:
            own = getattr(account, name)
            return getattr(settings, name) if own is None else own

        mode = str(pick("callback_mode"))
        number_type = pick("callback_number_type")
        if number_type == "auto":
            # As in the docs' examples: a number in single reports, a string in batched ones.
            number_type = "string" if mode == "batched" else "int"
        return cls(
            mode=mode,
            batch_size=int(pick("callback_batch_size")),  # type: ignore[call-overload]
            batch_period_ms=int(float(pick("callback_batch_period")) * 1000),  # type: ignore[arg-type]
            report_seen=bool(pick("callback_report_seen")),
            report_late=bool(pick("callback_report_late")),
            number_as_string=number_type == "string",
            hmac_secret=pick("callback_hmac_secret"),  # type: ignore[arg-type]
            inbound_url=pick("inbound_url"),  # type: ignore[arg-type]
            max_attempts=int(pick("callback_max_attempts")),  # type: ignore[call-overload]
            backoff_ms=int(float(pick("callback_backoff")) * 1000),  # type: ignore[arg-type]
            backoff_factor=float(pick("callback_backoff_factor")),  # type: ignore[arg-type]
            backoff_max_ms=int(float(pick("callback_backoff_max")) * 1000),  # type: ignore[arg-type]
            jitter=float(pick("callback_jitter")),  # type: ignore[arg-type]
        )

    def retry_delay_ms(self, attempt: int, uniform: float) -> int:
        """Wait before attempt `attempt + 1`: base x factor^(attempt-1), capped, +/- jitter."""
        delay = min(self.backoff_ms * self.backoff_factor ** (attempt - 1), self.backoff_max_ms)
        return int(delay * (1 + self.jitter * (2 * uniform - 1)))
