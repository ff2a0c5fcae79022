"""The work itself (DESIGN.md §5–§6): declarative specs, deterministic training with checkpoint trails,
verification by re-execution, robust aggregation. Pure Python + torch: never imports the chain."""
