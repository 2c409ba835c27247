"""The pharmacy counter: the offline trust bundle, dispensing a cycle once, revoking QR tokens."""
