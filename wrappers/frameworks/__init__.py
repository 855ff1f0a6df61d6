"""One package per framework: its runtime (load, predict on named inputs) and the contract read
from its artifact."""
