"""Property-management evaluation and the monthly ranking (物业考核晾晒, F-10)."""

from flows.property import notices as notices  # noqa: F401  (registers the notice kinds)
