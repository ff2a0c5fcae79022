"""Node roles: each composes the chain layer, the store and the ML engine into one job."""
