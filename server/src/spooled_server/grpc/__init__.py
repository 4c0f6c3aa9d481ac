"""gRPC (spooled.v1) servicers over the same services as the REST API."""

import os

# The server process forks only to run PostgreSQL tools (pg_ctl), never to use gRPC in the
# child, so grpc's fork handlers are not needed; left on, they print "skipping fork()
# handlers" whenever the embedded PostgreSQL is stopped. Read when grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
