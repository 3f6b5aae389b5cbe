"""Benchmarks of Linli against the local Bot API stand-in (`make bench`, `python -m benchmarks`).

Suites: `updates` (end-to-end update throughput and latency, next to a bare aiogram bot),
`outbox` (the outbox sender under Telegram's limits, with and without injected faults) and
`memory` (peak RSS of a bot process with 10,000 members). Every suite prints tables of
figures; nothing is asserted.
"""
