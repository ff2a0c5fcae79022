"""Audits of a task from the chain's events and the store alone: its history, its money to the wei, every
aggregate and a sample of units re-judged by the one judge (:mod:`node.protocol.judge`), its rejections
explained. Above the unit protocol, below the CLI (``dml audit``) and the explorer, which both import it."""
