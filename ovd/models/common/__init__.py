"""Model parts used by two or more methods: alignment losses, matchers, positive-map utilities, CLIP teacher."""
