"""Model parts used by two or more methods."""
