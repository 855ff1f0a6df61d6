"""Running here: the microservice as a process, the serving image with podman, its pod with podman
kube play; one start, wait and stop for all."""
