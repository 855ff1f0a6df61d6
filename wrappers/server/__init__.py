"""The server: launcher, HTTP worker, drain and shutdown, REST and gRPC services, metrics, payload
log, and every change made to seldon_core (patches)."""
