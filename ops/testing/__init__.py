"""What the system tests and benchmarks share: real processes started on loopback
(`processes`: redis-server, daphne, runserver, the local stack), a plain HTTP + WebSocket
client (`client`), and the missing-tool rule (`tools.require_tool`)."""
