"""Every number that shapes the SDK's HTTP behaviour, in one file.

The retry and breaker names and values are the same in the four Spooled SDKs (Python, Node,
Go, PHP), so a scenario in the conformance suite behaves identically in each of them.
"""

from __future__ import annotations

# Where the hosted service lives; self-hosted servers pass base_url="http://localhost:8080".
DEFAULT_BASE_URL = "https://api.spooled.cloud"
# Every route except /health* and /metrics lives under this prefix.
API_PREFIX = "/api/v1"

# Seconds a whole request may take, and the part of it spent connecting.
DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0

# ---- retry policy (see _retry.py) ----
# Backoff before retry n (1-based) is INITIAL_RETRY_DELAY * RETRY_FACTOR**(n-1), capped at
# MAX_RETRY_DELAY, minus up to RETRY_JITTER of itself at random so that many clients do not
# retry in step (shortening, never lengthening, keeps MAX_RETRY_DELAY a real cap).
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
RETRY_FACTOR = 2.0
RETRY_JITTER = 0.25
# Retries after the first attempt (so at most DEFAULT_MAX_RETRIES + 1 attempts).
DEFAULT_MAX_RETRIES = 3
# Longest Retry-After the SDK waits out; a longer one ends the retries and surfaces the error
# (its retry_after tells the caller when to come back).
RETRY_AFTER_CAP = 60.0

# ---- circuit breaker (see _breaker.py) ----
# Open after this many failures in a row (a success clears the count; failures older than the
# window no longer count)...
BREAKER_FAILURE_THRESHOLD = 5
BREAKER_WINDOW_SECONDS = 60.0
# ...stay open this long (CircuitBreakerConfig.timeout), then let trial calls through (half-open)...
BREAKER_TIMEOUT = 30.0
# ...and close again after this many successful trial calls.
BREAKER_SUCCESS_THRESHOLD = 3

# ---- authentication ----
# A JWT obtained from auth.login is renewed this many seconds before it expires.
JWT_REFRESH_MARGIN = 60.0

# ---- long polling ----
# A claim with wait_ms gets this much extra time on top of the wait before it times out.
LONG_POLL_TIMEOUT_MARGIN = 10.0
