"""workshop stage."""
