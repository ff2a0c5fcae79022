"""Test support, outside the production packages: Byzantine roles that plug into a node through the role registry
(``dml node run --plugin testkit.adversaries --roles cheat-noise``). Nothing under ``node`` or ``client`` imports it."""
