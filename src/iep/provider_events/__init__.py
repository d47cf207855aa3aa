"""What providers and remote mail servers tell IEP after a send: verified, normalized, stored, applied."""
