"""What the client tells whoever listens: event records and the hooks that receive them."""
